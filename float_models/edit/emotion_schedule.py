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

Times are plain seconds (digits and one dot, at most MAX_SECONDS) with start < end; intensities and
probabilities lie in settings.EMOTION_RANGE (0 to 2): NaN, 1e30 or negative values rendered an all-black
video. The text is read by splitting at ':' and '-' (no regex to backtrack), so parsing is linear in its
length; a bad line's error quotes at most EXCERPT characters of it.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Callable

import torch

from ..types import EMOTIONS, emotion_label
from ..settings import EMOTION_RANGE, EXCERPT, check_fps, excerpt


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


MAX_SECONDS = 1e7  # schedule times above this (116 days) are typing mistakes; they would overflow frame numbers
POLL_LINES = 4096  # lines between two calls of `should_stop` (cheap; the caller may raise to cancel)


def _seconds(text: str, side: str) -> float | None:
    """A start or end time: blank (None), or plain digits and one dot, at most MAX_SECONDS."""
    text = text.strip()
    if not text:
        return None
    digits = text.replace(".", "", 1)  # str methods, not a regex: one pass, nothing to backtrack
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"the {side} time {excerpt(text)} is not a number of seconds like 2 or 2.5")
    value = float(text)
    if value > MAX_SECONDS:
        raise ValueError(f"the {side} time {excerpt(text)} is above {MAX_SECONDS:g} s; give the time in seconds")
    return value


def _split_line(line: str) -> tuple[float, float | None, str]:
    """'start-end: emotion' -> (start, end, emotion text) by splitting at ':' and '-' (linear time)."""
    head, colon, what = line.partition(":")
    if not colon or head.count("-") != 1 or not what.strip():
        raise ValueError("write 'start-end: emotion', e.g. '0-2.5: happy', '2.5-: sad 0.8' or "
                         "'1-3: 0 0 0 0.5 0.5 0 0' (seconds)")
    start_text, _, end_text = head.partition("-")
    start, end = _seconds(start_text, "start") or 0.0, _seconds(end_text, "end")
    if end is not None and end <= start:
        raise ValueError(f"the range ends at {end:g} s, not after its start {start:g} s: write start-end with "
                         "start < end, or leave the end open ('2-: happy') to run to the end")
    return start, end, what


def parse_schedule(text: str, should_stop: Callable[[], None] | None = None) -> list[Segment]:
    """The text form (see the module docstring) -> segments; blank lines and '#' comments are skipped.

    Linear in the text's length. `should_stop` is called every POLL_LINES lines: a caller that wants
    to cancel (ComfyUI's interrupt) raises from it. Errors name the line and quote at most EXCERPT
    characters of it.
    """
    segments, known = [], {}  # one shared tensor per distinct emotion text: cheap for long schedules
    for number, raw in enumerate(str(text).splitlines(), start=1):
        if should_stop is not None and number % POLL_LINES == 0:
            should_stop()
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            start, end, what = _split_line(line)
            segments.append(Segment(start, end, _parse_emotion(what, known)))
        except ValueError as err:
            raise ValueError(f"schedule line {number} {excerpt(raw)}: {err}") from None
    return segments


def _parse_emotion(text: str, known: dict | None = None) -> torch.Tensor:
    """'happy', 'happy 0.8' or seven numbers -> (7,); `known` caches one tensor per distinct text."""
    key = text.strip()
    if known is not None and key in known:
        return known[key]
    words = key.replace(",", " ").split()
    if words[0].lower() in EMOTIONS:
        if len(words) > 2:
            raise ValueError("write a label and at most one intensity, e.g. 'happy 0.8'")
        vector = emotion_vector(words[0].lower(), _emotion_values(words[1:], "intensity")[0] if words[1:] else 1.0)
    elif len(words) != len(EMOTIONS):
        raise ValueError(f"unknown emotion {excerpt(text)}; use one of {', '.join(EMOTIONS)} or "
                         f"{len(EMOTIONS)} numbers")
    else:
        vector = torch.tensor(_emotion_values(words, "emotion value"), dtype=torch.float32)
    if known is not None:
        known[key] = vector
    return vector


def _emotion_values(words: list[str], what: str) -> list[float]:
    """Intensities or probabilities: finite numbers in EMOTION_RANGE (NaN or 1e30 renders a black video)."""
    low, high = EMOTION_RANGE
    values = []
    for word in words:
        try:
            value = float(word)
        except ValueError:
            raise ValueError(f"the {what} {excerpt(word)} is not a number; use one of {', '.join(EMOTIONS)} "
                             f"or {len(EMOTIONS)} numbers") from None
        if not low <= value <= high:  # False for NaN too
            raise ValueError(f"the {what} {excerpt(word)} must be a number from {low:g} to {high:g}")
        values.append(value)
    return values


def frame_of(seconds: float, fps: float) -> int:
    return int(round(seconds * fps))


def _owners(segments: list[Segment], num_frames: int, fps: float) -> torch.Tensor:
    """(T,) index of the segment that sets each frame, 0 for none and i + 1 for segments[i].

    Later segments win where they overlap. A sweep over the segments' start and end frames with a
    heap of the open segments: O(S log S + T), whatever the overlaps (painting each segment over the
    frames would be O(S x T) for many open-ended lines).
    """
    opens: dict[int, list[int]] = {}
    ends: list[int] = []
    for index, seg in enumerate(segments, start=1):
        first = min(num_frames, max(0, frame_of(seg.start, fps)))
        last = num_frames if seg.end is None else min(num_frames, frame_of(seg.end, fps))
        ends.append(last)
        if last > first:
            opens.setdefault(first, []).append(index)
    points = sorted(set(opens) | set(ends) | {0, num_frames})
    points = [p for p in points if p <= num_frames]
    owner_of_piece, lengths, active = [], [], []
    for here, after in zip(points, points[1:]):
        for index in opens.get(here, ()):
            heapq.heappush(active, -index)
        while active and ends[-active[0] - 1] <= here:
            heapq.heappop(active)
        owner_of_piece.append(-active[0] if active else 0)
        lengths.append(after - here)
    return torch.repeat_interleave(torch.tensor(owner_of_piece, dtype=torch.long),
                                   torch.tensor(lengths, dtype=torch.long))


def build_schedule(segments: list[Segment], num_frames: int, fps: float, default: torch.Tensor,
                   crossfade: int = 0) -> torch.Tensor:
    """Segments -> per-frame emotion (B, T, 7), B from `default` ((7,), (1, 7) or (B, 7)).

    Later segments win where segments overlap. crossfade: frames of linear ramp centred on each
    boundary where the emotion changes (0 = hard cuts). Time O(S log S + T x B).
    """
    if num_frames < 1:
        raise ValueError(f"the schedule needs at least one frame, got {num_frames}")
    default = torch.as_tensor(default, dtype=torch.float32)
    default = default.reshape(-1, default.shape[-1]) if default.dim() else default
    if default.shape[-1] != len(EMOTIONS):
        raise ValueError(f"the default emotion needs {len(EMOTIONS)} values, got shape {tuple(default.shape)}")
    # One table row per distinct emotion tensor (parse_schedule shares them between equal lines).
    rows: dict[int, int] = {}
    vectors, slots = [torch.zeros(len(EMOTIONS))], [0]
    for seg in segments:
        if id(seg.emotion) not in rows:
            rows[id(seg.emotion)] = len(vectors)
            vectors.append(seg.emotion.float().reshape(-1))
        slots.append(rows[id(seg.emotion)])
    table = torch.stack(vectors)[None].repeat(default.shape[0], 1, 1)
    table[:, 0] = default
    frames = table[:, torch.tensor(slots)[_owners(segments, num_frames, fps)]]
    return crossfade_changes(frames, crossfade) if crossfade > 0 else frames


def crossfade_changes(frames: torch.Tensor, width: int) -> torch.Tensor:
    """Replace each hard change between frames t-1 and t by a linear ramp over `width` frames centred
    on it (from the emotion before to the one after); frames away from changes are untouched.

    Where ramps overlap, the later change's ramp wins. O(T log changes), not O(changes x width): each
    frame looks up the last change whose ramp starts at or before it.
    """
    total = frames.shape[1]
    # NaN counts as a change.
    differs = (frames[:, 1:] != frames[:, :-1]).flatten(start_dim=2).any(dim=2).any(dim=0)
    changes = torch.nonzero(differs).flatten() + 1
    if not changes.numel():
        return frames.clone()
    firsts = (changes - width // 2).clamp_min(0)  # non-decreasing, as `changes` is
    k = torch.arange(total)
    which = torch.searchsorted(firsts, k, right=True) - 1
    inside = (which >= 0) & (k < firsts[which.clamp_min(0)] + width)
    k, which = k[inside], which[inside]
    t = changes[which]
    w = ((k - firsts[which] + 1).to(frames.dtype) / (width + 1))[None, :, None]
    out = frames.clone()
    out[:, k] = torch.lerp(frames[:, t - 1], frames[:, t], w)
    return out


def constant_schedule(emotion: torch.Tensor, num_frames: int) -> torch.Tensor:
    """One emotion (B, 7) on every frame: (B, T, 7) with exactly its values."""
    emotion = torch.as_tensor(emotion, dtype=torch.float32)
    return build_schedule([], num_frames, 1.0, emotion.reshape(-1, emotion.shape[-1]))


def schedule_from_text(text: str, num_frames: int, fps: float, default: torch.Tensor | str = "neutral",
                       crossfade_seconds: float = 0.0, should_stop: Callable[[], None] | None = None
                       ) -> torch.Tensor:
    """`parse_schedule` + `build_schedule`; the crossfade is given in seconds and rounded to frames.
    `should_stop` is polled while parsing and before each later stage (see `parse_schedule`)."""
    check_fps(fps)
    if not (math.isfinite(crossfade_seconds) and 0 <= crossfade_seconds <= MAX_SECONDS):
        raise ValueError(f"crossfade {crossfade_seconds!r}: give a number of seconds from 0 to {MAX_SECONDS:g}")
    base = emotion_vector(default) if isinstance(default, str) else default
    width = int(math.floor(crossfade_seconds * fps + 0.5))
    segments = parse_schedule(text, should_stop)
    if should_stop is not None:
        should_stop()
    return build_schedule(segments, num_frames, fps, base, width)
