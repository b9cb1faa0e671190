"""The default model's parameters are exactly float.pth's: same names, same shapes."""

import json

import torch

from float_models import FloatConfig, FloatModel
from float_models.nets.config import config_from_state_dict
from tiny_weights import MANIFEST, fixture


def test_default_model_matches_official_manifest():
    manifest = json.loads(MANIFEST.read_text())["parameters"]
    with torch.device("meta"):
        state = FloatModel().state_dict()
    assert sorted(state) == sorted(manifest)
    assert {k: list(v.shape) for k, v in state.items()} == manifest


def test_config_from_full_size_shapes():
    manifest = json.loads(MANIFEST.read_text())["parameters"]
    shapes = {k: torch.empty(v, device="meta") for k, v in manifest.items()}
    assert config_from_state_dict(shapes) == FloatConfig()


def test_config_from_tiny_shapes():
    shapes = {k: torch.empty(v, device="meta") for k, v in fixture()["float_state_dict"].items()}
    config = config_from_state_dict(shapes)
    assert (config.input_size, config.dim_h, config.fmt_depth, config.dim_m, config.dim_e) == (64, 64, 2, 20, 7)
    assert config.num_frames == 50 and config.num_prev_frames == 10
