"""Frame rate and sync offset of FLOAT motion latents r->D.

FLOAT samples one motion latent per 1/25 s. Its motion is a smooth path in latent space, so any
other output rate comes from resampling that path in time, before decoding; the decoder then
renders every new frame as it renders a sampled one (no frame-interpolation model).

Resampling: the clip lasts duration = T / fps_in; at the new rate it has ceil(duration * fps_out)
frames, frame k at time k / fps_out, i.e. at position p = k * fps_in / fps_out on the old frame grid.
Between samples the path is the Catmull-Rom cubic (centred tangents, one-sided at the ends):

* it passes through the samples, so at integer p the old frame comes back exactly (at 50 fps the
  even frames are the 25 fps frames: weights (0, 1, 0, 0) add exact zeros);
* its velocity is continuous, so frames between samples (24, 30, 60 fps) do not show the kink that
  linear interpolation puts at every 25 fps sample, and it follows a smooth path with a cubic rather
  than a quadratic error;
* it can overshoot a sample by a little where the path turns sharply; that is a few percent of one
  frame's change, far inside the range the decoder sees in sampled motion.

The last old frame ends the path: positions past it (the last fraction of a frame, when the new
count rounds up) hold it. Downsampling (to 8-24 fps) picks points of the same path, without a
low-pass filter: quick lip movements between the kept frames are skipped, as a camera at that rate
would skip them.

Offset: shifting the motion by whole frames against the speech. Frames the shift leaves without
motion show the portrait's own pose r_s (`Motion.reference`, the pose Rest On Silence eases to),
never frames from the other end of the clip; the frame count stays the same.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from ..settings import check_number
from ..types import Motion

FPS_RANGE = (8.0, 60.0)  # output rates offered by the Frame Rate node, the Animate nodes and the CLI
OFFSET_MS_RANGE = (-2000.0, 2000.0)  # sync offsets offered by the nodes and the CLI
_SNAP = 1e-9  # positions this close to a whole frame are that frame (float rounding of k * a / b)


def check_output_fps(fps: float, name: str = "fps") -> float:
    """An output frame rate within FPS_RANGE, or a one-line SettingError naming `name`."""
    return check_number(name, fps, *FPS_RANGE)


def frames_for_seconds(seconds: float, fps: float) -> int:
    """ceil(seconds * fps), at least one frame (products a rounding above a whole number count as it)."""
    exact = float(seconds) * float(fps)
    return max(1, math.ceil(exact - _SNAP * max(1.0, exact)))


def resampled_length(frames: int, fps_in: float, fps_out: float, seconds: float | None = None) -> int:
    """ceil(duration * fps_out) with duration = frames / fps_in, or the shorter `seconds` when given
    (the speech's own length: FLOAT's last frame rounds it up to a whole 1/25 s)."""
    length = frames_for_seconds(frames / float(fps_in), fps_out)
    return length if seconds is None else min(length, frames_for_seconds(seconds, fps_out))


def frame_positions(frames: int, fps_in: float, fps_out: float, seconds: float | None = None) -> torch.Tensor:
    """Where each new frame falls on the old frame grid (float64), held at the last frame."""
    length = resampled_length(frames, fps_in, fps_out, seconds)
    position = torch.arange(length, dtype=torch.float64) * (float(fps_in) / float(fps_out))
    nearest = position.round()
    position = torch.where((position - nearest).abs() < _SNAP, nearest, position)
    return position.clamp(max=frames - 1)


def catmull_rom(latents: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
    """(B, T, D) latents sampled at fractional frame positions (N,) in [0, T-1] -> (B, N, D).

    Each value is w0 p[i-1] + w1 p[i] + w2 p[i+1] + w3 p[i+2] (ends repeated), the Catmull-Rom
    weights of f = position - i; at f = 0 they are exactly (0, 1, 0, 0)."""
    frames = latents.shape[1]
    if frames == 1:
        return latents[:, :1].expand(-1, position.numel(), -1).clone()
    low = position.floor().long().clamp(max=frames - 2)
    f = (position - low).to(torch.float64)
    f2, f3 = f * f, f * f * f
    weights = torch.stack([-0.5 * f3 + f2 - 0.5 * f, 1.5 * f3 - 2.5 * f2 + 1,
                           -1.5 * f3 + 2 * f2 + 0.5 * f, 0.5 * f3 - 0.5 * f2]).to(latents.dtype)
    out = torch.zeros(latents.shape[0], position.numel(), latents.shape[2], dtype=latents.dtype,
                      device=latents.device)
    for k, shift in enumerate((-1, 0, 1, 2)):
        index = (low + shift).clamp(0, frames - 1).to(latents.device)
        out += weights[k].to(latents.device)[None, :, None] * latents[:, index]
    return out


def change_frame_rate(motion: Motion, fps: float, seconds: float | None = None) -> Motion:
    """The same motion at `fps` (8 to 60): ceil(duration * fps) frames on the Catmull-Rom path through
    the old frames. seconds: the duration of the speech the motion was made from, when known (the
    count is then ceil(seconds * fps), never more than the motion covers). The old rate returns the
    motion unchanged."""
    fps = check_output_fps(fps)
    if fps == float(motion.fps):
        return replace(motion, latents=motion.latents.clone())
    position = frame_positions(motion.num_frames, motion.fps, fps, seconds)
    return replace(motion, latents=catmull_rom(motion.latents, position), fps=fps)


def offset_frames(offset_ms: float, fps: float) -> int:
    """A sync offset in milliseconds as whole frames at `fps` (rounded to the nearest frame)."""
    return round(float(offset_ms) * float(fps) / 1000.0)


def shift(motion: Motion, frames: int) -> Motion:
    """Delay (frames > 0) or advance (< 0) the motion by whole frames; frames left without motion
    show the reference pose r_s. The length is kept; 0 returns the motion unchanged."""
    latents = motion.latents
    if frames == 0:
        return replace(motion, latents=latents.clone())
    count = latents.shape[1]
    out = motion.reference.to(latents.device, latents.dtype)[:, None].expand_as(latents).clone()
    if abs(frames) < count:
        if frames > 0:
            out[:, frames:] = latents[:, :count - frames]
        else:
            out[:, :count + frames] = latents[:, -frames:]
    return replace(motion, latents=out)


def offset(motion: Motion, offset_ms: float) -> Motion:
    """`shift` by a time in milliseconds: positive delays the motion against the speech (lips
    later), negative advances it (lips earlier)."""
    offset_ms = check_number("offset_ms", offset_ms, *OFFSET_MS_RANGE)
    return shift(motion, offset_frames(offset_ms, motion.fps))


def retime(motion: Motion, fps: float, offset_ms: float = 0.0, seconds: float | None = None) -> Motion:
    """The Animate nodes' and the CLI's output timing: the motion of speech lasting `seconds` at `fps`
    (ceil(seconds * fps) frames), then shifted by `offset_ms` (after resampling, so the offset rounds
    to a frame of the output rate)."""
    return offset(change_frame_rate(motion, fps, seconds), offset_ms)
