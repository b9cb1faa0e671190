"""Motion from a driving video: FLOAT motion latents taken from the frames of a video instead of
sampled from speech (the motion auto-encoder's encoder, as in LIA's video-driven reenactment).

Each frame's motion is what the encoder reads as that frame's own pose: r_frame = Q fc(E(frame)),
i.e. `pipe.encode_image(frame).motion`. Two ways to drive a portrait with it:

* "relative" (LIA's relative transfer): r_t = r_s + (r_frame_t - r_frame_0), the portrait starts in
  its own pose and follows the video's changes of pose;
* "absolute": r_t = r_frame_t, the portrait takes the video's poses as they are.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..settings import check_fps
from ..types import Motion

MODES = ("relative", "absolute")


def encode_frame_motions(pipe, frames: torch.Tensor, batch_size: int = 8,
                         callback: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """Frames (N, 3, H, W) in [-1, 1] -> each frame's reference motion (N, D) float32 on the CPU,
    encoded `batch_size` frames at a time; callback(done, total) after each batch."""
    if frames.dim() != 4 or frames.shape[1] != 3:
        raise ValueError(f"expected video frames as (frames, 3, height, width), got shape {tuple(frames.shape)}")
    if frames.shape[0] == 0:
        raise ValueError("the driving video has no frames")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    total = frames.shape[0]
    motions = []
    for start in range(0, total, batch_size):
        motions.append(pipe.encode_image(frames[start:start + batch_size]).motion.detach().to("cpu", torch.float32))
        if callback is not None:
            callback(min(start + batch_size, total), total)
    return torch.cat(motions)


def driving_motion(frame_motions: torch.Tensor, reference: torch.Tensor, fps: float,
                   mode: str = "relative") -> Motion:
    """Per-frame motions (N, D) -> a one-clip Motion (1, N, D) for the portrait whose r_s is `reference`."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    reference = reference.detach().to("cpu", torch.float32).reshape(-1, frame_motions.shape[-1])[:1]
    if mode == "relative":
        latents = reference + (frame_motions - frame_motions[:1])
    else:
        latents = frame_motions.clone()
    return Motion(latents[None], float(fps), reference.clone())


def motion_from_video(pipe, frames: torch.Tensor, reference: torch.Tensor | None = None, fps: float = 25.0,
                      mode: str = "relative", batch_size: int = 8,
                      callback: Callable[[int, int], None] | None = None) -> Motion:
    """Encode a driving video into FLOAT motion for a portrait (its r_s = `reference`, e.g.
    `pipe.encode_image(portrait).motion`). Without a reference, the first frame's pose is used."""
    check_fps(fps)  # before encoding every frame, not after
    motions = encode_frame_motions(pipe, frames, batch_size, callback)
    return driving_motion(motions, motions[:1] if reference is None else reference, fps, mode)
