"""FLOAT configuration: one frozen dataclass with the official defaults.

The official code keeps its hyper-parameters in an argparse namespace read inside every
module. Here only the top-level builder reads `FloatConfig`; modules take plain numbers.
Sizes that a checkpoint's tensor shapes reveal are read from it (`config_from_state_dict`),
the rest from safetensors metadata or a JSON file beside the checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

import torch


@dataclass(frozen=True)
class FloatConfig:
    input_size: int = 512  # portrait side; sets the motion auto-encoder's depth
    dim_w: int = 512  # identity latent s_r and motion latent r (the paper's D)
    dim_m: int = 20  # number of orthogonal motion directions (the basis)
    dim_a: int = 512  # projected audio feature per frame
    dim_e: int = 7  # emotion classes of the speech-emotion classifier
    dim_h: int = 1024  # FMT hidden width
    fmt_depth: int = 8  # FMT blocks
    num_heads: int = 8  # FMT attention heads
    mlp_ratio: float = 4.0  # FMT feed-forward expansion
    num_prev_frames: int = 10  # L': context frames carried over from the previous window
    wav2vec_sec: float = 2.0  # window length in seconds; L = wav2vec_sec * fps frames
    fps: float = 25.0  # video frame rate; fixed by the checkpoint's position table
    sampling_rate: int = 16000  # wav2vec2 input rate
    attention_window: int = 2  # each frame attends to frames within +-2
    audio_layers: int = 12  # wav2vec2 hidden states concatenated per frame
    audio_hidden: int = 768  # wav2vec2 hidden width

    @property
    def num_frames(self) -> int:
        """L, the frames sampled per window (50 with the defaults)."""
        return int(self.wav2vec_sec * self.fps)

    @property
    def samples_per_frame(self) -> int:
        """Audio samples at `sampling_rate` per video frame (640 with the defaults)."""
        return int(self.sampling_rate / self.fps)

    def frames_for_samples(self, num_samples: int) -> int:
        """T = ceil(N * fps / sampling_rate): the official frame count for N samples."""
        return math.ceil(num_samples * self.fps / self.sampling_rate)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "FloatConfig":
        """Build from a dict, ignoring keys this version does not know (e.g. official option names)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


# Prefixes of the tensors whose shapes carry configuration.
_DECODER = "motion_autoencoder.dec."


def config_from_state_dict(state_dict: Mapping[str, torch.Tensor],
                           base: FloatConfig | None = None) -> FloatConfig:
    """Fill in the sizes a FLOAT state dict reveals; everything else comes from `base`.

    Raises ValueError when the dict does not look like FLOAT at all.
    """
    base = base or FloatConfig()
    try:
        levels = _count_indexed(state_dict, _DECODER + "to_rgbs.")
        direction = state_dict[_DECODER + "direction.weight"]
        x_embed = state_dict["fmt.x_embedder.proj.weight"]
        c_embed = state_dict["fmt.c_embedder.weight"]
    except KeyError as missing:
        raise ValueError(f"no FLOAT tensor {missing} in this state dict") from None
    if levels == 0:
        raise ValueError("no decoder levels (motion_autoencoder.dec.to_rgbs.N) in this state dict")
    dim_h, dim_w = x_embed.shape
    values = dict(
        input_size=2 ** (levels + 2),
        dim_w=int(dim_w),
        dim_m=int(direction.shape[1]),
        dim_h=int(dim_h),
        fmt_depth=_count_indexed(state_dict, "fmt.blocks."),
    )
    projection = state_dict.get("audio_encoder.audio_projection.0.weight")
    if projection is not None:
        values["dim_a"] = int(projection.shape[0])
    # The FMT's condition is [r_s (dim_w), wa (dim_a), we (dim_e)]: the emotion width is what is left.
    dim_a = values.get("dim_a", base.dim_a)
    values["dim_e"] = int(c_embed.shape[1]) - int(dim_w) - int(dim_a)
    if values["dim_e"] < 1:
        raise ValueError(f"fmt.c_embedder takes {c_embed.shape[1]} inputs, too few for the motion latent "
                         f"({dim_w}) and the audio features ({dim_a}) plus an emotion")
    fc1 = state_dict.get("fmt.blocks.0.mlp.fc1.weight")
    if fc1 is not None:
        values["mlp_ratio"] = fc1.shape[0] / dim_h
    return dataclasses.replace(base, **values)


def _count_indexed(state_dict: Mapping[str, Any], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    indices = {int(m.group(1)) for key in state_dict if (m := pattern.match(key))}
    return max(indices) + 1 if indices else 0
