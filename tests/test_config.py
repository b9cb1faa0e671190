"""Sizes read from a checkpoint's shapes: each width from its own tensor, never assumed equal."""

from __future__ import annotations

import pytest
import torch

from float_models import FloatConfig, FloatModel
from float_models.nets.config import config_from_state_dict


def shapes_of(config: FloatConfig) -> dict[str, torch.Tensor]:
    with torch.device("meta"):
        return dict(FloatModel(config).state_dict())


@pytest.mark.parametrize("dim_w, dim_a, dim_e", [(64, 32, 7), (32, 64, 5), (48, 48, 3)])
def test_audio_and_emotion_widths_are_read_apart_from_the_motion_width(dim_w, dim_a, dim_e):
    made = FloatConfig(input_size=64, dim_w=dim_w, dim_a=dim_a, dim_e=dim_e, dim_h=64, fmt_depth=1)
    read = config_from_state_dict(shapes_of(made))
    assert (read.dim_w, read.dim_a, read.dim_e) == (dim_w, dim_a, dim_e)


def test_a_condition_too_narrow_for_an_emotion_is_refused():
    shapes = shapes_of(FloatConfig(input_size=64, dim_w=64, dim_a=32, dim_h=64, fmt_depth=1))
    shapes["fmt.c_embedder.weight"] = torch.empty(64, 96, device="meta")  # 64 + 32 and nothing for we
    with pytest.raises(ValueError, match="c_embedder takes 96 inputs, too few .* motion latent \\(64\\) and the "
                                         "audio features \\(32\\)"):
        config_from_state_dict(shapes)
