"""transfer.overlapped_to_host: every batch arrives on the host, in order, in the asked dtype."""

from __future__ import annotations

import pytest
import torch

from float_models.transfer import overlapped_to_host


def _batches(device: str) -> list[tuple[int, int, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    sizes = [4, 4, 3]  # a short last batch reuses part of a staging buffer
    return [(0, 4 * k, torch.randn(n, 3, 8, 8, generator=generator).to(device, torch.bfloat16)
             .contiguous(memory_format=torch.channels_last)) for k, n in enumerate(sizes)]


def _pixels(frames: torch.Tensor) -> torch.Tensor:
    return ((frames.float().clamp(-1, 1) + 1) * 127.5).byte().permute(0, 2, 3, 1)


def _check(device: str) -> None:
    batches = _batches(device)
    got = [(b, start, frames.clone()) for b, start, frames in overlapped_to_host(iter(batches))]
    assert [(b, s) for b, s, _ in got] == [(b, s) for b, s, _ in batches]
    for (_, _, host), (_, _, frames) in zip(got, batches):
        assert host.device.type == "cpu" and host.dtype == torch.float32
        assert torch.equal(host, frames.float().cpu())
    # A conversion on the device (uint8 pixels, channels last) arrives as converted.
    pixels = [frames.clone() for _, _, frames in overlapped_to_host(iter(batches), prepare=_pixels)]
    for host, (_, _, frames) in zip(pixels, batches):
        assert host.device.type == "cpu" and host.dtype == torch.uint8
        assert torch.equal(host, _pixels(frames).cpu())


def test_cpu_batches_pass_through_converted():
    _check("cpu")


def test_empty_stream_yields_nothing():
    assert list(overlapped_to_host(iter([]))) == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (run on a GPU machine)")
def test_cuda_batches_arrive_through_pinned_buffers():
    _check("cuda")


def test_pinning_that_fails_falls_back_to_ordinary_memory(monkeypatch, caplog):
    """Row 9: WSL refuses pinned memory; the overlapped copy must still get a buffer."""
    import logging

    from float_models import transfer

    empty = torch.empty

    def refuse_pinning(*args, pin_memory=False, **kwargs):  # noqa: ANN002, ANN003
        if pin_memory:
            raise RuntimeError("CUDA error: out of memory (cudaHostAlloc)")
        return empty(*args, **kwargs)

    monkeypatch.setattr(torch, "empty", refuse_pinning)
    monkeypatch.setattr(transfer, "_PINNING_SAID", [])
    with caplog.at_level(logging.WARNING, logger="float_models"):
        first = transfer.host_buffer(16, torch.uint8)
        second = transfer.host_buffer(8, torch.float32)
    assert first.shape == (16,) and second.dtype == torch.float32 and not first.is_pinned()
    assert sum("pinned host memory is not available" in r.getMessage() for r in caplog.records) == 1
