"""Rule-made weights: every tensor follows from its key name, so no file is needed.

The rule of the float-tiny test fixture (tests/fixtures/float-tiny/README): standard normal
values from a generator seeded with the CRC-32 of the key; the motion auto-encoder's as they
are, other matrices scaled by 1/sqrt(fan-in), other vectors 1 + 0.1 x (weights) or 0.1 x
(biases). The FMT's position table is the sinusoid table, as in the official checkpoint. Speed
and the agreement of two code paths depend on the shapes, not on the values, so the device
check (`app/check_device.py`), the benchmarks and the tests build FLOAT from this one rule.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import torch

from .checkpoint import assign_weights
from .config import FloatConfig
from .fmt import sinusoid_table
from .model import FloatModel


def rule_tensor(key: str, shape: list[int]) -> torch.Tensor:
    """The fixture's weight rule for one tensor (float32, on the CPU)."""
    x = np.random.default_rng(zlib.crc32(key.encode("utf-8"))).standard_normal(shape, dtype=np.float32)
    if key.startswith("motion_autoencoder."):
        pass
    elif len(shape) >= 2:
        x = x / np.float32(math.sqrt(math.prod(shape[1:])))
    elif key.endswith("weight"):
        x = 1 + np.float32(0.1) * x
    else:
        x = np.float32(0.1) * x
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def rule_state_dict(shapes: dict[str, list[int]], overrides: dict[str, torch.Tensor] | None = None) -> dict:
    overrides = overrides or {}
    return {k: overrides[k] if k in overrides else rule_tensor(k, v) for k, v in shapes.items()}


def rule_made_model(config: FloatConfig | None = None, device: torch.device | str = "cpu",
                    dtype: torch.dtype = torch.float32) -> FloatModel:
    """FLOAT's own networks (FMT, motion auto-encoder, audio projection) with rule-made weights.
    Full size (the default config): 206.7M parameters, about 10 s to make on a CPU."""
    config = config or FloatConfig()
    with torch.device("meta"):
        model = FloatModel(config)
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    table = sinusoid_table(config.num_frames + config.num_prev_frames, config.dim_h)[None]
    tensors = rule_state_dict(shapes, {"fmt.pos_embed": table})
    return assign_weights(model, tensors, "rule-made FLOAT", torch.device(device), dtype)
