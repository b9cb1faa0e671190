"""Issue 23 in the node pack: what ComfyUI's model management sees, moves and frees (rows 3-6), on
the stand-ins of tests/comfy_stubs, which follow the real ModelPatcher: model_size() is the
state_dict's bytes, a full load/unload is module.to(), --novram moves no plain module."""

from __future__ import annotations

import gc
import logging
import weakref

import pytest
import torch

import comfy_stubs
from test_nodes import import_pack, models_home, node_inputs  # noqa: F401 - models_home is a fixture

mm = comfy_stubs.model_management


@pytest.fixture
def pack(models_home):  # noqa: F811
    comfy_stubs.install(models_home)
    mm._reset()
    return import_pack()


def _fake_gpu_host(monkeypatch) -> None:
    """ComfyUI on a CUDA machine that runs fp16 well (only answers; nothing touches a GPU)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    monkeypatch.setattr(mm, "get_torch_device", lambda: torch.device("cuda", 0))
    monkeypatch.setattr(mm, "should_use_fp16", lambda *a, **k: True)


# Row 5: --novram leaves plain modules on the CPU, where fp16 took 30 s a frame against 2 s in fp32.
def test_novram_runs_float_on_the_cpu_in_fp32(pack, monkeypatch, caplog):
    _fake_gpu_host(monkeypatch)
    monkeypatch.setattr(mm, "vram_state", mm.VRAMState.NO_VRAM)
    with caplog.at_level(logging.WARNING, logger="float_models"):
        pipe = pack.nodes.models.load("float.pth", "wav2vec2-base-960h", "none", "auto", "auto")
        pipeline = pipe.ready("float", "audio")
    for net in pipeline.networks().values():
        for p in net.parameters():
            assert p.device.type == "cpu" and p.dtype == torch.float32
    assert "--novram" in caplog.text


def test_a_network_left_on_the_cpu_in_half_precision_runs_fp32(pack, monkeypatch):
    _fake_gpu_host(monkeypatch)
    pipe = pack.nodes.models.load("float.pth", "wav2vec2-base-960h", "none", "auto", "auto")
    dec = pipe.pipeline.model.motion_autoencoder.dec
    assert next(dec.parameters()).dtype == torch.float16  # the GPU precision, loaded on the CPU offload device
    monkeypatch.setattr(mm, "vram_state", mm.VRAMState.NO_VRAM)  # ComfyUI then moves nothing
    pipe.ready("float")
    assert next(dec.parameters()).dtype == torch.float32
    assert next(pipe.pipeline.model.fmt.parameters()).dtype == torch.float32  # auto: the sampler runs fp32


def _run_everything(pack, monkeypatch) -> tuple:  # noqa: ANN001
    """Load through the loader node, then encode, sample (through the runner's buffers, as on CUDA)
    and decode under CUDA's decoder policy; returns (FloatKitPipe, weak reference to the FMT)."""
    library = pack.float_models
    monkeypatch.setitem(library.nets.stylegan2_layers.PHASE_UPSAMPLE_MAX_CHANNELS, "cpu", None)
    monkeypatch.setattr(library.sampling, "default_step_mode", lambda device: "static")
    pipe = pack.nodes.models.load("float.pth", "wav2vec2-base-960h", "none", "auto", "auto")
    inputs = node_inputs(4800)
    pipeline = pipe.ready("float", "audio")
    image = inputs["image"].permute(0, 3, 1, 2) * 2 - 1
    identity = pipeline.encode_image(image)
    audio = pipeline.encode_audio(inputs["audio"]["waveform"][0, :1], 16000)
    motion = pipeline.sample_motion(identity, audio, library.Emotion.of_label("happy"), nfe=3)
    pipeline.decode(identity, motion, batch_size=4)
    assert library.devices.device_caches(pipeline.model.fmt)["velocity_steps"]  # the runner was kept
    return pipe, weakref.ref(pipeline.model.fmt)


def test_after_comfyui_unloads_float_the_pack_holds_what_comfyui_counts(pack, monkeypatch):
    """Rows 3 and 4: after ComfyUI's unload (ModelPatcher.detach -> module.to(offload)) every byte
    the pack holds is one that model_size() counts, and when ComfyUI drops the loader's output the
    FMT is freed at once (no reference cycle waiting for a garbage collection)."""
    from reachable import tensor_bytes

    pipe, fmt = _run_everything(pack, monkeypatch)
    mm.unload_all_models()
    assert not mm.current_loaded_models
    counted = sum(p.model_size() for p in pipe.patchers.values())
    assert tensor_bytes(pipe) == counted
    mm._reset()  # the stand-in's record of load calls holds the patchers; ComfyUI keeps no such list
    gc.collect()
    gc.disable()
    try:
        del pipe
        assert fmt() is None
    finally:
        gc.enable()
