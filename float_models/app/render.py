"""Render FLOAT motion straight into an MP4, batch by batch, so memory does not grow with the clip.

    render_video(pipe, identity, motion, "talk.mp4", fps=25, audio=(waveform, rate))

Each decoded batch is converted to pixels (the official clamp and scale), optionally pasted back into
the full photo it was cropped from, and encoded at once by `VideoWriter`; only one batch of frames
exists at any time (plus the encoder's few frames of look-ahead). Clips of a batch of portraits or
speech items follow one another in the one video. The file appears only when it is complete: an
error, or a callback that raises (a host's Cancel), leaves no file behind.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from ..edit.paste_back import paste_back, paste_mask
from ..preview import FramePreview
from ..transfer import overlapped_to_host
from ..types import CropBox, Motion
from .video import DEFAULT_CRF, MediaError, VideoWriter, check_video_space

Callback = Callable[[int, int], None]


@dataclass(frozen=True)
class PasteInto:
    """Paste each clip's frames back into its photo: originals (H, W, 3) float in [0, 1], one per clip
    (or one for all), the crop box each clip's portrait was cut with, and the soft edge in pixels."""

    originals: Sequence[torch.Tensor]
    boxes: Sequence[CropBox]
    feather: int = 16

    def __post_init__(self) -> None:
        if not self.originals or not self.boxes:
            raise MediaError("paste-back needs at least one original picture and one crop box")
        sizes = {(int(o.shape[1]), int(o.shape[0])) for o in self.originals}
        if len(sizes) != 1:
            raise MediaError(f"the original pictures have different sizes {sorted(sizes)}: one video needs one "
                             "frame size, so paste back into pictures of the same size")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the pasted frames."""
        first = self.originals[0]
        return int(first.shape[1]), int(first.shape[0])

    def apply(self, clip: int, frames: torch.Tensor) -> torch.Tensor:
        """Frames (N, S, S, 3) in [0, 1] of clip `clip` -> full pictures (N, H, W, 3)."""
        original = self.originals[min(clip, len(self.originals) - 1)]
        box = self.boxes[min(clip, len(self.boxes) - 1)]
        return paste_back(frames, original[..., :3], box, self.feather)

    def mask(self, clip: int) -> torch.Tensor:
        """(H, W) in [0, 1]: how much of each pixel of clip `clip`'s frames comes from the animation."""
        return paste_mask(self.boxes[min(clip, len(self.boxes) - 1)], self.feather)


def render_video(pipe: Any, identity: Any, motion: Motion, path: str | os.PathLike, fps: float,
                 audio: tuple[Any, int] | None = None, crf: int = DEFAULT_CRF, batch_size: int | None = None,
                 callback: Callback | None = None, paste: PasteInto | None = None,
                 preset: str = "medium", preview: FramePreview | None = None) -> Path:
    """Decode a Motion (latents (B, T, D)) for `identity` into an MP4 at `path`; returns the path.

    audio: (waveform (C, N) or (N,), sample rate), muxed and cut (or padded) to the frames.
    batch_size: frames decoded at once (None: from free memory, `auto_decode_batch_size`).
    callback(done, total) after every batch; it may raise to cancel (no file is left then).
    paste: put the frames back into the full photos (`PasteInto`) before encoding.
    preview: offered each batch's last frame as written (pasted or not) before `callback` is called.
    Refuses with OSError(ENOSPC) before decoding anything when the disk under `path` surely cannot hold
    the video (a generous size estimate, `estimate_video_bytes`).
    """
    clips = max(identity.batch_size, motion.latents.shape[0])
    total = clips * motion.num_frames
    side = pipe.config.input_size
    width, height = paste.size if paste is not None else (side, side)
    if audio is None:
        check_video_space(path, total, width, height, crf)
    else:
        channels = 1 if getattr(audio[0], "ndim", 1) == 1 else int(audio[0].shape[0])
        check_video_space(path, total, width, height, crf, total / fps, channels)
    done = 0
    # Converted where the frames were made (uint8 pixels cross to the host at a quarter of the bytes);
    # on a GPU the copy of one batch overlaps the decoding of the next.
    batches = overlapped_to_host(pipe.decode_batches(identity, motion, batch_size),
                                 prepare=_to_pixels if paste is None else _to_unit_image)
    with VideoWriter(path, fps, width, height, audio=audio, crf=crf, preset=preset) as video:
        for clip, _, frames in batches:
            pictures = frames if paste is None else paste.apply(clip, frames)
            video.write(pictures)  # consumed before the next
            done += frames.shape[0]
            if preview is not None:
                preview.offer(pictures, "pixels" if paste is None else "unit")
            if callback is not None:
                callback(done, total)
    return Path(path)


def _to_pixels(frames: torch.Tensor) -> torch.Tensor:
    """Raw decoder frames (N, 3, S, S) -> uint8 (N, S, S, 3): the official clamp, scale and truncation
    (the same operations as `frames_to_uint8`)."""
    return ((frames.detach().float().clamp(-1, 1) + 1) / 2 * 255).byte().permute(0, 2, 3, 1)


def _to_unit_image(frames: torch.Tensor) -> torch.Tensor:
    """-> float (N, S, S, 3) in [0, 1], as the IMAGE path has them before Paste Back (which the writer
    then scales and truncates as Create Video does)."""
    return ((frames.detach().float().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1)
