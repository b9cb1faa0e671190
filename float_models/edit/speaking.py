"""Which motion directions speak: the correlation of each basis direction with the speech's loudness.

FLOAT's motion has 20 orthonormal directions (see `latent`). Some of them open and close the mouth
with the syllables; the rest carry head sway, blinks and slow expression. The motion tells which
are which: a speaking direction's coefficient c_m(t) rises and falls with the loudness of the speech
frame by frame. For each direction this module gives Pearson's correlation r_m between c_m(t) and
the loudness l(t) of each video frame, and calls a direction *speaking* when |r_m| reaches a
threshold (the sign only says which way the basis vector points).

Loudness per frame is the RMS energy of the frame's samples in dBFS (`silence.frame_energy_db`,
FLOAT's frame alignment) floored at LOUDNESS_FLOOR_DB, so that digital silence (-120 dB) does not
outweigh the differences between syllables. From speech features alone (no waveform), a stand-in
is used: each frame's distance from the clip's average feature (speech frames differ from the
mean of a clip more than pauses do); with a waveform at hand, prefer the waveform.

A calm head then scales the directions that are not speaking toward the portrait's pose and keeps
the speaking ones (`calm_head`). The rule was checked on constructed motion only (directions made
to follow a loudness curve, others not): rule-made test weights cannot show real lips.
"""

from __future__ import annotations

import torch

from ..types import AudioFeatures, Motion
from .latent import project, scale_directions
from .silence import frame_energy_db

LOUDNESS_FLOOR_DB = -60.0
SPEAKING_THRESHOLD = 0.3  # |r| from which a direction counts as speaking
STILL_SHARE = 1e-4  # a direction moving less than this share of the most moving one counts as still
SPEAKING, NOT_SPEAKING = "speaking", "not speaking"


def loudness_of_audio(waveform: torch.Tensor, sample_rate: int, fps: float, frames: int) -> torch.Tensor:
    """Mono speech (B, N) -> loudness per video frame (B, T) in dBFS, floored at LOUDNESS_FLOOR_DB."""
    return frame_energy_db(waveform, sample_rate, fps, frames).clamp_min(LOUDNESS_FLOOR_DB)


def loudness_of_features(audio: AudioFeatures, fps: float, frames: int) -> torch.Tensor:
    """Speech features (B, T_a, dim_a) -> a per-frame speech-activity curve (B, T) at `fps`: the distance
    of each feature from the clip's mean, sampled at the motion's frame times (nearest feature)."""
    features = audio.features.float()
    activity = (features - features.mean(dim=1, keepdim=True)).norm(dim=-1)
    times = torch.arange(frames, dtype=torch.float64) / float(fps)
    index = (times * float(audio.fps)).round().long().clamp(0, features.shape[1] - 1)
    return activity[:, index]


def direction_correlation(motion: Motion, basis: torch.Tensor, loudness: torch.Tensor) -> torch.Tensor:
    """Pearson correlation (M,) of each direction's coefficient with the loudness over all frames and clips.

    loudness: (B or 1, T) per frame, T = the motion's frame count. A loudness that does not change,
    or a direction that (next to the others) does not move, has no correlation (0)."""
    coefficients = project(motion.latents, basis).coefficients.double()  # (B, T, M)
    curve = torch.as_tensor(loudness, dtype=torch.float64)
    if curve.dim() == 1:
        curve = curve[None]
    if curve.shape[-1] != coefficients.shape[1]:
        raise ValueError(f"the loudness has {curve.shape[-1]} frames but the motion {coefficients.shape[1]}: "
                         "give the speech the motion was made from, at the motion's frame rate")
    if curve.shape[0] not in (1, coefficients.shape[0]):
        raise ValueError(f"the speech has {curve.shape[0]} clips but the motion {coefficients.shape[0]}: give one "
                         "speech clip per motion clip, or one for all")
    coefficients, curve = torch.broadcast_tensors(coefficients, curve[..., None])
    x = coefficients.reshape(-1, coefficients.shape[-1])
    y = curve.reshape(-1, curve.shape[-1])
    x, y = x - x.mean(dim=0), y - y.mean(dim=0)
    # A direction that does not move (beyond float32 rounding of the projection) has no correlation:
    # its rounding noise follows the others and would correlate as well as they do.
    moving = x.norm(dim=0) > STILL_SHARE * x.norm(dim=0).max()
    spread = x.norm(dim=0) * y.norm(dim=0)
    correlation = (x * y).sum(dim=0) / spread.clamp_min(1e-300)
    return torch.where(moving & (spread > 0), correlation, torch.zeros_like(correlation)).float()


def speaking_directions(correlation: torch.Tensor, threshold: float = SPEAKING_THRESHOLD) -> list[int]:
    """The directions whose |correlation| reaches `threshold`, in index order."""
    return [int(i) for i in torch.nonzero(correlation.abs() >= threshold).flatten()]


def choose_directions(choice: str, correlation: torch.Tensor,
                      threshold: float = SPEAKING_THRESHOLD) -> list[int] | None:
    """'speaking' / 'not speaking' -> those directions; any other text -> None (an index list)."""
    word = str(choice).strip().lower()
    if word not in (SPEAKING, NOT_SPEAKING):
        return None
    speaking = speaking_directions(correlation, threshold)
    if word == SPEAKING:
        return speaking
    return [i for i in range(correlation.numel()) if i not in speaking]


def calm_head(motion: Motion, basis: torch.Tensor, loudness: torch.Tensor, head_motion: float = 0.3,
              threshold: float = SPEAKING_THRESHOLD) -> Motion:
    """Scale the directions that do not follow the loudness by `head_motion` around the portrait's
    pose (0 = still head, 1 = unchanged) and keep the speaking ones and the residual as they are."""
    if not head_motion >= 0:
        raise ValueError(f"head_motion must be 0 or more (1 = unchanged, 0 = still head), got {head_motion}")
    if head_motion == 1.0:
        return scale_directions(motion, basis, [1.0] * basis.shape[1])
    speaking = set(speaking_directions(direction_correlation(motion, basis, loudness), threshold))
    gains = [1.0 if index in speaking else float(head_motion) for index in range(basis.shape[1])]
    return scale_directions(motion, basis, gains)


def correlation_report(correlation: torch.Tensor, threshold: float = SPEAKING_THRESHOLD,
                       source: str = "speech loudness") -> str:
    """One line per direction, strongest |r| first, with the speaking ones marked."""
    order = torch.argsort(correlation.abs(), descending=True).tolist()
    speaking = set(speaking_directions(correlation, threshold))
    lines = [f"correlation of each direction with the {source} per frame (|r| >= {threshold:g}: speaking):"]
    for index in order:
        mark = "  speaking" if index in speaking else ""
        lines.append(f"direction {index:2d}: r = {float(correlation[index]):+.3f}{mark}")
    lines.append(f"speaking directions: {', '.join(map(str, sorted(speaking))) or 'none'}")
    return "\n".join(lines)
