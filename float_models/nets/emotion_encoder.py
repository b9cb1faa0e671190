"""Emotion encoder: speech -> probabilities of seven emotions (paper, Sec. 3.2).

FLOAT conditions its motion on an emotion vector we (7 probabilities), either predicted
from the speech by a wav2vec2 speech-emotion classifier
(r-f/wav2vec-english-speech-emotion-recognition: wav2vec2-large, mean pooling over time,
a tanh classification head) or a one-hot label chosen by the user.

The classifier sees the whole normalised 16 kHz waveform, unpadded, and gives one emotion
for the clip. Its weights come from its own HuggingFace folder, in the layout
`wav2vec2.*` + `classifier.dense` / `classifier.out_proj`, which this module mirrors.

Long speech (windowing): wav2vec2-large attends over the whole clip (24 layers, 16 heads,
50 tokens per second), so memory grows with the square of its length. Beyond a window the
clip is split into near-equal, non-overlapping windows and the per-window mean hidden states
are averaged, weighted by their number of frames, before the classifier. With the whole
clip's hidden states this weighted mean *is* the official mean pooling, so it is the
closest stand-in; averaging logits or probabilities instead would average a non-linear
function of the windows and drift from the official prediction even with perfect states.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..types import EMOTIONS  # the seven labels, in the classifier's output order


class ClassificationHead(nn.Module):
    def __init__(self, hidden: int, labels: int = len(EMOTIONS)):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.out_proj = nn.Linear(hidden, labels)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.out_proj(torch.tanh(self.dense(pooled)))


class EmotionEncoder(nn.Module):
    """wav2vec2 tower + mean pooling + classifier (state-dict layout of the r-f checkpoint)."""

    def __init__(self, wav2vec2: nn.Module, hidden: int, labels: int = len(EMOTIONS)):
        super().__init__()
        self.wav2vec2 = wav2vec2
        self.classifier = ClassificationHead(hidden, labels)

    def forward(self, speech: torch.Tensor, window: int | None = None) -> torch.Tensor:
        """Normalised 16 kHz speech (B, N) -> emotion probabilities (B, 7).

        window: at most this many samples per wav2vec2 pass (None: the whole clip, official).
        """
        return torch.softmax(self.classifier(self.pooled(speech, window)), dim=-1)

    def pooled(self, speech: torch.Tensor, window: int | None = None) -> torch.Tensor:
        """Mean of the last hidden states over time (B, hidden), window by window if needed."""
        if window is None or speech.shape[-1] <= window:
            return self.wav2vec2(speech, return_dict=True).last_hidden_state.mean(dim=1)
        count = math.ceil(speech.shape[-1] / window)
        bounds = [round(k * speech.shape[-1] / count) for k in range(count + 1)]
        total, frames = None, 0
        for a, b in zip(bounds, bounds[1:]):
            states = self.wav2vec2(speech[:, a:b], return_dict=True).last_hidden_state
            part = states.float().sum(dim=1)
            total = part if total is None else total + part
            frames += states.shape[1]
        return (total / frames).to(speech.dtype)
