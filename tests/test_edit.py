"""Motion-latent editing (float_models.edit.latent, motion_time, emotion_schedule, silence, paste_back,
motion_io, motion_from_video): the mathematics, not only the shapes.

Most tests use a random orthonormal basis and random motions (fast, no model); the sampler, the
save/load fingerprint and motion-from-video use the tiny fixture pipeline.
"""

from __future__ import annotations

import math

import pytest
import torch

from float_models import Emotion, Motion
from float_models.edit import latent as editing
from float_models.edit import time as motion_time
from float_models.edit.emotion_schedule import Segment, build_schedule, constant_schedule, parse_schedule, \
    schedule_from_text
from float_models.app.face_crop import CropBox
from float_models.edit.files import MotionFileError, load_motion, save_motion
from float_models.edit.paste_back import feather_mask, paste_back
from float_models.edit.silence import frame_energy_db, rest_on_silence, rest_weights

D, M = 512, 20


def random_basis(seed: int = 0) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(D, M, generator=torch.Generator().manual_seed(seed)))
    return q


def random_motion(frames: int = 30, clips: int = 1, seed: int = 1, fps: float = 25.0) -> Motion:
    g = torch.Generator().manual_seed(seed)
    return Motion(torch.randn(clips, frames, D, generator=g), fps, torch.randn(clips, D, generator=g))


# ------------------------------------------------------------------ coefficients

def test_projection_round_trip_is_exact_up_to_one_rounding():
    basis, motion = random_basis(), random_motion()
    parts = editing.project(motion.latents, basis)
    assert parts.coefficients.shape == (1, 30, M) and parts.residual.shape == (1, 30, D)
    back = editing.reconstruct(parts, basis)
    # c Q^T + (r - c Q^T): only the float32 rounding of that sum remains, a few ulp of |r| (~4)
    assert (back - motion.latents).abs().max() < 4 * torch.finfo(torch.float32).eps * 8
    # the residual is orthogonal to the basis (FMT outputs are not in span(Q), so it is not zero)
    assert (parts.residual @ basis).abs().max() < 1e-4
    assert parts.residual.norm() > 0.9 * motion.latents.norm()


# ------------------------------------------------------------------ intensity and gains

def test_intensity_one_is_an_exact_no_op_and_zero_freezes_at_the_reference():
    motion = random_motion()
    assert torch.equal(editing.scale_intensity(motion, 1.0).latents, motion.latents)
    frozen = editing.scale_intensity(motion, 0.0).latents
    assert torch.equal(frozen, motion.reference[:, None].expand_as(frozen))
    half = editing.scale_intensity(motion, 0.5).latents
    assert torch.allclose(half, (motion.latents + motion.reference[:, None]) / 2, atol=1e-6)


def test_direction_gains_scale_only_the_chosen_coefficients_around_the_reference():
    basis, motion = random_basis(), random_motion()
    motion = Motion(motion.latents, motion.fps, motion.reference @ basis @ basis.T)  # r_s = Q c_s, as in FLOAT
    assert torch.equal(editing.scale_directions(motion, basis, {}).latents, motion.latents)
    edited = editing.scale_directions(motion, basis, {3: 0.0, 7: 2.0})
    before, after = editing.project(motion.latents, basis), editing.project(edited.latents, basis)
    c_s = editing.reference_coefficients(motion, basis)[:, None]
    assert torch.allclose(after.coefficients[..., 3], c_s[..., 3].expand(-1, 30), atol=1e-4)  # gain 0: at r_s
    assert torch.allclose(after.coefficients[..., 7] - c_s[..., 7], 2 * (before.coefficients[..., 7] - c_s[..., 7]),
                          atol=1e-4)
    others = [i for i in range(M) if i not in (3, 7)]
    assert torch.allclose(after.coefficients[..., others], before.coefficients[..., others], atol=1e-4)
    assert torch.allclose(after.residual, before.residual, atol=1e-4)  # the residual is untouched
    with pytest.raises(ValueError, match="directions 0 to 19"):
        editing.scale_directions(motion, basis, {20: 1.0})


def test_direction_energy_finds_the_direction_that_moves():
    basis = random_basis()
    t = torch.linspace(0, 2 * math.pi, 50)
    coefficients = torch.zeros(1, 50, M)
    coefficients[0, :, 5] = 3 * torch.sin(t)
    coefficients[0, :, 2] = 0.5 * torch.cos(t)
    motion = Motion(coefficients @ basis.T, 25.0, torch.zeros(1, D))
    energy = editing.direction_energy(motion, basis)[0]
    assert energy.argmax() == 5 and torch.argsort(energy, descending=True)[1] == 2
    assert torch.allclose(energy[5], coefficients[0, :, 5].var(unbiased=False), rtol=1e-4)
    report = editing.energy_report(motion, basis, top=3)
    assert report.splitlines()[1].startswith(" 1. direction  5")


# ------------------------------------------------------------------ smoothing

@pytest.mark.parametrize("edge", editing.EDGE_MODES)
def test_smoothing_keeps_constants_length_and_ends(edge):
    still = Motion(torch.randn(2, 1, D).expand(2, 40, D).clone(), 25.0, torch.zeros(2, D))
    assert torch.equal(editing.smooth(still, 3.0, edge).latents, still.latents)  # exactly constant
    motion = random_motion(40)
    assert torch.equal(editing.smooth(motion, 0.0, edge).latents, motion.latents)
    smoothed = editing.smooth(motion, 2.0, edge).latents
    assert smoothed.shape == motion.latents.shape
    inner = slice(6, 34)  # away from the ends: a Gaussian average of white noise has far less variance
    assert smoothed[:, inner].var() < 0.3 * motion.latents[:, inner].var()
    if edge == "keep ends":
        assert torch.equal(smoothed[:, [0, -1]], motion.latents[:, [0, -1]])


def test_keep_ends_smoothing_leaves_a_straight_line_straight():
    line = torch.linspace(-1, 1, 20)[None, :, None].expand(1, 20, D)
    smoothed = editing.smooth(Motion(line.clone(), 25.0, torch.zeros(1, D)), 2.5).latents
    assert torch.allclose(smoothed, line, atol=1e-5)  # point reflection keeps linear trends at the ends too


# ------------------------------------------------------------------ time

def test_trim_concat_and_loop():
    motion = random_motion(50)
    part = motion_time.trim_seconds(motion, 0.4, 1.2)
    assert torch.equal(part.latents, motion.latents[:, 10:30])
    joined = motion_time.concat(part, motion_time.trim(motion, 30))
    assert torch.equal(joined.latents, motion.latents[:, 10:])
    with pytest.raises(ValueError, match="30 fps but motion 1 at 25 fps"):
        motion_time.concat(motion, random_motion(fps=30.0))
    with pytest.raises(ValueError, match="leaves nothing"):
        motion_time.trim(motion, 30, 30)
    looped = motion_time.loop(part, 45, "loop").latents
    assert torch.equal(looped[:, 20:40], part.latents) and torch.equal(looped[:, 40:], part.latents[:, :5])
    assert motion_time.loop_indices(4, 9, "ping-pong").tolist() == [0, 1, 2, 3, 2, 1, 0, 1, 2]


@pytest.mark.parametrize("speed, frames", [(2.0, 25), (0.5, 100), (1.5, 33), (1.0, 50), (3.0, 17)])
def test_speed_change_gives_the_asked_duration_and_keeps_the_ends(speed, frames):
    motion = random_motion(50)
    fast = motion_time.change_speed(motion, speed)
    assert fast.num_frames == frames == round(50 / speed)
    assert abs(fast.duration - motion.duration / speed) <= 0.5 / motion.fps  # within half a frame
    assert torch.equal(fast.latents[:, [0, -1]], motion.latents[:, [0, -1]])
    # a motion that is linear in time stays on the same line, just traversed faster
    line = Motion(torch.linspace(0, 1, 50)[None, :, None].expand(1, 50, D).clone(), 25.0, torch.zeros(1, D))
    expected = torch.linspace(0, 1, frames)[None, :, None].expand(1, frames, D)
    assert torch.allclose(motion_time.change_speed(line, speed).latents, expected, atol=1e-6)


# ------------------------------------------------------------------ blend and mix

def test_blend_hits_its_end_points_exactly_and_needs_matching_lengths():
    a, b = random_motion(seed=1), random_motion(seed=2)
    assert torch.equal(editing.blend(a, b, 0.0).latents, a.latents)
    assert torch.equal(editing.blend(a, b, 1.0).latents, b.latents)
    curve = torch.linspace(0, 1, 30)
    faded = editing.blend(a, b, curve).latents
    assert torch.equal(faded[:, 0], a.latents[:, 0]) and torch.equal(faded[:, -1], b.latents[:, -1])
    assert torch.allclose(editing.blend(a, b, 0.25).latents, 0.75 * a.latents + 0.25 * b.latents, atol=1e-6)
    short = random_motion(20, seed=3)
    with pytest.raises(ValueError, match="different lengths \\(30 and 20 frames\\)"):
        editing.blend(a, short, 0.5)
    assert editing.blend(a, short, 0.5, trim_to_shorter=True).num_frames == 20


def test_mix_directions_takes_chosen_coefficients_from_the_donor():
    basis = random_basis()
    base, donor = random_motion(seed=4), random_motion(seed=5)
    assert torch.equal(editing.mix_directions(base, donor, basis, []).latents, base.latents)
    chosen = editing.parse_directions("0, 3, 5-7", M)
    assert chosen == [0, 3, 5, 6, 7]
    mixed = editing.project(editing.mix_directions(base, donor, basis, chosen).latents, basis)
    p_base, p_donor = editing.project(base.latents, basis), editing.project(donor.latents, basis)
    rest = [i for i in range(M) if i not in chosen]
    assert torch.allclose(mixed.coefficients[..., chosen], p_donor.coefficients[..., chosen], atol=1e-4)
    assert torch.allclose(mixed.coefficients[..., rest], p_base.coefficients[..., rest], atol=1e-4)
    assert torch.allclose(mixed.residual, p_base.residual, atol=1e-4)
    with pytest.raises(ValueError, match="'0, 3, 5-7'"):
        editing.parse_directions("lips", M)


# ------------------------------------------------------------------ emotion schedule

def test_schedule_text_becomes_per_frame_probabilities_with_a_crossfade():
    segments = parse_schedule("# comment\n0-1: happy\n1-: 0 0 0 0 0 1 0\n")
    assert [s.start for s in segments] == [0.0, 1.0] and segments[1].end is None
    hard = build_schedule(segments, 50, 25.0, torch.zeros(7))
    assert hard.shape == (1, 50, 7)
    assert torch.equal(hard[0, :25].argmax(-1), torch.full((25,), 3))
    assert torch.equal(hard[0, 25:].argmax(-1), torch.full((25,), 5))
    soft = build_schedule(segments, 50, 25.0, torch.zeros(7), crossfade=4)
    assert torch.equal(soft[:, :23], hard[:, :23]) and torch.equal(soft[:, 27:], hard[:, 27:])
    ramp = soft[0, 23:27, 5]
    assert torch.all(ramp[1:] > ramp[:-1]) and 0 < ramp[0] and ramp[-1] < 1
    assert torch.allclose(soft.sum(-1), torch.ones(1, 50))
    with pytest.raises(ValueError, match="line 1 .*start-end: emotion"):
        parse_schedule("happy from 2 s")
    with pytest.raises(ValueError, match="unknown emotion"):
        parse_schedule("0-1: joyful")


def test_constant_schedule_reproduces_plain_sampling_bit_for_bit(tiny_pipe, golden):
    identity = tiny_pipe.encode_image(golden["in.image"])
    audio = tiny_pipe.encode_audio(golden["in.waveform_16k"][:, :12000], 16000)
    emotion = torch.softmax(torch.arange(7.0)[None], -1)
    plain = tiny_pipe.sample_motion(identity, audio, Emotion(emotion), nfe=3).latents
    assert torch.equal(tiny_pipe.sample_motion(identity, audio, Emotion(constant_schedule(emotion, audio.num_frames)),
                                               nfe=3).latents, plain)
    # through the text form too: one line covering the whole clip
    text = schedule_from_text("0-: " + " ".join(repr(float(p)) for p in emotion[0]), audio.num_frames, audio.fps,
                              crossfade_seconds=0.4)
    assert torch.equal(tiny_pipe.sample_motion(identity, audio, Emotion(text), nfe=3).latents, plain)
    happy = schedule_from_text("0-0.2: neutral\n0.2-: happy", audio.num_frames, audio.fps)
    assert not torch.equal(tiny_pipe.sample_motion(identity, audio, Emotion(happy), nfe=3).latents, plain)


# ------------------------------------------------------------------ silence

def test_rest_on_silence_keeps_voiced_frames_and_rests_silent_ones():
    rate, fps, frames = 16000, 25.0, 40
    t = torch.arange(frames * 640) / rate
    speech = 0.3 * torch.sin(2 * math.pi * 220 * t)
    speech[10 * 640:30 * 640] = 1e-4 * torch.randn(20 * 640, generator=torch.Generator().manual_seed(0))  # -80 dB
    energy = frame_energy_db(speech, rate, fps, frames)[0]
    assert torch.all(energy[:10] > -15) and torch.all(energy[10:30] < -60)  # sine of 0.3: -13.5 dBFS
    motion = random_motion(frames)
    rested = rest_on_silence(motion, speech, rate, threshold_db=-40, fade=3, min_silence=5).latents
    voiced = list(range(10)) + list(range(30, 40))
    assert torch.equal(rested[:, voiced], motion.latents[:, voiced])
    deep = list(range(14, 26))  # 4 or more frames from speech: fully at r_s
    assert torch.equal(rested[:, deep], motion.reference[:, None].expand(1, len(deep), D))
    fading = (rested[:, 11] - motion.latents[:, 11]).norm() / (motion.reference - motion.latents[:, 11]).norm()
    assert abs(float(fading) - 0.5) < 1e-5  # distance 2 of fade 3: w = 2 / 4
    # a pause shorter than min_silence is left alone
    pause = speech.clone()
    pause[5 * 640:8 * 640] = 0
    kept = rest_on_silence(motion, pause[: 10 * 640], rate, min_silence=5)
    assert torch.equal(kept.latents[:, :8], motion.latents[:, :8])


def test_rest_weights_fade_in_frames():
    silent = torch.tensor([[False, True, True, True, True, True, True, False]])
    assert torch.allclose(rest_weights(silent, 2), torch.tensor([[0, 1 / 3, 2 / 3, 1, 1, 2 / 3, 1 / 3, 0]]))
    assert rest_weights(torch.ones(1, 3, dtype=torch.bool), 2).tolist() == [[1, 1, 1]]


# ------------------------------------------------------------------ paste back

def test_paste_back_with_zero_feather_replaces_the_crop_exactly_and_nothing_else():
    g = torch.Generator().manual_seed(0)
    photo = torch.rand(90, 120, 3, generator=g)
    frames = torch.rand(3, 40, 40, 3, generator=g)
    box = CropBox(left=50, top=20, size=40, source_width=120, source_height=90)
    out = paste_back(frames, photo, box, feather=0, chunk=2)
    assert out.shape == (3, 90, 120, 3)
    assert torch.equal(out[:, 20:60, 50:90], frames)
    outside = torch.ones(90, 120, dtype=torch.bool)
    outside[20:60, 50:90] = False
    assert torch.equal(out[:, outside], photo[outside].expand(3, -1, -1))
    feathered = paste_back(frames, photo, box, feather=8)
    assert torch.equal(feathered[:, outside], photo[outside].expand(3, -1, -1))
    assert torch.equal(feathered[:, 30:50, 60:80], frames[:, 10:30, 10:30])  # inside the ramps: the frame


def test_paste_back_of_a_crop_reaching_outside_the_picture():
    photo = torch.rand(60, 60, 3)
    box = CropBox(left=-10, top=30, size=40, source_width=60, source_height=60)  # past the left and bottom
    frames = torch.rand(1, 80, 80, 3)  # decoded at twice the box size: resized down
    out = paste_back(frames, photo, box, feather=6)
    assert torch.equal(out[0, :30], photo[:30]) and torch.equal(out[0, :, 30:], photo[:, 30:])
    mask = feather_mask(box, 6)
    assert mask[20, 0] == 1 and mask[39, 20] == 1  # edges outside the picture are not feathered
    assert mask[0, 20] < 1 and mask[20, 39] < 1  # edges inside it are


# ------------------------------------------------------------------ save / load

def test_motion_file_round_trips_bit_exactly_and_refuses_another_basis(tmp_path, tiny_pipe):
    weight = tiny_pipe.model.motion_autoencoder.dec.direction.weight
    motion = random_motion(12, clips=2)
    path = save_motion(motion, tmp_path / "motion" / "take.safetensors", weight)
    assert [p.name for p in path.parent.iterdir()] == ["take.safetensors"]  # no temp file left behind
    loaded = load_motion(path, weight)
    assert torch.equal(loaded.latents, motion.latents) and torch.equal(loaded.reference, motion.reference)
    assert loaded.fps == motion.fps
    assert torch.equal(load_motion(path, weight.to(torch.bfloat16)).latents, motion.latents)  # same model, bf16
    with pytest.raises(MotionFileError, match="different FLOAT model .*sample the motion again"):
        load_motion(path, weight + 0.5)
    other = tmp_path / "other.safetensors"
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, other)
    with pytest.raises(MotionFileError, match="not a FloatKit motion file"):
        load_motion(other, weight)


# ------------------------------------------------------------------ motion from video

def test_motion_from_video_batches_and_relative_transfer(tiny_pipe, golden):
    from float_models.edit.from_video import encode_frame_motions, motion_from_video

    portrait = golden["in.image"]
    video = torch.cat([portrait, portrait.flip(-1), portrait.roll(5, -1)])
    calls = []
    per_frame = encode_frame_motions(tiny_pipe, video, batch_size=2, callback=lambda d, t: calls.append((d, t)))
    assert calls == [(2, 3), (3, 3)]
    alone = torch.cat([tiny_pipe.encode_image(f[None]).motion for f in video])
    assert torch.allclose(per_frame, alone, atol=1e-5)  # batching does not change a frame's motion
    reference = tiny_pipe.encode_image(portrait).motion
    relative = motion_from_video(tiny_pipe, video, reference, mode="relative")
    assert torch.equal(relative.latents[0, 0], reference[0])  # starts in the portrait's own pose
    assert torch.allclose(relative.latents[0] - reference, per_frame - per_frame[:1], atol=1e-5)
    absolute = motion_from_video(tiny_pipe, video, reference, mode="absolute")
    assert torch.allclose(absolute.latents[0], per_frame, atol=1e-5)


@pytest.mark.integration  # decodes and re-encodes 9 frames
def test_motion_survives_a_decode_encode_round_trip_in_order_and_sign(tiny_pipe, golden):
    """encode(decode(s_r + r_t)) against r_t, for r_t = r_s + a_t q_0 sweeping one basis direction.

    The tiny fixture's auto-encoder is rule-made, not trained, so its encoder is not the decoder's
    inverse: here the round trip shrinks motion about 30-fold and mixes directions, and the plain error
    |enc - r_t| is no better than for unrelated motions (measured ~4.7 for both; a trained FLOAT would
    be far below). We therefore assert what any working chain must keep even on these weights, each
    against a baseline that a broken chain (frames not reaching the encoder, frames reordered, the
    relative transfer done wrong) would match:
    * sign: moving +a and -a (a = 0.1) from r_s changes the encoded motion in opposite ways (cosine
      measured -0.98: near r_s the round trip is a smooth map, locally linear; frames that ignore the
      motion give no change, mirrored or reordered ones give +1). Far from r_s (a = 4) this untrained
      map is strongly non-linear (cosine -0.17), so only small motions are used;
    * order: along the axis of that change the encoded frames of a_t in [-0.4, 0.4] come in the order of
      a_t (correlation near 1) while a shuffled pairing of frames and amplitudes correlates far less
      (the baseline, |r| < 0.5).
    """
    from float_models.edit.from_video import motion_from_video

    identity = tiny_pipe.encode_image(golden["in.image"])
    basis = tiny_pipe.basis()
    amplitude = torch.linspace(-0.4, 0.4, 9)  # steps of 0.1; a = 0 in the middle: the portrait's own pose
    truth = identity.motion + amplitude[:, None] * basis[:, 0]
    frames = tiny_pipe.decode(identity, Motion(truth[None], 25.0, identity.motion), batch_size=9)[0]
    encoded = motion_from_video(tiny_pipe, frames, identity.motion, mode="relative", batch_size=9).latents[0]
    change = encoded - encoded[4]
    up, down = change[5], change[3]  # a = +0.1 and -0.1
    assert up.norm() > 1e-3 and down.norm() > 1e-3  # the frames carry the motion at all
    sign = float(torch.nn.functional.cosine_similarity(up, down, dim=0))
    assert sign < -0.9, sign

    def correlation(x: torch.Tensor, a: torch.Tensor) -> float:
        x, a = x - x.mean(), a - a.mean()
        return float(x @ a / (x.norm() * a.norm()))

    along = change @ (up - down) / (up - down).norm()
    in_order = correlation(along, amplitude)
    shuffled = correlation(along, amplitude[torch.tensor([3, 7, 0, 5, 1, 8, 2, 6, 4])])
    assert in_order > 0.9 and abs(shuffled) < 0.5, (in_order, shuffled)
    error = (encoded - truth).norm(dim=-1).mean()  # reported for the comment above, not bounded
    assert torch.isfinite(error)
