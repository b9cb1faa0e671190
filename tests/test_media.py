"""Speech inputs at the library boundary: odd but usable audio is adapted, broken audio is refused clearly."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from float_models.media import AudioInputError, check_speech, prepare_speech, resample


def test_empty_audio_is_refused():
    with pytest.raises(AudioInputError, match="empty"):
        prepare_speech(torch.zeros(1, 0), 16000)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_samples_are_refused(value):
    audio = torch.zeros(1, 1000)
    audio[0, 10] = value
    with pytest.raises(AudioInputError, match="1 non-finite samples"):
        prepare_speech(audio, 16000)


def test_bad_rate_and_shape():
    with pytest.raises(AudioInputError, match="sample rate 0"):
        prepare_speech(torch.zeros(100), 0)
    with pytest.raises(AudioInputError, match="mix the channels down"):
        prepare_speech(torch.zeros(1, 2, 100), 16000)


def test_int16_ranges_give_the_same_speech():
    speech = torch.sin(torch.arange(8000) / 7.0)[None] * 0.3
    as_int16_floats = speech * 32767
    torch.testing.assert_close(prepare_speech(as_int16_floats, 16000), prepare_speech(speech, 16000),
                               atol=1e-5, rtol=0)
    as_int16 = (speech * 32767).round().to(torch.int16)
    assert check_speech(as_int16).abs().max() <= 1.0


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resampling_keeps_a_tone_and_the_duration(rate):
    seconds, freq = 0.5, 440.0
    t = torch.arange(int(rate * seconds), dtype=torch.float64) / rate
    out = resample(torch.sin(2 * math.pi * freq * t)[None], rate, 16000)
    assert out.shape[-1] == math.ceil(16000 * seconds)
    t16 = torch.arange(out.shape[-1], dtype=torch.float64) / 16000
    inner = slice(200, -200)  # away from the zero-padded edges
    torch.testing.assert_close(out[0, inner], torch.sin(2 * math.pi * freq * t16)[inner], atol=2e-3, rtol=0)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3000), st.sampled_from([8000, 16000, 44100, 48000]),
       st.floats(1e-3, 3e4))
def test_prepare_speech_properties(batch, samples, rate, scale):
    audio = torch.randn(batch, samples, generator=torch.Generator().manual_seed(samples)) * scale
    out = prepare_speech(audio, rate)
    assert out.shape == (batch, math.ceil(samples * 16000 / rate))
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


def test_silence_and_very_short_clips_run_through_the_pipeline(tiny_pipe):
    silence = torch.zeros(1, 16000)
    assert tiny_pipe.encode_audio(silence, 16000).num_frames == 25
    blip = torch.randn(1, 100)  # 6 ms: under one video frame and under one wav2vec2 frame
    assert tiny_pipe.encode_audio(blip, 16000).num_frames == 1
    probabilities = tiny_pipe.encode_emotion(blip, 16000).probabilities
    assert probabilities.shape == (1, 7) and torch.allclose(probabilities.sum(), torch.tensor(1.0))
