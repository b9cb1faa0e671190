"""Audio encoder: speech -> one feature wa per video frame (paper, Sec. 3.2).

The speech (16 kHz, normalised) goes through wav2vec2-base-960h. Its convolutional
features (about 50 per second) are resampled linearly to the video frame rate *before*
the transformer, so the transformer runs at 25 tokens per second. The 12 transformer
layers' hidden states are concatenated per frame (12 x 768 = 9216) and projected to
dim_a = 512 by `audio_projection` (Linear, LayerNorm, SiLU).

The wav2vec2 tower is HuggingFace's `Wav2Vec2Model`, used through public behaviour only: a
forward hook on its feature extractor does the resampling, and `output_hidden_states`
gives the layers. Its weights are not part of float.pth; only the projection is
(checkpoint prefix `audio_encoder.audio_projection.`).

Long speech (windowing). The official encoder sees the whole clip at once: wav2vec2's
transformer attends over every frame, so its memory grows with the square of the clip's
length (and conv layer 0's GroupNorm normalises over the whole clip). Clips longer than a
window are therefore encoded in overlapping windows (`windowed_audio_features`): each
window's core frames get `context` frames of audio on both sides, and adjacent windows are
crossfaded linearly over `fade` frames centred on their seam, so features stay continuous.
Clips up to one window take the unchanged, official path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


class AudioEncoder(nn.Module):
    """The FLOAT-trained part of the audio encoder: the per-frame projection."""

    def __init__(self, dim_a: int = 512, layers: int = 12, hidden: int = 768):
        super().__init__()
        self.audio_projection = nn.Sequential(nn.Linear(layers * hidden, dim_a), nn.LayerNorm(dim_a), nn.SiLU())

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """(B, T, layers * hidden) -> wa (B, T, dim_a)."""
        return self.audio_projection(hidden_states)


def frame_hidden_states(wav2vec2: nn.Module, speech: torch.Tensor, num_frames: int,
                        samples_per_frame: int) -> torch.Tensor:
    """Normalised 16 kHz speech (B, N) -> the transformer layers' states (B, T, layers * hidden).

    The speech is padded to T frames' worth of samples by repeating its last sample, then the
    conv features are resampled to exactly T steps (official behaviour; with this padding the
    linear resampling picks every other conv frame).
    """
    target = num_frames * samples_per_frame
    if speech.shape[-1] % target != 0:
        speech = F.pad(speech[:, None], (0, target - speech.shape[-1]), mode="replicate")[:, 0]

    def to_frame_rate(module: nn.Module, inputs: tuple, conv_features: torch.Tensor) -> torch.Tensor:
        return F.interpolate(conv_features, size=num_frames, mode="linear", align_corners=True)

    hook = wav2vec2.feature_extractor.register_forward_hook(to_frame_rate)
    try:
        out = wav2vec2(speech, output_hidden_states=True, return_dict=True)
    finally:
        hook.remove()
    layers = torch.stack(out.hidden_states[1:], dim=2)  # (B, T, layers, hidden); [0] is the embedding
    return layers.flatten(2)


@dataclass(frozen=True)
class FrameWindow:
    """Frames [start, stop) go through the encoder; frames [core_start, core_stop) are its own."""

    start: int
    stop: int
    core_start: int
    core_stop: int


def plan_windows(total: int, window: int, context: int) -> list[FrameWindow]:
    """Cover [0, total) with ceil(total / window) near-equal cores, each widened by `context`."""
    if window < 1 or context < 0:
        raise ValueError(f"window ({window}) must be >= 1 frame and context ({context}) >= 0")
    count = max(1, math.ceil(total / window))
    bounds = [round(k * total / count) for k in range(count + 1)]
    return [FrameWindow(max(0, a - context), min(total, b + context), a, b) for a, b in zip(bounds, bounds[1:])]


def seam_weights(win: FrameWindow, total: int, fade: int) -> torch.Tensor:
    """Crossfade weights over win.start..win.stop: 1 on the core, linear ramps of `fade` frames
    centred on each inner seam (the neighbour's ramp is the complement, so weights sum to 1)."""
    t = torch.arange(win.start, win.stop, dtype=torch.float64) + 0.5
    weight = torch.ones_like(t)
    if fade > 0:
        if win.core_start > 0:
            weight *= ((t - (win.core_start - fade / 2)) / fade).clamp(0, 1)
        if win.core_stop < total:
            weight *= (((win.core_stop + fade / 2) - t) / fade).clamp(0, 1)
    else:
        weight *= ((t > win.core_start) & (t < win.core_stop)).double()
    return weight.float()


def windowed_audio_features(wav2vec2: nn.Module, projection: nn.Module, speech: torch.Tensor, num_frames: int,
                            samples_per_frame: int, window: int, context: int, fade: int) -> torch.Tensor:
    """wa (B, T, dim_a) for long speech, window by window, projected as it goes.

    Only one window's wav2vec2 states (12 x 768 per frame) exist at a time, so memory is
    bounded by the window, not the clip. `fade` must not exceed 2 * context.
    """
    if fade > 2 * context:
        raise ValueError(f"the crossfade ({fade} frames) needs at least half of it ({fade / 2}) as context "
                         f"on each side, got context={context}")
    target = num_frames * samples_per_frame
    if speech.shape[-1] != target:
        speech = F.pad(speech[:, None], (0, target - speech.shape[-1]), mode="replicate")[:, 0]
    out = weights = None
    for win in plan_windows(num_frames, window, context):
        piece = speech[:, win.start * samples_per_frame: win.stop * samples_per_frame]
        states = frame_hidden_states(wav2vec2, piece, win.stop - win.start, samples_per_frame)
        param = next(projection.parameters())
        features = projection(states.to(param.device, param.dtype)).float()
        if out is None:
            out = features.new_zeros(features.shape[0], num_frames, features.shape[-1])
            weights = features.new_zeros(num_frames)
        w = seam_weights(win, num_frames, fade).to(features.device)
        out[:, win.start:win.stop] += features * w[:, None]
        weights[win.start:win.stop] += w
    return out / weights[:, None]
