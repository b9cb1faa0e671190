"""Values passed between FLOAT's stages.

Frozen dataclasses, so that a node graph can cache and share them safely: an edit makes
a new value (`dataclasses.replace`) and never changes one in place.
Shape legend: B batch, T video frames, D = dim_w (512).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .settings import INTENSITY_RANGE, check_emotion_values, check_fps, check_number, excerpt

EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")  # the classifier's output order
# "Recognise the emotion from the speech", as the command line ("speech") and the nodes' combo
# ("from speech", kept as shipped workflows store it) spell it.
FROM_SPEECH_CLI, FROM_SPEECH_NODE = "speech", "from speech"


def is_from_speech(choice: str) -> bool:
    """True for either spelling of the emotion-from-speech choice (else it is a label)."""
    return str(choice).strip().lower() in (FROM_SPEECH_CLI, FROM_SPEECH_NODE)


def emotion_label(label: str, intensity: float = 1.0) -> torch.Tensor:
    """One-hot emotion (1, 7) for `label`, scaled by `intensity` (1 is the official one-hot)."""
    key = str(label).strip().lower()
    if key not in EMOTIONS:
        raise ValueError(f"unknown emotion {excerpt(key)}; choose one of: {', '.join(EMOTIONS)}")
    intensity = check_number("emotion intensity", intensity, *INTENSITY_RANGE)  # NaN or 1e30 renders black
    onehot = torch.zeros(1, len(EMOTIONS))
    onehot[0, EMOTIONS.index(key)] = intensity
    return onehot


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


@dataclass(frozen=True)
class CropBox:
    """The crop square in the original image's pixels: columns [left, left+size), rows [top, top+size).

    It may reach outside the source image (then the crop shows black there). With the source size it
    holds everything needed to undo the crop: a crop frame of side S maps back by scaling with size/S
    and placing its top-left corner at (left, top); only :meth:`visible` lies inside the source.
    """

    left: int
    top: int
    size: int
    source_width: int
    source_height: int

    def __post_init__(self) -> None:
        if self.size < 1 or self.source_width < 1 or self.source_height < 1:
            raise ValueError(f"CropBox needs a positive size and source size, got {self}")

    @property
    def right(self) -> int:
        return self.left + self.size

    @property
    def bottom(self) -> int:
        return self.top + self.size

    def visible(self) -> tuple[int, int, int, int] | None:
        """The part of the square inside the source image as (x0, y0, x1, y1), or None if none is."""
        x0, y0 = max(self.left, 0), max(self.top, 0)
        x1, y1 = min(self.right, self.source_width), min(self.bottom, self.source_height)
        return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None
