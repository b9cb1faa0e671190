"""Values that used to pass and render black or ask for terabytes (issue 25): frame rates outside the
one fps range, non-finite motions at Save Motion, and fps-mismatch advice that leads somewhere."""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import load_file, save_file

from float_models.app.video import MediaError, VideoWriter
from float_models.edit import files
from float_models.edit.latent import blend, match_lengths, mix_directions
from float_models.edit.time import concat
from float_models.nets.checkpoint import CheckpointError, _float_config
from float_models.settings import MAX_FPS, MIN_FPS
from float_models.types import AudioFeatures, Motion

D = 8
BAD_RATES = [1e-300, 1e-9, 0.0004, 0.5, 241.0, 1000.0, math.nan, math.inf, 0.0, -25.0]


def _motion(fps: float = 25.0, frames: int = 3) -> Motion:
    return Motion(torch.zeros(1, frames, D), fps, torch.zeros(1, D))


@pytest.mark.parametrize("fps", BAD_RATES)
def test_one_fps_range_for_motions_speech_features_configs_and_videos(fps, tmp_path):
    with pytest.raises(ValueError, match=f"from {MIN_FPS:g} to {MAX_FPS:g} frames per second"):
        _motion(fps)
    with pytest.raises(ValueError, match=f"from {MIN_FPS:g} to {MAX_FPS:g}"):
        AudioFeatures(torch.zeros(1, 3, 4), fps)
    with pytest.raises(CheckpointError, match="fps"):
        _float_config({"fps": fps}, "float.json")
    with pytest.raises(MediaError, match=f"from {MIN_FPS:g} to {MAX_FPS:g}"):
        VideoWriter(tmp_path / "v.mp4", fps, 16, 16)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("fps", ["1e-300", "1e-9", "0.0004", "1000"])
def test_load_motion_refuses_a_file_with_a_rate_outside_the_range(fps, tmp_path):
    # issue 25 #6: 0.0004 fps padded the speech by 3.1 GB before the writer refused; 1e-9 asked for 640 TB
    weight = torch.eye(D)[:, :4].contiguous()
    path = files.save_motion(_motion(), tmp_path / "m.safetensors", weight)
    from safetensors import safe_open

    with safe_open(str(path), "pt") as opened:
        metadata = dict(opened.metadata())
    save_file(load_file(str(path)), str(path), metadata={**metadata, "fps": fps})
    with pytest.raises(files.MotionFileError, match=f"m.safetensors has no valid fps .*from 1 to 240"):
        files.load_motion(path, weight)


@pytest.mark.parametrize("value", [math.nan, math.inf, 1e30])
def test_save_motion_never_stores_a_motion_load_motion_would_refuse(value, tmp_path):
    latents = torch.zeros(1, 3, D)
    latents[0, 1, 2] = value
    with pytest.raises(files.MotionFileError, match="cannot be saved"):
        files.save_motion(Motion(latents, 25.0, torch.zeros(1, D)), tmp_path / "m.safetensors", torch.eye(D))
    assert not list(tmp_path.iterdir())


def test_fps_mismatch_advice_names_the_node_that_changes_the_rate():
    a, b = _motion(25.0), _motion(30.0)
    basis = torch.linalg.qr(torch.randn(D, 4))[0]
    for call in (lambda: concat(a, b), lambda: blend(a, b, 0.5), lambda: match_lengths(a, b),
                 lambda: mix_directions(a, b, basis, [0])):
        with pytest.raises(ValueError) as caught:
            call()
        message = str(caught.value)
        assert "FLOAT Motion Frame Rate" in message and "change its speed first" not in message, message
