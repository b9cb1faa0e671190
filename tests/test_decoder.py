"""The decoder's fast paths (activation vs weight modulation, the single-call warp, batching) and the
decode batch size chosen from free memory. Long-speech windowing: tests/test_audio_encoder.py."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from float_models import Motion
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
