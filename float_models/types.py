"""Values passed between FLOAT's stages.

Frozen dataclasses, so that a node graph can cache and share them safely: an edit makes
a new value (`dataclasses.replace`) and never changes one in place.
Shape legend: B batch, T video frames, D = dim_w (512).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .settings import INTENSITY_RANGE, check_emotion_values, check_fps, check_number


@dataclass(frozen=True)
class Identity:
    """What the motion encoder extracts from a portrait.

    latent:       s_r (B, D), the identity latent the decoder starts from.
    features:     the encoder's feature pyramid, coarsest first, which the decoder warps.
    motion:       r_s (B, D), the portrait's own motion latent: `coefficients` combined with the
                  basis directions (coefficients @ Q^T), in the same space as the sampled r->D.
    coefficients: the reference motion's coordinates on the basis (B, dim_m).
    """

    latent: torch.Tensor
    features: tuple[torch.Tensor, ...]
    motion: torch.Tensor
    coefficients: torch.Tensor

    @property
    def batch_size(self) -> int:
        return int(self.latent.shape[0])

    def select(self, index: int) -> "Identity":
        """The identity of one portrait of the batch, keeping a batch axis of 1."""
        pick = slice(index, index + 1)
        return Identity(self.latent[pick], tuple(f[pick] for f in self.features),
                        self.motion[pick], self.coefficients[pick])


@dataclass(frozen=True)
class AudioFeatures:
    """Projected speech features, one per video frame.

    features: wa (B, T, dim_a).
    fps:      frames per second of `features`.
    """

    features: torch.Tensor
    fps: float

    def __post_init__(self) -> None:
        check_fps(self.fps, "speech features fps")

    @property
    def num_frames(self) -> int:
        return int(self.features.shape[1])

    @property
    def batch_size(self) -> int:
        return int(self.features.shape[0])


@dataclass(frozen=True)
class Emotion:
    """Emotion conditioning we: probabilities over EMOTIONS, for the clip (B, 7) or per frame (B, T, 7)."""

    probabilities: torch.Tensor

    def __post_init__(self) -> None:
        # NaN, infinite, absurd (1e30) or negative values render a black video and report success.
        check_emotion_values(self.probabilities)

    @classmethod
    def of_label(cls, label: str, intensity: float = 1.0) -> "Emotion":
        """A chosen emotion (emotion redirection): the one-hot of `label` scaled by `intensity`, (1, 7)."""
        from .nets.emotion_encoder import emotion_label  # the label list lives with the classifier

        return cls(emotion_label(label, intensity))

    def scaled(self, intensity: float) -> "Emotion":
        """The same emotion, stronger (> 1) or subtler (< 1); intensity within INTENSITY_RANGE."""
        return Emotion(self.probabilities * check_number("emotion intensity", intensity, *INTENSITY_RANGE))

    @property
    def per_frame(self) -> bool:
        return self.probabilities.dim() == 3


@dataclass(frozen=True)
class Motion:
    """Sampled motion latents r->D with what is needed to use them later.

    latents:   (B, T, D) float32, one motion latent per video frame.
    fps:       frame rate of `latents`.
    reference: r_s (B, D), the portrait's own motion, around which intensity edits scale.
    """

    latents: torch.Tensor
    fps: float
    reference: torch.Tensor

    def __post_init__(self) -> None:
        # One fps range everywhere: a motion at 1e-9 fps asked Render Video for 640 TB of padded speech.
        check_fps(self.fps, "motion fps")

    @property
    def num_frames(self) -> int:
        return int(self.latents.shape[1])

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps
