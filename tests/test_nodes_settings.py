"""Out-of-range settings at the node level: nfe below the library's minimum, extreme guidance
scales, unknown emotion labels, identity and speech batches that disagree; errors keep their type
and start with the node's display name."""

from __future__ import annotations

import pytest
import torch

from test_nodes import import_pack, inputs, models_home, pack  # noqa: F401  (shared fixtures)

ARGS = ("float.pth", "wav2vec2-base-960h", "none")


def pipe():
    from comfyui_floatkit.nodes import models

    return models.load(*ARGS)


@pytest.fixture
def parts(pack, inputs):
    nodes = pack.NODE_CLASS_MAPPINGS
    identity = nodes["FloatKitEncodeImage"].execute(pipe(), inputs["image"])[0]
    audio = {"waveform": inputs["audio"]["waveform"][..., :1600], "sample_rate": 16000}  # 0.1 s -> 3 frames
    features = nodes["FloatKitEncodeAudio"].execute(pipe(), audio)[0]
    emotion = nodes["FloatKitEmotionFromLabel"].execute("happy", 1.0)[0]
    return nodes, identity, features, emotion


def test_nfe_below_two_is_refused_by_the_sampler_node(parts):
    nodes, identity, features, emotion = parts
    with pytest.raises(ValueError, match=r"^FLOAT Sample Motion: nfe=1: the ODE needs at least 2 time points"):
        nodes["FloatKitSampleMotion"].execute(pipe(), identity, features, emotion, 2.0, 1.0, 1.0, 1, "euler", 0)


def test_huge_guidance_scales_run_and_stay_finite(parts):
    nodes, identity, features, emotion = parts
    motion = nodes["FloatKitSampleMotion"].execute(pipe(), identity, features, emotion, 1e4, 1e4, 1e4, 2,
                                                   "euler", 0)[0]
    assert motion.latents.shape == (1, 3, 512) and torch.isfinite(motion.latents).all()


def test_unknown_emotion_label_names_the_node_and_the_choices(pack):
    with pytest.raises(ValueError, match=r"^FLOAT Emotion from Label: .*furious.*happy"):
        pack.NODE_CLASS_MAPPINGS["FloatKitEmotionFromLabel"].execute("furious", 1.0)


def test_identity_and_speech_batches_that_disagree(parts, inputs):
    nodes, _, features, emotion = parts
    two = nodes["FloatKitEncodeImage"].execute(pipe(), inputs["image"].repeat(2, 1, 1, 1))[0]
    three = nodes["FloatKitEncodeAudio"].execute(pipe(), {"waveform": inputs["audio"]["waveform"][..., :1600]
                                                          .repeat(3, 1, 1), "sample_rate": 16000})[0]
    with pytest.raises(ValueError, match=r"^FLOAT Sample Motion: identity batch \(2\) and audio batch \(3\) disagree"):
        nodes["FloatKitSampleMotion"].execute(pipe(), two, three, emotion, 2.0, 1.0, 1.0, 2, "euler", 0)
    shared = nodes["FloatKitSampleMotion"].execute(pipe(), two, features, emotion, 2.0, 1.0, 1.0, 2, "euler", 0)[0]
    assert shared.latents.shape[0] == 2  # a single clip is shared by both portraits


def test_errors_keep_their_type_and_are_named_once():
    pack = import_pack()
    from comfyui_floatkit.nodes import _comfy, _errors

    err = _errors.with_name(_comfy.MissingModelError("x missing"), "Load FLOAT Models")
    assert isinstance(err, FileNotFoundError) and str(err) == "Load FLOAT Models: x missing"
    assert str(_errors.with_name(err, "Load FLOAT Models")) == "Load FLOAT Models: x missing"
    errno_style = _errors.with_name(FileNotFoundError(2, "No such file", "a.pth"), "N")
    assert isinstance(errno_style, FileNotFoundError) and str(errno_style).startswith("N: ")
    before = pack.NODE_CLASS_MAPPINGS["FloatKitSampleMotion"].execute
    _errors.name_errors(pack.NODE_CLASS_MAPPINGS["FloatKitSampleMotion"], "again")  # wrapping twice is a no-op
    assert pack.NODE_CLASS_MAPPINGS["FloatKitSampleMotion"].execute == before
