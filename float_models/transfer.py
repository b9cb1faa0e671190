"""Decoded frames to the host while the GPU decodes the next batch (overlapped copies).

Copying 250 decoded frames to the CPU cost an H100 a quarter of the decode time when each
batch was copied synchronously (0.61 s against 0.445 s with the frames kept on the GPU,
notes: gpu.md). Here each batch goes to a pinned host buffer by a non-blocking copy on a
side stream, so the copy of batch n runs while batch n + 1 is decoded. Used by the IMAGE
output (`FloatPipeline.decode`); streaming writers can use it the same way.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable, Iterator, TypeVar

import torch

Item = TypeVar("Item", bound=tuple)
log = logging.getLogger("float_models")


def overlapped_to_host(items: Iterable[Item], dtype: torch.dtype = torch.float32,
                       prepare: Callable[[torch.Tensor], torch.Tensor] | None = None) -> Iterator[Item]:
    """Yield each item (a tuple whose last element is a tensor) with that tensor on the CPU in `dtype`.

    prepare: instead of the cast to `dtype`, a conversion run where the tensor is (e.g. to uint8
    pixels on the GPU, so that only a quarter of the bytes travel); its result is what arrives.

    CUDA tensors travel by non-blocking copies into two alternating pinned buffers, and each
    item is yielded one step late (once its copy is done), so the producer's next batch is
    already queued on the GPU. A yielded CUDA-sourced tensor is only valid until the next item
    is requested (that request starts the copy into the same buffer): copy it out (as `decode`
    does) or consume it first. Where pinned memory cannot be had (WSL often refuses it), the
    buffers are ordinary memory and each copy completes before it returns: correct, not
    overlapped. Other tensors are converted synchronously, as `tensor.to("cpu", dtype)`.
    """
    staging: list[torch.Tensor | None] = [None, None]
    pending: tuple[Item, torch.cuda.Event] | None = None
    streams: dict[torch.device, torch.cuda.Stream] = {}
    turn = 0
    for item in items:
        frames = item[-1]
        if frames.device.type != "cuda":
            if pending is not None:
                yield _finish(pending)
                pending = None
            yield (*item[:-1], prepare(frames).cpu() if prepare else frames.to("cpu", dtype))
            continue
        # Converted on the GPU: the host receives the final dtype, no CPU pass.
        frames = prepare(frames).contiguous() if prepare else frames.to(dtype)
        buffer = staging[turn % 2]
        if buffer is None or buffer.numel() < frames.numel() or buffer.dtype != frames.dtype:
            buffer = staging[turn % 2] = host_buffer(frames.numel(), frames.dtype)
        host = buffer[:frames.numel()].view(frames.shape)
        stream = streams.setdefault(frames.device, torch.cuda.Stream(frames.device))
        stream.wait_stream(torch.cuda.current_stream(frames.device))  # the batch is decoded first
        with torch.cuda.stream(stream):
            host.copy_(frames, non_blocking=True)
            done = torch.cuda.Event()
            done.record(stream)
        frames.record_stream(stream)  # the allocator must not hand its memory out before the copy
        turn += 1
        if pending is not None:
            yield _finish(pending)
        pending = ((*item[:-1], host), done)
    if pending is not None:
        yield _finish(pending)


def host_buffer(numel: int, dtype: torch.dtype) -> torch.Tensor:
    """A pinned host buffer, or an ordinary one where pinning fails (WSL, a locked-memory limit),
    with one log line: copies into it are then synchronous, still correct."""
    try:
        return torch.empty(numel, dtype=dtype, pin_memory=True)
    except RuntimeError as error:
        if not _PINNING_SAID:
            _PINNING_SAID.append(True)
            log.warning("FloatKit: pinned host memory is not available (%s); decoded frames are copied to the "
                        "host without overlap", str(error).splitlines()[0] if str(error) else error)
        return torch.empty(numel, dtype=dtype)


_PINNING_SAID: list[bool] = []


def _finish(pending: tuple[Item, "torch.cuda.Event"]) -> Item:
    item, done = pending
    done.synchronize()
    return item
