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
"""

from __future__ import annotations

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
