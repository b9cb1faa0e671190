"""Long speech: the audio encoder's windows cover every frame once, join without seams, and short clips
keep the official whole-clip path (moved from the speed tests)."""

from __future__ import annotations

import pytest
import torch

from float_models.nets.audio_encoder import frame_hidden_states, plan_windows, seam_weights, windowed_audio_features


@pytest.mark.parametrize("total,window,context", [(80, 30, 10), (101, 25, 0), (7, 30, 5)])
def test_window_plan_covers_every_frame_once(total, window, context):
    plan = plan_windows(total, window, context)
    assert plan[0].core_start == 0 and plan[-1].core_stop == total
    assert all(a.core_stop == b.core_start for a, b in zip(plan, plan[1:]))
    assert all(w.core_stop - w.core_start <= window for w in plan)
    weights = torch.zeros(total)
    for w in plan:
        weights[w.start:w.stop] += seam_weights(w, total, fade=min(8, 2 * context))
    assert torch.allclose(weights, torch.ones(total), atol=1e-6)


@pytest.fixture(scope="module")
def whole_and_windowed(tiny_pipe, golden):
    """80 frames (3.2 s) encoded whole and in 3 windows of ~27 frames (+-10 frames context)."""
    from float_models.media import prepare_speech

    speech = prepare_speech(golden["in.waveform_16k"], 16000)
    cfg = tiny_pipe.config
    frames = cfg.frames_for_samples(speech.shape[-1])
    projection = tiny_pipe.model.audio_encoder
    with torch.inference_mode():
        whole = projection(frame_hidden_states(tiny_pipe.wav2vec2, speech, frames, cfg.samples_per_frame))[0]
        windowed = windowed_audio_features(tiny_pipe.wav2vec2, projection, speech, frames, cfg.samples_per_frame,
                                           window=30, context=10, fade=8)[0]
    return whole, windowed, plan_windows(frames, 30, 10)


def test_windowed_audio_features_are_continuous_at_seams(whole_and_windowed):
    whole, windowed, plan = whole_and_windowed
    step = (whole[1:] - whole[:-1]).norm(dim=-1)  # frame-to-frame change of the official features
    windowed_step = (windowed[1:] - windowed[:-1]).norm(dim=-1)
    for win in plan[1:]:
        seam = win.core_start
        around = windowed_step[seam - 6: seam + 5]
        assert around.max() <= step.max(), (seam, around.max().item(), step.max().item())
    # The windows see less context than the whole clip: close, but not equal.
    # With these random (rule-made) weights the whole-clip GroupNorm and attention matter a
    # lot: about 0.16 relative difference per frame, below the official features' own
    # relative frame-to-frame change (README, "Speed and memory").
    relative = (windowed - whole).norm(dim=-1) / whole.norm(dim=-1)
    relative_step = step / whole[1:].norm(dim=-1)
    assert relative.mean() < relative_step.mean(), (relative.mean().item(), relative_step.mean().item())


def test_short_clips_keep_the_official_path(tiny_pipe, golden):
    wave = golden["in.waveform_16k"]
    official = tiny_pipe.encode_audio(wave, 16000, window_seconds=None).features
    assert torch.equal(tiny_pipe.encode_audio(wave, 16000, window_seconds=3.2).features, official)
    windowed = tiny_pipe.encode_audio(wave, 16000, window_seconds=1.0).features
    assert windowed.shape == official.shape and not torch.equal(windowed, official)
    emotion = tiny_pipe.encode_emotion(wave, 16000, window_seconds=None).probabilities
    assert torch.equal(tiny_pipe.encode_emotion(wave, 16000, window_seconds=3.2).probabilities, emotion)
    split = tiny_pipe.encode_emotion(wave, 16000, window_seconds=1.0).probabilities
    assert split.shape == emotion.shape and torch.allclose(split.sum(-1), torch.ones(1))
    assert (split - emotion).abs().max().item() < 0.05
    with pytest.raises(ValueError, match="window_seconds"):
        tiny_pipe.encode_audio(wave, 16000, window_seconds=0)
