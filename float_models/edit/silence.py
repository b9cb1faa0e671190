"""Rest on silence: where the driving speech is silent, ease FLOAT's motion toward the portrait's
reference pose r_s, so the mouth closes and rests instead of moving on noise.

Video frame t at `fps` covers the audio samples [t * rate / fps, (t + 1) * rate / fps) (at 16 kHz and
25 fps: [640 t, 640 (t + 1)), FLOAT's alignment). A frame is silent when the RMS energy of its samples,
in dBFS (0 dB = full scale 1.0), is below a threshold; frames past the end of the audio are silent.
Energy comes from the raw waveform, not from wav2vec2 features.

Easing: each silent frame gets a weight w in [0, 1] that grows with its distance d from the nearest
voiced frame, w = min(1, d / (fade + 1)); m' = (1 - w) m + w r_s. Voiced frames (w = 0) are kept
exactly and frames deep in a silence (w = 1) are exactly r_s. Silences shorter than `min_silence`
frames (pauses inside words) count as voiced.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import torch

from ..types import Motion

SILENT_DB = -120.0  # what an all-zero frame reads as (instead of -inf)


POLL_FRAMES = 2048  # frames between two calls of `should_stop` (the caller raises from it to cancel)


def frame_energy_db(waveform: torch.Tensor, sample_rate: int, fps: float, num_frames: int,
                    should_stop: Callable[[], None] | None = None) -> torch.Tensor:
    """Mono waveform (B, N) or (N,) -> RMS energy per video frame in dBFS (B, T).

    Each frame's samples are widened to float64 on their own (not the whole clip: 2 GB at the audio
    limit); `should_stop` is called every POLL_FRAMES frames."""
    waveform = torch.as_tensor(waveform)
    waveform = waveform.reshape(-1, waveform.shape[-1])
    per_frame = sample_rate / fps
    energy = torch.full((waveform.shape[0], num_frames), SILENT_DB, dtype=torch.float64)
    for t in range(num_frames):
        if should_stop is not None and t % POLL_FRAMES == POLL_FRAMES - 1:
            should_stop()
        start, end = round(t * per_frame), round((t + 1) * per_frame)
        chunk = waveform[:, start:min(end, waveform.shape[-1])].double()
        if chunk.shape[-1] == 0:
            continue
        rms = chunk.pow(2).mean(dim=-1).sqrt()
        energy[:, t] = (20 * torch.log10(rms.clamp_min(1e-6))).clamp_min(SILENT_DB)
    return energy.float()


def _runs(flags: list[bool]) -> list[tuple[int, int, bool]]:
    """[(start, end, value)] of consecutive equal flags."""
    runs, start = [], 0
    for t in range(1, len(flags) + 1):
        if t == len(flags) or flags[t] != flags[start]:
            runs.append((start, t, flags[start]))
            start = t
    return runs


def silence_mask(energy_db: torch.Tensor, threshold_db: float, min_silence: int = 0) -> torch.Tensor:
    """(B, T) dBFS -> (B, T) bool, True where silent; silent runs shorter than `min_silence` frames
    are dropped."""
    silent = energy_db < threshold_db
    if min_silence <= 1:
        return silent
    for row in silent:
        for start, end, value in _runs(row.tolist()):
            if value and end - start < min_silence:
                row[start:end] = False
    return silent


def rest_weights(silent: torch.Tensor, fade: int) -> torch.Tensor:
    """(B, T) bool -> (B, T) weights: 0 on voiced frames, min(1, d / (fade + 1)) on silent frames,
    d = distance in frames to the nearest voiced frame (no voiced frame at all: weight 1)."""
    weights = torch.zeros(silent.shape)
    for b in range(silent.shape[0]):
        distance = voiced_distance(silent[b])
        if distance is None:
            weights[b] = 1.0
            continue
        weights[b] = (distance.float() / (fade + 1)).clamp(max=1.0)
    return weights


def voiced_distance(silent: torch.Tensor) -> torch.Tensor | None:
    """(T,) bool -> (T,) frames to the nearest voiced (False) frame, or None if every frame is silent.

    O(T) time and memory (a frames x voiced-frames table would be ~1.4 GB at 10 min): the index of
    the last voiced frame at or before t is a running maximum, the next one at or after t a running
    minimum from the end; the distance is the nearer of the two."""
    frames = silent.shape[0]
    steps = torch.arange(frames)
    voiced = ~silent
    if not bool(voiced.any()):
        return None
    before = torch.where(voiced, steps, torch.full_like(steps, -1)).cummax(dim=0).values
    after = torch.where(voiced, steps, torch.full_like(steps, frames)).flip(0).cummin(dim=0).values.flip(0)
    far = 2 * frames  # no voiced frame on that side
    to_before = torch.where(before >= 0, steps - before, torch.full_like(steps, far))
    to_after = torch.where(after < frames, after - steps, torch.full_like(steps, far))
    return torch.minimum(to_before, to_after)


def ease_to_reference(motion: Motion, weights: torch.Tensor) -> Motion:
    """m' = (1 - w) m + w r_s per frame; weights (B or 1, T)."""
    w = weights.to(motion.latents.device, motion.latents.dtype)[..., None]
    reference = motion.reference.to(motion.latents)[:, None]
    return replace(motion, latents=(1 - w) * motion.latents + w * reference)


def rest_on_silence(motion: Motion, waveform: torch.Tensor, sample_rate: int, threshold_db: float = -40.0,
                    fade: int = 3, min_silence: int = 5, strength: float = 1.0,
                    should_stop: Callable[[], None] | None = None) -> Motion:
    """Ease the motion to the reference pose where the speech (mono (B, N) at `sample_rate`) is silent.
    strength scales the weights (1 = fully to r_s in deep silence, 0 = no change); `should_stop` is
    polled during the per-frame energy loop (ComfyUI's Cancel)."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be between 0 and 1, got {strength}")
    energy = frame_energy_db(waveform, sample_rate, motion.fps, motion.num_frames, should_stop)
    if energy.shape[0] not in (1, motion.latents.shape[0]):
        raise ValueError(f"the audio has {energy.shape[0]} clips but the motion {motion.latents.shape[0]}: give "
                         "one audio clip per motion clip, or one for all")
    weights = rest_weights(silence_mask(energy, threshold_db, min_silence), fade) * strength
    return ease_to_reference(motion, weights)
