"""FLOAT parity: every stage recorded from the official code on the float-tiny weights.

Tolerances come from the fixture's README: a faithful float32 implementation stays within
1e-3 absolute on features and motion, and within 5e-2 absolute (5e-3 on average) on frames.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from float_models import Emotion
from tiny_weights import fixture

FEATURE_TOL = 1e-3


def close(actual: torch.Tensor, wanted: torch.Tensor, tol: float = FEATURE_TOL) -> None:
    diff = (actual.float().cpu() - wanted.float()).abs().max().item()
    assert actual.shape == wanted.shape, (actual.shape, wanted.shape)
    assert diff <= tol, f"max abs difference {diff:.3g} > {tol}"


@pytest.fixture(scope="module")
def identity(tiny_pipe, golden):
    return tiny_pipe.encode_image(golden["in.image"])


@pytest.fixture(scope="module")
def audio(tiny_pipe, golden):
    return tiny_pipe.encode_audio(golden["in.waveform_16k"], 16000)


def test_identity_latent_and_reference_motion(identity, golden):
    close(identity.latent, golden["enc.s_r"])
    close(identity.coefficients, golden["enc.r_s_lambda"])
    close(identity.motion, golden["enc.r_s"])


def test_feature_pyramid(identity, golden):
    assert len(identity.features) == 4
    for k, feature in enumerate(identity.features):
        wanted = golden[f"enc.feat{k}"].float()
        scale = max(1.0, wanted.abs().max().item())
        close(feature, wanted, tol=2e-3 * scale)  # stored in fp16: relative rounding of 1e-3


def test_motion_basis(tiny_pipe, golden):
    close(tiny_pipe.basis(), golden["dec.direction_Q"], tol=1e-5)


def test_audio_normalisation(golden):
    from float_models.media import prepare_speech

    close(prepare_speech(golden["in.waveform_16k"], 16000), golden["in.audio_normalised"], tol=1e-5)


def test_audio_features(audio, golden):
    assert audio.fps == 25.0 and audio.num_frames == fixture()["frames"]
    close(audio.features, golden["audio.wa"])


def test_speech_emotion(tiny_pipe, golden):
    close(tiny_pipe.encode_emotion(golden["in.waveform_16k"], 16000).probabilities, golden["emotion.we_predicted"],
          tol=1e-5)


def test_seeded_noise(golden):
    from float_models.sampling import window_noise

    assert torch.equal(window_noise(15, 1, 50, 512), golden["noise.x0"])


@pytest.mark.parametrize("run", ["default", "happy_e3", "nocfg"])
def test_motion_and_frames(run, tiny_pipe, identity, audio, golden):
    settings = fixture()["runs"][run]
    if settings["emo"] is None:
        emotion = tiny_pipe.encode_emotion(golden["in.waveform_16k"], 16000)
    else:
        emotion = Emotion.of_label(settings["emo"])
    steps = []
    motion = tiny_pipe.sample_motion(identity, audio, emotion, a_cfg_scale=settings["a_cfg_scale"],
                                     e_cfg_scale=settings["e_cfg_scale"], r_cfg_scale=settings["r_cfg_scale"],
                                     nfe=fixture()["nfe"], seed=fixture()["seed"],
                                     callback=lambda done, total: steps.append((done, total)))
    assert steps[-1] == (18, 18) and len(steps) == 18  # 2 windows x 9 Euler steps
    assert motion.fps == 25.0 and torch.equal(motion.reference, identity.motion)
    close(motion.latents, golden[f"{run}.motion"])
    index = golden[f"{run}.frame_index"].long()
    frames = tiny_pipe.decode(identity, dataclasses.replace(motion, latents=motion.latents[:, index]))[0]
    wanted = golden[f"{run}.frames"].float()
    diff = (frames - wanted).abs()
    assert diff.max().item() <= 5e-2 and diff.mean().item() <= 5e-3, (diff.max().item(), diff.mean().item())
