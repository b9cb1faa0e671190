"""Bad or unusual AUDIO inputs at the node level: a clear error naming the node, or a documented
adaptation (channels averaged, any rate resampled, integer PCM scaled, loudness normalised), and
outputs too long to hold in memory refused before any sampling."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from test_nodes import import_pack, inputs, models_home, pack  # noqa: F401  (shared fixtures)

ARGS = ("float.pth", "wav2vec2-base-960h", "none")
GUIDANCE = ("happy", False, 2.0, 1.0, 1.0, 2, "euler", 0)  # emotion, face_crop, cfg scales, nfe, solver, seed


def pipe():
    from comfyui_floatkit.nodes import models

    return models.load(*ARGS)


def encode(pack, waveform, rate=16000):
    features, frames = pack.NODE_CLASS_MAPPINGS["FloatKitEncodeAudio"].execute(
        pipe(), {"waveform": waveform, "sample_rate": rate})
    assert torch.isfinite(features.features).all()
    return features, frames


@pytest.fixture(scope="module")
def speech(inputs):
    return inputs["audio"]["waveform"][:1, :1, :1600]  # mono [1, 1, N], 0.1 s -> 3 frames


def test_silence_and_a_clip_shorter_than_one_frame_give_frames(pack, speech):
    assert encode(pack, torch.zeros(1, 1, 1600))[1] == 3
    assert encode(pack, speech[..., :100])[1] == 1  # 6 ms: one frame, padded for wav2vec2


def test_empty_audio_names_the_node(pack):
    with pytest.raises(ValueError, match=r"^FLOAT Encode Speech: expected an AUDIO waveform .* with samples"):
        encode(pack, torch.zeros(1, 2, 0))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_samples_name_the_node_and_the_fix(pack, speech, bad):
    broken = speech.clone()
    broken[..., 7] = bad
    with pytest.raises(ValueError, match=r"^FLOAT Encode Speech: the audio has 1 non-finite samples.*re-export"):
        encode(pack, broken)


@pytest.mark.parametrize("channels", [2, 6])
def test_stereo_and_surround_are_averaged(pack, speech, channels):
    assert torch.allclose(encode(pack, speech.repeat(1, channels, 1))[0].features, encode(pack, speech)[0].features,
                          atol=1e-5)


@pytest.mark.parametrize("rate", [8000, 48000])
def test_other_sample_rates_are_resampled(pack, speech, rate):
    from comfyui_floatkit.float_models.media import resample

    other = resample(speech[:, 0], 16000, rate)[:, None]
    features, frames = encode(pack, other, rate)
    assert frames == math.ceil(other.shape[-1] * 25 / rate) == 3


def test_int16_ranges_and_int16_tensors_match_float_speech(pack, speech):
    base = encode(pack, speech)[0].features
    pcm = (speech * 32767).round()
    assert torch.allclose(encode(pack, pcm)[0].features, base, atol=1e-3)  # int16 range mistaken for float
    assert torch.allclose(encode(pack, pcm.to(torch.int16))[0].features, base, atol=1e-3)


def test_an_hour_is_refused_before_sampling_with_an_estimate(pack, inputs, monkeypatch):
    from comfyui_floatkit.nodes import _errors

    monkeypatch.setattr(_errors, "available_memory", lambda: 2 * 10 ** 9)
    hour = torch.zeros(1, 1, 1).expand(1, 1, 3600 * 16000)  # an hour of speech, no memory used
    used = []
    monkeypatch.setattr(type(pipe().pipeline), "encode_audio", lambda *a, **k: used.append(1))
    with pytest.raises(MemoryError, match=r"^FLOAT Animate Portrait: the 90000 frames \(60\.0 min.*about "
                                          r"\d+\.\d GB.*only about 2\.0 GB.*shorter audio.*streaming"):
        pack.NODE_CLASS_MAPPINGS["FloatKitAnimate"].execute(pipe(), inputs["image"],
                                                            {"waveform": hour, "sample_rate": 16000}, *GUIDANCE)
    assert not used  # refused before encoding or sampling anything


def test_decode_refuses_a_motion_too_long_for_memory(pack, inputs, monkeypatch):
    from comfyui_floatkit.float_models import Motion
    from comfyui_floatkit.nodes import _errors

    monkeypatch.setattr(_errors, "available_memory", lambda: 2 * 10 ** 9)
    motion = Motion(torch.zeros(1, 1, 1).expand(1, 90000, 512), 25.0, torch.zeros(1, 512))
    identity = pack.NODE_CLASS_MAPPINGS["FloatKitEncodeImage"].execute(pipe(), inputs["image"])[0]
    with pytest.raises(MemoryError, match=r"^FLOAT Decode Motion: the 90000 frames"):
        pack.NODE_CLASS_MAPPINGS["FloatKitDecode"].execute(pipe(), identity, motion, 0)


def test_memory_estimate_is_3_mib_per_512_frame_and_refuses_only_what_exceeds_the_free_memory():
    import_pack()
    from comfyui_floatkit.nodes import _errors

    assert _errors.frames_bytes(1, 512) == 3 * 2 ** 20
    assert _errors.frames_bytes(90000, 512) == 90000 * 3 * 2 ** 20  # an hour at 25 fps: ~283 GB
    _errors.check_frames_fit(1000, 512, available=_errors.frames_bytes(1000, 512))
    with pytest.raises(MemoryError):
        _errors.check_frames_fit(1001, 512, available=_errors.frames_bytes(1000, 512))
    assert _errors.available_memory() is None or _errors.available_memory() > 0


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(1, 6), st.integers(1, 50), st.integers(1000, 96000),
       st.integers(1, 12), st.integers(1, 3))
def test_audio_converter_properties(batch, channels, samples, rate, frames, clips):
    import_pack()
    from comfyui_floatkit.nodes import convert

    waveform = torch.randn(batch, channels, samples)
    mono, got_rate = convert.audio_to_mono({"waveform": waveform, "sample_rate": rate})
    assert mono.shape == (batch, samples) and got_rate == rate
    assert torch.allclose(mono, waveform.mean(dim=1))
    cut = convert.audio_for_frames({"waveform": waveform, "sample_rate": rate}, frames, 25.0, clips)
    assert cut["waveform"].shape == (1, channels, clips * convert.samples_for_frames(frames, 25.0, rate))
    assert torch.equal(waveform, waveform.clone())  # never modified in place
