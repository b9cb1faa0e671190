"""Time edits of FLOAT motion latents r->D: trim, concatenate, loop / ping-pong, change speed.

A motion is one latent per video frame at `Motion.fps`; these edits change which frames there are,
never what a single frame means, so the reference pose r_s travels along unchanged.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from ..types import Motion
from .latent import FRAME_RATE_ADVICE

LOOP_MODES = ("loop", "ping-pong")


def trim(motion: Motion, start: int = 0, end: int | None = None) -> Motion:
    """Frames [start, end) (end None = to the last frame; negative values count from the end)."""
    frames = motion.num_frames
    first, last, _ = slice(start, end).indices(frames)
    if last <= first:
        raise ValueError(f"trimming frames [{start}, {end}) of a {frames}-frame motion leaves nothing: "
                         f"choose start < end within 0..{frames}")
    return replace(motion, latents=motion.latents[:, first:last].clone())


def trim_seconds(motion: Motion, start: float = 0.0, end: float | None = None) -> Motion:
    """`trim` in seconds: frames from round(start * fps) up to round(end * fps)."""
    return trim(motion, round(start * motion.fps), None if end is None else round(end * motion.fps))


TRIM_UNITS = ("seconds", "frames")


def trim_span(num_frames: int, fps: float, start: float, end: float = 0.0, unit: str = "seconds") -> tuple[int, int]:
    """The Trim node's inputs -> frames [first, last): `end` 0 runs to the end; frames must be whole.

    Every input gives this or a one-line ValueError: NaN, infinities and negative values are refused,
    and frame numbers with a fraction are refused rather than cut to whole ones (0.5-0.9 used to become
    0-0, read as the whole clip).
    """
    if unit not in TRIM_UNITS:
        raise ValueError(f"trim unit {str(unit)[:40]!r}: choose one of {', '.join(TRIM_UNITS)}")
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value >= 0):
            raise ValueError(f"trim {name} {value!r}: give a finite number of {unit}, 0 or more")
        if unit == "frames" and value != int(value):
            raise ValueError(f"trim {name} {value!r}: frame numbers are whole numbers (e.g. {math.floor(value)} or "
                             f"{math.ceil(value)}), or switch the unit to seconds")
    scale = 1.0 if unit == "frames" else fps
    first = round(min(num_frames, start * scale))  # min first: 1e308 x fps is infinite
    last = num_frames if end == 0 else round(min(num_frames, end * scale))
    if last <= first:
        raise ValueError(f"trimming {start:g}-{end:g} {unit} of a {num_frames}-frame motion ({num_frames / fps:g} s) "
                         f"leaves nothing: choose start < end within the clip (end 0 = to the end)")
    return first, last


def concat(*motions: Motion) -> Motion:
    """The motions one after the other. All need the same frame rate and clip count (or one clip);
    the first motion's reference pose r_s is kept (join motions of the same portrait)."""
    if not motions:
        raise ValueError("nothing to concatenate: give at least one motion")
    first = motions[0]
    for index, other in enumerate(motions[1:], start=2):
        if other.fps != first.fps:
            raise ValueError(f"motion {index} runs at {other.fps:g} fps but motion 1 at {first.fps:g} fps: "
                             f"{FRAME_RATE_ADVICE}")
    batch = max(m.latents.shape[0] for m in motions)
    if any(m.latents.shape[0] not in (1, batch) for m in motions):
        raise ValueError(f"the motions have {[m.latents.shape[0] for m in motions]} clips: give the same number "
                         "of clips each, or one clip")
    parts = [m.latents.expand(batch, -1, -1) for m in motions]
    return Motion(torch.cat(parts, dim=1), first.fps, first.reference.expand(batch, -1).clone())


def loop_indices(frames: int, length: int, mode: str = "loop") -> torch.Tensor:
    """Frame numbers for `length` output frames: 0..T-1, 0..T-1, ... or 0..T-1, T-2..1, 0.. (ping-pong,
    without repeating the turning frames)."""
    if mode not in LOOP_MODES:
        raise ValueError(f"unknown loop mode {mode!r}; choose one of {', '.join(LOOP_MODES)}")
    steps = torch.arange(length)
    if mode == "loop" or frames == 1:
        return steps % frames
    period = 2 * (frames - 1)
    phase = steps % period
    return torch.where(phase < frames, phase, period - phase)


def loop(motion: Motion, length: int, mode: str = "loop") -> Motion:
    """Repeat (or ping-pong) the motion to exactly `length` frames; shorter lengths cut it."""
    if length < 1:
        raise ValueError(f"the looped motion needs at least 1 frame, got {length}")
    return replace(motion, latents=motion.latents[:, loop_indices(motion.num_frames, length, mode)].clone())


def resample_length(frames: int, speed: float) -> int:
    """T' = round(T / speed), at least one frame."""
    if not speed > 0:
        raise ValueError(f"speed must be above 0 (1 = unchanged, 2 = twice as fast), got {speed}")
    return max(1, round(frames / speed))


def change_speed(motion: Motion, speed: float) -> Motion:
    """Play the motion `speed` times as fast at the same frame rate: T' = round(T / speed) frames by
    linear interpolation over time, first and last frames kept. speed 1 returns it unchanged."""
    frames = motion.num_frames
    length = resample_length(frames, speed)
    if length == frames:
        return replace(motion, latents=motion.latents.clone())
    return replace(motion, latents=resample_frames(motion.latents, length))


def resample_frames(latents: torch.Tensor, length: int) -> torch.Tensor:
    """(B, T, D) -> (B, length, D), sampled at evenly spaced times from frame 0 to frame T-1."""
    frames = latents.shape[1]
    if frames == 1 or length == 1:
        return latents[:, :1].expand(-1, length, -1).clone()
    position = torch.linspace(0, frames - 1, length, dtype=torch.float64)
    low = position.floor().long().clamp(max=frames - 2)
    fraction = (position - low).to(latents.dtype)[None, :, None]
    # (1 - f) a + f b: exact at f = 0 and f = 1, so the end frames are the originals
    return (1 - fraction) * latents[:, low] + fraction * latents[:, low + 1]
