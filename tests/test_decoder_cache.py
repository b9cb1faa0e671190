"""Issue 23, row 3 and row 7 on the CPU: the decoder's derived weights (110 MiB on CUDA for the
full-size fp16 decoder, more than its weights) live only while a decode runs, never on the module,
where ComfyUI would neither count nor move nor free them. CUDA's policy (phase convolution at
every level, the largest cache) is forced on the CPU."""

from __future__ import annotations

import copy

import pytest
import torch

from float_models import FloatPipeline, Motion
from float_models.nets import stylegan2_layers
from reachable import state_dict_bytes, tensor_bytes


@pytest.fixture
def cuda_policy(monkeypatch):
    monkeypatch.setitem(stylegan2_layers.PHASE_UPSAMPLE_MAX_CHANNELS, "cpu", None)


def _motion(identity, frames: int) -> Motion:  # noqa: ANN001
    return Motion(identity.motion[:, None].expand(1, frames, -1).clone(), 25.0, identity.motion)


def test_after_a_decode_the_decoder_holds_only_its_state_dict(tiny_pipe, golden, cuda_policy):
    pipe = FloatPipeline(copy.deepcopy(tiny_pipe.model), None, None)
    dec = pipe.model.motion_autoencoder.dec
    identity = pipe.encode_image(golden["in.image"])
    pipe.decode(identity, _motion(identity, 3), batch_size=2)
    dec(identity.latent, list(identity.features))  # a direct call too (the benches)
    assert tensor_bytes(dec) == state_dict_bytes(dec)


def test_a_decode_run_derives_the_weights_once(tiny_pipe, golden, cuda_policy, monkeypatch):
    pipe = FloatPipeline(copy.deepcopy(tiny_pipe.model), None, None)
    identity = pipe.encode_image(golden["in.image"])
    calls = []
    original = stylegan2_layers.upsampling_weight
    monkeypatch.setattr(stylegan2_layers, "upsampling_weight", lambda *a: calls.append(1) or original(*a))
    pipe.decode(identity, _motion(identity, 3), batch_size=1)
    layers = sum(1 for m in pipe.model.motion_autoencoder.dec.modules()
                 if isinstance(m, stylegan2_layers.ModulatedConv2d) and m.upsample)
    assert len(calls) == layers  # once per upsampling layer for 3 batches, not per batch


def test_overflowing_batches_share_one_float32_copy_without_the_cache(tiny_pipe, golden, cuda_policy, monkeypatch):
    """Row 7: the float32 re-decode copies the decoder once per run, and copies weights only."""
    from float_models import pipeline as pipeline_module

    model = copy.deepcopy(tiny_pipe.model)
    with torch.no_grad():  # raw frames past float16's 65504 (as in test_precision)
        model.motion_autoencoder.dec.to_rgbs[-1].conv[0].weight.mul_(1e4)
        model.motion_autoencoder.dec.to_rgbs[-1].bias.fill_(6e4)
    half = FloatPipeline(model.half(), None, None)
    identity = tiny_pipe.encode_image(golden["in.image"])
    copies = []
    original = copy.deepcopy

    def counting(value, memo=None):  # noqa: ANN001
        made = original(value, memo)
        if isinstance(value, torch.nn.Module):
            copies.append((tensor_bytes(made), state_dict_bytes(made)))
        return made

    monkeypatch.setattr(pipeline_module.copy, "deepcopy", counting)
    frames = half.decode(identity, _motion(identity, 3), batch_size=1)
    assert torch.isfinite(frames).all()
    assert len(copies) == 1 and copies[0][0] == copies[0][1]
