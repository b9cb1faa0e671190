"""Runs on one loaded pipe: Cancel (ComfyUI's interrupt) during sampling or decoding stops cleanly
and leaves nothing behind that changes the next run; queued runs with different settings do not
disturb each other; files the pack writes appear whole or not at all."""

from __future__ import annotations

import os

import pytest
import torch

import comfy_stubs
from test_nodes import inputs, models_home, pack  # noqa: F401  (shared fixtures)

ARGS = ("float.pth", "wav2vec2-base-960h", "none")


def pipe():
    from comfyui_floatkit.nodes import models

    return models.load(*ARGS)


@pytest.fixture
def parts(pack, inputs, monkeypatch):
    import comfy.utils

    monkeypatch.setattr(comfy.utils, "PROGRESS_THROTTLE_MIN_INTERVAL", 0)
    monkeypatch.setattr(comfy.utils, "PROGRESS_THROTTLE_MIN_PERCENT", 0)
    nodes = pack.NODE_CLASS_MAPPINGS
    identity = nodes["FloatKitEncodeImage"].execute(pipe(), inputs["image"])[0]
    short = {"waveform": inputs["audio"]["waveform"][..., :1600], "sample_rate": 16000}  # 3 frames: cheap
    features = nodes["FloatKitEncodeAudio"].execute(pipe(), short)[0]
    return nodes, identity, features


def sample(nodes, identity, features, label="happy", a_cfg=2.0, nfe=4, seed=3):
    emotion = nodes["FloatKitEmotionFromLabel"].execute(label, 1.0)[0]
    return nodes["FloatKitSampleMotion"].execute(pipe(), identity, features, emotion, a_cfg, 1.0, 1.0, nfe,
                                                 "euler", seed)[0]


def cancel_at_first_progress():
    """Press Cancel when the first progress update arrives (as the user would mid-run)."""
    import comfy.model_management as mm
    import comfy.utils

    def press(value, total, preview, node_id=None):
        mm.interrupt_current_processing(True)
        comfy.utils.set_progress_bar_global_hook(comfy_stubs.server_progress_hook)  # once only

    comfy.utils.set_progress_bar_global_hook(press)


def test_cancel_during_sampling_then_the_next_run_is_unchanged(parts):
    import comfy.model_management as mm

    nodes, identity, features = parts
    reference = sample(nodes, identity, features)
    cancel_at_first_progress()
    with pytest.raises(mm.InterruptProcessingException):
        sample(nodes, identity, features)
    mm.interrupt_current_processing(False)  # ComfyUI clears the flag before the next prompt
    assert torch.equal(sample(nodes, identity, features).latents, reference.latents)


def test_cancel_during_decoding_then_the_next_run_is_unchanged(parts):
    import comfy.model_management as mm

    nodes, identity, features = parts
    motion = sample(nodes, identity, features, nfe=2)
    reference = nodes["FloatKitDecode"].execute(pipe(), identity, motion, 1)[0]
    cancel_at_first_progress()
    with pytest.raises(mm.InterruptProcessingException):
        nodes["FloatKitDecode"].execute(pipe(), identity, motion, 1)
    mm.interrupt_current_processing(False)
    assert torch.equal(nodes["FloatKitDecode"].execute(pipe(), identity, motion, 1)[0], reference)


def test_queued_runs_with_different_settings_do_not_disturb_each_other(parts):
    nodes, identity, features = parts
    first = sample(nodes, identity, features, "happy", 2.0, 3, 1).latents
    other = sample(nodes, identity, features, "sad", 4.0, 5, 2).latents
    again = sample(nodes, identity, features, "happy", 2.0, 3, 1).latents
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_save_motion_failing_mid_write_leaves_no_file_and_no_temp(parts, monkeypatch):
    import folder_paths
    from comfyui_floatkit.float_models.edit import files as motion_io

    nodes, identity, features = parts
    motion = sample(nodes, identity, features, nfe=2)
    out = os.path.join(folder_paths.get_output_directory(), "motion")  # Save Motion writes under output/motion

    def half_written(tensors, path, metadata=None):
        with open(path, "wb") as handle:
            handle.write(b"\x00" * 100)  # part of the file is on disk when the disk fills up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(motion_io, "save_file", half_written)
    with pytest.raises(OSError, match=r"^FLOAT Save Motion: .*No space left"):
        nodes["FloatKitSaveMotion"].execute(pipe(), motion, "failing/FloatKit")
    assert os.listdir(os.path.join(out, "failing")) == []  # no final file, no temp
    monkeypatch.undo()
    nodes["FloatKitSaveMotion"].execute(pipe(), motion, "failing/FloatKit")
    assert [f for f in os.listdir(os.path.join(out, "failing")) if not f.startswith(".")] == \
           os.listdir(os.path.join(out, "failing"))
    assert len(os.listdir(os.path.join(out, "failing"))) == 1
