"""Speed paths: activation vs weight modulation, the single-call warp, long-speech windowing."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from float_models import Motion
from float_models.nets.audio_encoder import frame_hidden_states, plan_windows, seam_weights, windowed_audio_features
from float_models.nets.motion_decoder import warp
from float_models.nets.stylegan2_layers import ModulatedConv2d, use_weight_modulation


@pytest.mark.parametrize("kind", ["upsample_fused", "upsample_transposed", "plain", "toflow_1x1"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_modulation_formulations_agree(kind, channels_last):
    torch.manual_seed(0)
    out_channel = {"upsample_fused": 32, "upsample_transposed": 64, "plain": 24, "toflow_1x1": 3}[kind]
    layer = ModulatedConv2d(16, out_channel, 1 if kind == "toflow_1x1" else 3, style_dim=20,
                            demodulate=kind != "toflow_1x1", upsample=kind.startswith("upsample"))
    with torch.no_grad():
        layer.modulation.weight.normal_()
        layer.modulation.bias.uniform_(-1.5, 1.5)  # negative style scales too
    x = torch.randn(3, 16, 9, 11)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    style = torch.randn(3, 20)
    with torch.no_grad():
        wanted = use_weight_modulation(layer, True)(x, style)
        got = use_weight_modulation(layer, False)(x, style)
    assert got.shape == wanted.shape
    assert (got - wanted).abs().max().item() <= 1e-5 * max(1.0, wanted.abs().max().item())


def test_modulation_cache_follows_weight_updates():
    layer = ModulatedConv2d(4, 5, 3, style_dim=6)
    x, style = torch.randn(2, 4, 6, 6), torch.randn(2, 6)
    with torch.no_grad():
        before = layer(x, style)
        layer.weight.mul_(-1.0)
        assert torch.allclose(layer(x, style), -before, atol=1e-6)


def test_warp_of_one_source_matches_expanded_sampling():
    torch.manual_seed(1)
    feature = torch.randn(1, 5, 12, 12)
    grid = torch.rand(4, 12, 12, 2) * 2.2 - 1.1
    wanted = F.grid_sample(feature.expand(4, -1, -1, -1), grid, align_corners=False)
    assert torch.equal(warp(feature, grid), wanted)
    assert torch.equal(warp(feature.contiguous(memory_format=torch.channels_last), grid), wanted)
    with pytest.raises(ValueError, match="give 1 or 4"):
        warp(torch.randn(2, 5, 12, 12), grid)


def test_decoder_batched_matches_reference_frames(tiny_pipe, golden):
    identity = tiny_pipe.encode_image(golden["in.image"])
    motion = identity.motion + 0.3 * torch.randn(3, identity.motion.shape[-1], generator=torch.Generator().manual_seed(3))
    mae = tiny_pipe.model.motion_autoencoder
    with torch.inference_mode():
        use_weight_modulation(mae, True)
        try:
            wanted = torch.cat([mae.decode(identity, m[None]) for m in motion])
        finally:
            use_weight_modulation(mae, False)
        got = mae.decode(identity, motion)
    diff = (got - wanted).abs()
    assert diff.max().item() <= 5e-2 and diff.mean().item() <= 5e-4, (diff.max().item(), diff.mean().item())


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


def test_auto_decode_batch_size_follows_free_memory(monkeypatch):
    from float_models import pipeline

    per_frame = pipeline.DECODE_BYTES_PER_FRAME_512
    share = pipeline.DECODE_MEMORY_SHARE["cuda"]
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (int(3 * per_frame / share), 0))
    assert pipeline.auto_decode_batch_size("cuda", 512) == 3
    assert pipeline.auto_decode_batch_size("cuda", 256) == 12  # a quarter of the pixels
    assert pipeline.auto_decode_batch_size("cuda", 512, torch.float16) == 6  # half the bytes
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (10 ** 15, 0))
    assert pipeline.auto_decode_batch_size("cuda", 512) == pipeline.DECODE_MAX_BATCH["cuda"]
    monkeypatch.setattr(pipeline, "available_host_memory", lambda: 64 * 2 ** 30)
    assert pipeline.auto_decode_batch_size("cpu", 512) == pipeline.DECODE_MAX_BATCH["cpu"]
    monkeypatch.setattr(pipeline, "available_host_memory", lambda: 0)
    assert pipeline.auto_decode_batch_size("cpu", 512) == 1


def test_available_host_memory_reads_memavailable_then_free_pages(monkeypatch):
    import builtins
    import os

    from float_models import pipeline

    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", _opener(real_open, "MemTotal: 900 kB\nMemAvailable: 123 kB\n"))
    assert pipeline.available_host_memory() == 123 * 1024
    monkeypatch.setattr(builtins, "open", _opener(real_open, None))  # no /proc (macOS, Windows)
    monkeypatch.setattr(os, "sysconf", lambda name: {"SC_AVPHYS_PAGES": 5, "SC_PAGE_SIZE": 4096}[name])
    assert pipeline.available_host_memory() == 5 * 4096


def _opener(real_open, meminfo: str | None):
    import io

    def fake(path, *args, **kwargs):
        if str(path) != "/proc/meminfo":
            return real_open(path, *args, **kwargs)
        if meminfo is None:
            raise FileNotFoundError(path)
        return io.StringIO(meminfo)

    return fake


def test_decode_batches_rejects_bad_batch_size(tiny_pipe, golden):
    identity = tiny_pipe.encode_image(golden["in.image"])
    with pytest.raises(ValueError, match="batch_size"):
        next(tiny_pipe.decode_batches(identity, Motion(identity.motion[:, None], 25.0, identity.motion), 0))


def test_decoder_runs_with_weights_loaded_in_inference_mode(tiny_files, golden):
    """ComfyUI loads models under torch.inference_mode: such weights have no version counter."""
    from float_models import load_pipeline

    with torch.inference_mode():
        pipe = load_pipeline(tiny_files.checkpoint, tiny_files.audio_encoder, None, device="cpu")
    identity = pipe.encode_image(golden["in.image"])
    frames = pipe.decode(identity, Motion(golden["default.motion"][:, :2], 25.0, identity.motion))
    assert frames.shape == (1, 2, 3, 64, 64) and torch.isfinite(frames).all()


def test_modulation_works_on_models_built_in_inference_mode():
    with torch.inference_mode():
        layer = ModulatedConv2d(4, 32, 3, style_dim=6, upsample=True)
        x, style = torch.randn(2, 4, 5, 5), torch.randn(2, 6)
        wanted = use_weight_modulation(layer, True)(x, style)
        got = use_weight_modulation(layer, False)(x, style)
    assert torch.allclose(got, wanted, atol=1e-5)
