"""Any output frame rate, sync offset and speaking directions (float_models.edit.frame_rate, speaking):
the mathematics on random and constructed motions, no model."""

from __future__ import annotations

import math

import pytest
import torch

from float_models import AudioFeatures, Motion
from float_models.edit import frame_rate, speaking
from float_models.settings import SettingError
from test_edit import D, M, random_basis, random_motion  # the edit tests' random motions


# ------------------------------------------------------------------ frame rate

@pytest.mark.parametrize("frames, fps, expected", [(50, 30, 60), (51, 30, 62), (50, 50, 100), (50, 24, 48),
                                                   (51, 24, 49), (1, 60, 3), (50, 8, 16), (7, 60, 17)])
def test_new_frame_count_is_ceil_of_duration_times_fps(frames, fps, expected):
    assert frame_rate.resampled_length(frames, 25.0, fps) == expected == math.ceil(frames / 25 * fps - 1e-9)
    motion = frame_rate.change_frame_rate(random_motion(frames), fps)
    assert motion.num_frames == expected and motion.fps == fps


def test_50_fps_even_frames_are_the_25_fps_frames_exactly():
    motion = random_motion(40, clips=2)
    doubled = frame_rate.change_frame_rate(motion, 50)
    assert doubled.num_frames == 80
    assert torch.equal(doubled.latents[:, ::2], motion.latents)
    assert torch.equal(doubled.reference, motion.reference)
    # odd frames lie between their neighbours (a real interpolation, not a copy)
    assert not torch.equal(doubled.latents[:, 1], motion.latents[:, 0])


def test_every_sample_time_that_falls_on_an_old_frame_returns_it():
    motion = random_motion(25)
    at_60 = frame_rate.change_frame_rate(random_motion(25, fps=20.0), 60).latents
    assert torch.equal(at_60[:, ::3], random_motion(25, fps=20.0).latents)
    at_30 = frame_rate.change_frame_rate(motion, 30).latents  # 30 fps frame 6k is 25 fps frame 5k
    assert torch.equal(at_30[:, ::6], motion.latents[:, ::5])


def test_the_interpolant_follows_a_smooth_path_closer_than_linear():
    t = torch.arange(50, dtype=torch.float64) / 25
    path = lambda times: torch.sin(2 * math.pi * 1.3 * times)[None, :, None].float().expand(1, -1, D)  # noqa: E731
    motion = Motion(path(t).clone(), 25.0, torch.zeros(1, D))
    at_60 = frame_rate.change_frame_rate(motion, 60)
    truth = path(torch.arange(at_60.num_frames, dtype=torch.float64) / 60)
    inside = slice(3, 113)  # between frames 1 and 47: the end intervals have one-sided tangents
    cubic_error = (at_60.latents[:, inside] - truth[:, inside]).abs().max()
    position = frame_rate.frame_positions(50, 25, 60)[inside]
    low = position.floor().long().clamp(max=48)
    f = (position - low).float()[None, :, None]
    linear = (1 - f) * motion.latents[:, low] + f * motion.latents[:, low + 1]
    linear_error = (linear - truth[:, inside]).abs().max()
    assert cubic_error < linear_error / 4


def test_same_rate_is_an_exact_copy_and_a_constant_motion_stays_constant():
    motion = random_motion()
    same = frame_rate.change_frame_rate(motion, 25)
    assert torch.equal(same.latents, motion.latents) and same.latents is not motion.latents
    still = Motion(torch.full((1, 10, D), 0.3), 25.0, torch.zeros(1, D))
    assert torch.allclose(frame_rate.change_frame_rate(still, 30).latents, torch.full((1, 12, D), 0.3), atol=1e-6)


@pytest.mark.parametrize("fps", [7.9, 61, float("nan"), 0])
def test_rates_outside_8_to_60_are_refused_with_the_range(fps):
    with pytest.raises(SettingError, match="between 8 and 60"):
        frame_rate.change_frame_rate(random_motion(), fps)


def test_resampling_does_not_change_the_input():
    motion = random_motion()
    before = motion.latents.clone()
    frame_rate.change_frame_rate(motion, 30)
    assert torch.equal(motion.latents, before)


# ------------------------------------------------------------------ offset

def test_positive_offset_delays_and_fills_the_start_with_the_reference_pose():
    motion = random_motion(30, clips=2)
    shifted = frame_rate.offset(motion, 80)  # 2 frames at 25 fps
    assert shifted.num_frames == 30
    assert torch.equal(shifted.latents[:, :2], motion.reference[:, None].expand(-1, 2, -1))
    assert torch.equal(shifted.latents[:, 2:], motion.latents[:, :28])


def test_negative_offset_advances_and_fills_the_end_never_wrapping():
    motion = random_motion(30, fps=30.0)
    shifted = frame_rate.offset(motion, -100)  # 3 frames at 30 fps
    assert torch.equal(shifted.latents[:, :27], motion.latents[:, 3:])
    assert torch.equal(shifted.latents[:, 27:], motion.reference[:, None].expand(-1, 3, -1))
    for frame in motion.latents[0, :3]:  # the cut frames do not come back at the other end
        assert not any(torch.equal(frame, other) for other in shifted.latents[0])


def test_offset_rounds_to_whole_frames_and_zero_is_exact():
    assert frame_rate.offset_frames(80, 30) == 2 and frame_rate.offset_frames(-80, 60) == -5
    motion = random_motion()
    assert torch.equal(frame_rate.offset(motion, 0).latents, motion.latents)
    assert torch.equal(frame_rate.offset(motion, 15).latents, motion.latents)  # under half a frame
    longer = frame_rate.offset(motion, 2000)  # more than the clip: all reference pose
    assert torch.equal(longer.latents, motion.reference[:, None].expand_as(motion.latents))
    with pytest.raises(SettingError, match="offset_ms"):
        frame_rate.offset(motion, 5000)


# ------------------------------------------------------------------ speaking directions

SPEAKING_SET = [2, 5, 11]


def constructed_motion(fps: float = 25.0, frames: int = 200, seed: int = 3):
    """Directions SPEAKING_SET follow a loudness curve (with noise and either sign); the others are
    slow sway and noise unrelated to it. -> (motion, basis, loudness (1, T))."""
    g = torch.Generator().manual_seed(seed)
    basis = random_basis(seed)
    t = torch.arange(frames, dtype=torch.float32) / fps
    loudness = -30 + 15 * torch.sin(2 * math.pi * 3.1 * t) * torch.sin(2 * math.pi * 0.4 * t)
    loudness = loudness + 3 * torch.randn(frames, generator=g)
    coefficients = torch.zeros(frames, M)
    for m in range(M):
        sway = 2.0 * torch.sin(2 * math.pi * (0.15 + 0.05 * m) * t + m)  # slow, unrelated to the syllables
        coefficients[:, m] = sway + 0.3 * torch.randn(frames, generator=g)
    for sign, m in zip((1, -1, 1), SPEAKING_SET):
        centred = (loudness - loudness.mean()) / loudness.std()
        coefficients[:, m] = sign * centred + 0.3 * torch.randn(frames, generator=g)
    residual = torch.randn(frames, D, generator=g) * 0.1
    residual = residual - (residual @ basis) @ basis.T
    latents = (coefficients @ basis.T + residual)[None]
    return Motion(latents, fps, (0.2 * torch.randn(1, M, generator=g)) @ basis.T), basis, loudness[None]


def test_speaking_selects_exactly_the_directions_that_follow_the_loudness():
    motion, basis, loudness = constructed_motion()
    correlation = speaking.direction_correlation(motion, basis, loudness)
    assert correlation.shape == (M,)
    assert speaking.speaking_directions(correlation) == SPEAKING_SET
    assert correlation[5] < -0.8 and correlation[2] > 0.8  # the sign says which way the vector points
    assert speaking.choose_directions("speaking", correlation) == SPEAKING_SET
    assert speaking.choose_directions(" Not Speaking", correlation) == [m for m in range(M) if m not in SPEAKING_SET]
    assert speaking.choose_directions("0-3", correlation) is None


def test_speaking_directions_from_the_waveform_at_30_fps():
    fps, frames, rate = 30.0, 180, 24000
    motion, basis, _ = constructed_motion(fps, frames)
    g = torch.Generator().manual_seed(9)
    envelope = 0.05 + 0.3 * (torch.sin(2 * math.pi * 2.3 * torch.arange(frames) / fps) > 0.2).float()
    waveform = (torch.randn(frames * rate // 30, generator=g) * envelope.repeat_interleave(rate // 30))[None]
    loudness = speaking.loudness_of_audio(waveform, rate, fps, frames)
    coefficients = torch.zeros(frames, M)
    coefficients[:, 7] = loudness[0] / 10  # one direction made to follow the speech
    coefficients[:, 0] = torch.linspace(-1, 1, frames)
    made = Motion((coefficients @ basis.T)[None], fps, torch.zeros(1, D))
    correlation = speaking.direction_correlation(made, basis, loudness)
    assert speaking.speaking_directions(correlation) == [7]


def test_calm_head_damps_the_other_directions_and_keeps_the_speaking_ones():
    motion, basis, loudness = constructed_motion()
    calm = speaking.calm_head(motion, basis, loudness, head_motion=0.2)
    before = motion.latents @ basis
    after = calm.latents @ basis
    reference = motion.reference @ basis
    for m in range(M):
        if m in SPEAKING_SET:
            assert torch.allclose(after[..., m], before[..., m], atol=1e-4)
        else:
            assert torch.allclose(after[..., m] - reference[:, m], 0.2 * (before[..., m] - reference[:, m]), atol=1e-4)
    residual = lambda x: x - (x @ basis) @ basis.T  # noqa: E731
    assert torch.allclose(residual(calm.latents), residual(motion.latents), atol=1e-5)
    assert torch.equal(speaking.calm_head(motion, basis, loudness, 1.0).latents, motion.latents)


def test_features_stand_in_follows_speech_activity_at_another_rate():
    frames = 50
    activity = torch.linspace(0, 1, frames) ** 2
    features = torch.zeros(1, frames, 8)
    features[0, :, 0] = activity * 4
    curve = speaking.loudness_of_features(AudioFeatures(features, 25.0), 30.0, 60)
    assert curve.shape == (1, 60)
    assert float(curve[0, -1]) > float(curve[0, 20]) > 0  # far from the mean at the end, nearer in the middle


def test_correlation_needs_the_motion_length_and_reports_every_direction():
    motion, basis, loudness = constructed_motion()
    with pytest.raises(ValueError, match="frames"):
        speaking.direction_correlation(motion, basis, loudness[:, :-1])
    report = speaking.correlation_report(speaking.direction_correlation(motion, basis, loudness))
    assert report.count("\ndirection ") == M and "speaking directions: 2, 5, 11" in report


def test_with_the_speech_length_the_count_is_ceil_of_speech_seconds_times_fps():
    # 0.3 s of speech gives FLOAT 8 frames (0.32 s); at 30 fps the video has ceil(0.3 * 30) = 9 frames
    motion = random_motion(8)
    assert frame_rate.change_frame_rate(motion, 30, seconds=0.3).num_frames == 9
    assert frame_rate.change_frame_rate(motion, 30).num_frames == 10
    assert frame_rate.retime(motion, 30, 0, seconds=0.3).num_frames == 9
    assert frame_rate.retime(motion, 25, 0, seconds=0.3).num_frames == 8  # the model's rate: unchanged
    assert frame_rate.change_frame_rate(motion, 60, seconds=5.0).num_frames == 20  # never past the motion
