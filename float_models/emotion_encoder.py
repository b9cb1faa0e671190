"""Emotion encoder: speech -> probabilities of seven emotions (paper, Sec. 3.2).

FLOAT conditions its motion on an emotion vector we (7 probabilities), either predicted
from the speech by a wav2vec2 speech-emotion classifier
(r-f/wav2vec-english-speech-emotion-recognition: wav2vec2-large, mean pooling over time,
a tanh classification head) or a one-hot label chosen by the user.

The classifier sees the whole normalised 16 kHz waveform, unpadded, and gives one emotion
for the clip. Its weights come from its own HuggingFace folder, in the layout
`wav2vec2.*` + `classifier.dense` / `classifier.out_proj`, which this module mirrors.
"""

from __future__ import annotations

import torch
from torch import nn

EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def emotion_label(label: str, intensity: float = 1.0) -> torch.Tensor:
    """One-hot emotion (1, 7) for `label`, scaled by `intensity` (1 is the official one-hot)."""
    key = str(label).strip().lower()
    if key not in EMOTIONS:
        raise ValueError(f"unknown emotion {label!r}; choose one of: {', '.join(EMOTIONS)}")
    onehot = torch.zeros(1, len(EMOTIONS))
    onehot[0, EMOTIONS.index(key)] = float(intensity)
    return onehot


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

    def forward(self, speech: torch.Tensor) -> torch.Tensor:
        """Normalised 16 kHz speech (B, N) -> emotion probabilities (B, 7)."""
        states = self.wav2vec2(speech, return_dict=True).last_hidden_state
        return torch.softmax(self.classifier(states.mean(dim=1)), dim=-1)
