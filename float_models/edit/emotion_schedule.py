"""Emotion over time: a schedule of emotions per time range -> the per-frame emotion condition we
(B, T, 7) that FLOAT's sampler accepts in place of one emotion per clip.

A schedule is a list of `Segment`s (start and end in seconds, an emotion label or a probability
vector). Frames no segment covers take the `default` emotion; with a crossfade, each boundary between
two different emotions becomes a linear ramp of that many frames centred on it. A schedule that is one
emotion everywhere gives that emotion's exact values on every frame, so sampling with it reproduces
sampling with the plain (B, 7) emotion bit for bit.

Text form (one segment per line, times in seconds, an open end runs to the clip's end):

    0-2.5: happy
    2.5-4: sad 0.8                   (label and intensity)
    4-: 0.1 0 0 0.6 0.3 0 0          (7 probabilities, order: angry disgust fear happy neutral sad surprise)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch

from ..nets.emotion_encoder import EMOTIONS, emotion_label


@dataclass(frozen=True)
class Segment:
    """One emotion from `start` to `end` seconds (end None = to the end of the clip); emotion (7,)."""

    start: float
    end: float | None
    emotion: torch.Tensor


def emotion_vector(spec: str | torch.Tensor, intensity: float = 1.0) -> torch.Tensor:
    """A label ("happy"), or 7 probabilities -> (7,) float32."""
    if isinstance(spec, str):
        return emotion_label(spec, intensity)[0]
    vector = torch.as_tensor(spec, dtype=torch.float32).flatten()
    if vector.numel() != len(EMOTIONS):
        raise ValueError(f"an emotion needs {len(EMOTIONS)} values ({', '.join(EMOTIONS)}), got {vector.numel()}")
    return vector * intensity if intensity != 1.0 else vector


_LINE = re.compile(r"^\s*([0-9.]+)?\s*-\s*([0-9.]+)?\s*:\s*(.+?)\s*$")


def parse_schedule(text: str) -> list[Segment]:
    """The text form (see the module docstring) -> segments; blank lines and '#' comments are skipped."""
    segments = []
    for number, raw in enumerate(str(text).splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.match(line)
        if not match:
            raise ValueError(f"schedule line {number} {raw.strip()!r}: write 'start-end: emotion', e.g. "
                             "'0-2.5: happy', '2.5-: sad 0.8' or '1-3: 0 0 0 0.5 0.5 0 0' (seconds)")
        start, end, what = match.groups()
        try:
            segments.append(Segment(float(start or 0), None if end is None else float(end), _parse_emotion(what)))
        except ValueError as err:
            raise ValueError(f"schedule line {number} {raw.strip()!r}: {err}") from None
    return segments


def _parse_emotion(text: str) -> torch.Tensor:
    words = text.replace(",", " ").split()
    if words[0].lower() in EMOTIONS:
        if len(words) > 2:
            raise ValueError("write a label and at most one intensity, e.g. 'happy 0.8'")
        return emotion_vector(words[0], float(words[1]) if len(words) > 1 else 1.0)
    try:
        return emotion_vector(torch.tensor([float(w) for w in words]))
    except ValueError:
        raise ValueError(f"unknown emotion {text!r}; use one of {', '.join(EMOTIONS)} or "
                         f"{len(EMOTIONS)} numbers") from None


def frame_of(seconds: float, fps: float) -> int:
    return int(round(seconds * fps))


def build_schedule(segments: list[Segment], num_frames: int, fps: float, default: torch.Tensor,
                   crossfade: int = 0) -> torch.Tensor:
    """Segments -> per-frame emotion (B, T, 7), B from `default` ((7,), (1, 7) or (B, 7)).

    Later segments win where segments overlap. crossfade: frames of linear ramp centred on each
    boundary where the emotion changes (0 = hard cuts).
    """
    if num_frames < 1:
        raise ValueError(f"the schedule needs at least one frame, got {num_frames}")
    default = torch.as_tensor(default, dtype=torch.float32)
    default = default.reshape(-1, default.shape[-1]) if default.dim() else default
    if default.shape[-1] != len(EMOTIONS):
        raise ValueError(f"the default emotion needs {len(EMOTIONS)} values, got shape {tuple(default.shape)}")
    frames = default[:, None].repeat(1, num_frames, 1)
    for seg in segments:
        first = max(0, frame_of(seg.start, fps))
        last = num_frames if seg.end is None else min(num_frames, frame_of(seg.end, fps))
        if last > first:
            frames[:, first:last] = seg.emotion.to(frames)
    return crossfade_changes(frames, crossfade) if crossfade > 0 else frames


def crossfade_changes(frames: torch.Tensor, width: int) -> torch.Tensor:
    """Replace each hard change between frames t-1 and t by a linear ramp over `width` frames centred
    on it (from the emotion before to the one after); frames away from changes are untouched."""
    out = frames.clone()
    total = frames.shape[1]
    # Vectorised (a per-frame Python comparison is slow at an hour of frames); NaN counts as a change.
    differs = (frames[:, 1:] != frames[:, :-1]).flatten(start_dim=2).any(dim=2).any(dim=0)
    changes = (torch.nonzero(differs).flatten() + 1).tolist()
    for t in changes:
        before, after = frames[:, t - 1], frames[:, t]
        first = max(0, t - width // 2)
        for k in range(first, min(total, first + width)):
            w = (k - first + 1) / (width + 1)
            out[:, k] = (1 - w) * before + w * after
    return out


def constant_schedule(emotion: torch.Tensor, num_frames: int) -> torch.Tensor:
    """One emotion (B, 7) on every frame: (B, T, 7) with exactly its values."""
    emotion = torch.as_tensor(emotion, dtype=torch.float32)
    return build_schedule([], num_frames, 1.0, emotion.reshape(-1, emotion.shape[-1]))


def schedule_from_text(text: str, num_frames: int, fps: float, default: torch.Tensor | str = "neutral",
                       crossfade_seconds: float = 0.0) -> torch.Tensor:
    """`parse_schedule` + `build_schedule`; the crossfade is given in seconds and rounded to frames."""
    base = emotion_vector(default) if isinstance(default, str) else default
    width = int(math.floor(crossfade_seconds * fps + 0.5))
    return build_schedule(parse_schedule(text), num_frames, fps, base, width)
