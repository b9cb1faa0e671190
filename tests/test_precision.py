"""Precision: the warp and the rounding-sensitive steps run in float32 at every model dtype, the
CPU never runs half precision, and one device/precision rule serves the library, CLI and nodes."""

from __future__ import annotations

import copy
import importlib
import logging
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from float_models import Emotion, Motion, devices
from float_models.guidance import combine
from float_models.nets.motion_autoencoder import MotionAutoencoder
from float_models.nets.motion_decoder import MotionBasis, flow_grid, warp
from float_models.nets.stylegan2_layers import ModulatedConv2d, use_weight_modulation

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
# The astronaut scene and its PSNR are the README table's (bench/precision.py): one definition for both.
from precision import astronaut, gentle_flow, psnr  # noqa: E402
REDUCED = [torch.bfloat16, torch.float16]


class GridSampleRecorder(TorchFunctionMode):
    """Records the dtypes of every F.grid_sample call's input and grid."""

    def __init__(self):
        super().__init__()
        self.calls: list[tuple[torch.dtype, torch.dtype]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.grid_sample:
            self.calls.append((args[0].dtype, (args[1] if len(args) > 1 else kwargs["grid"]).dtype))
        return func(*args, **kwargs)


@pytest.fixture(scope="module")
def autoencoder() -> MotionAutoencoder:
    torch.manual_seed(0)
    return MotionAutoencoder(size=64, dim=64, dim_motion=8).eval()


@pytest.mark.parametrize("reference", [False, True], ids=["fast", "weight_modulation"])
@pytest.mark.parametrize("dtype", REDUCED, ids=str)
def test_every_grid_sample_runs_in_float32(autoencoder, dtype, reference):
    with torch.no_grad():
        identity = autoencoder.encode(torch.rand(1, 3, 64, 64) * 2 - 1)
        model = use_weight_modulation(copy.deepcopy(autoencoder).to(dtype), reference)
        features = tuple(f.to(dtype) for f in identity.features)
        motion = torch.randn(3, 64, dtype=dtype) * 0.1
        with GridSampleRecorder() as recorder:
            frames = model.dec(identity.latent.to(dtype) + motion, features)
    assert len(recorder.calls) == len(features)  # one warp per level of the pyramid
    assert all(calls == (torch.float32, torch.float32) for calls in recorder.calls), recorder.calls
    assert frames.dtype == dtype and torch.isfinite(frames).all()  # the CPU's half grid_sample gives NaN


def warp_at(image: torch.Tensor, flow: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The library's warp as the decoder runs it at `dtype`: inputs and result in that dtype."""
    return warp(image.to(dtype), flow_grid(flow.to(dtype))).to(dtype).float()


def test_astronaut_warp_keeps_50_db_at_every_precision():
    image, flow = astronaut(512), gentle_flow(512)
    wanted = warp_at(image, flow, torch.float32)
    moved = (wanted - image).abs().mean().item()
    assert moved > 0.01  # the flow does move the picture
    scores = {dtype: psnr(warp_at(image, flow, dtype), wanted) for dtype in REDUCED}
    assert all(score >= 50.0 for score in scores.values()), scores
    # The same warp with its grid rounded to bfloat16 (the decoder before the fix) scores far lower.
    rounded = warp(image, flow_grid(flow).to(torch.bfloat16).float())
    assert psnr(rounded, wanted) < 40.0


def test_demodulation_sums_in_float32():
    layer = ModulatedConv2d(8, 4, 3, style_dim=16).half()
    d = layer.demodulation(torch.zeros(2, 8, dtype=torch.float16))  # 1e-8 is 0 in float16: rsqrt(0) = inf
    assert d.dtype == torch.float16 and torch.isfinite(d).all()
    style = torch.randn(2, 8)
    exact = layer.float().demodulation(style.half().float())
    assert torch.allclose(layer.half().demodulation(style.half()).float(), exact, rtol=2 ** -10)


def test_motion_basis_and_reference_motion_stay_float32():
    basis = MotionBasis(64, 8).to(torch.bfloat16)
    q = basis.basis()
    assert q.dtype == torch.float32
    assert torch.allclose(q.T @ q, torch.eye(8), atol=1e-6)  # rounded to bfloat16 it is only ~4e-3
    assert basis(torch.randn(3, 8, dtype=torch.bfloat16)).dtype == torch.float32


def test_guidance_combination_in_float32():
    u, a, ae = (torch.randn(2, 5, 4).to(torch.bfloat16) for _ in range(3))
    got = combine(u, a, ae, 2.0, 1.5)
    u, a, ae = u.float(), a.float(), ae.float()
    assert got.dtype == torch.float32 and torch.equal(got, u + 2.0 * (a - u) + 1.5 * (ae - a))


# ------------------------------------------------------------------ the device and precision rule

def test_reduced_precision_becomes_float32_on_the_cpu(caplog):
    with caplog.at_level(logging.WARNING, logger="float_models"):
        assert devices.choose_dtype("bf16", "cpu") == torch.float32
        assert devices.choose_dtype("fp16", torch.device("cpu")) == torch.float32
        assert devices.choose_dtype("auto", "cpu") == torch.float32
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and "bfloat16 is not used on the CPU" in lines[0] and "running float32" in lines[0]


def test_gpu_precision_rule(monkeypatch):
    # Only the rule is tested here (torch.device("cuda") needs no GPU); the GPU figures are in the README.
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    assert devices.choose_dtype("fp16", "cuda") == torch.float16
    assert devices.choose_dtype("bf16", "cuda") == torch.bfloat16
    assert devices.choose_dtype("auto", "cuda", fp16_ok=True) == torch.float16
    assert devices.choose_dtype("auto", "cuda", fp16_ok=False, bf16_ok=True) == torch.bfloat16
    assert devices.choose_dtype("auto", "cuda", fp16_ok=False, bf16_ok=False) == torch.float32
    assert devices.choose_dtype("auto", "mps") == torch.float32
    with pytest.raises(ValueError, match="choose one of auto, fp32, fp16, bf16"):
        devices.choose_dtype("fp8", "cuda")


def test_device_choice():
    assert devices.choose_device("cpu") == torch.device("cpu")
    assert devices.choose_device("auto", auto=torch.device("cpu")) == torch.device("cpu")
    assert devices.choose_device("auto") == devices.default_device()
    with pytest.raises(ValueError, match="choose one of auto, cpu, cuda, mps"):
        devices.choose_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            devices.choose_device("cuda")


def test_cli_and_nodes_use_the_library_rule(tmp_path, monkeypatch):
    import comfy_stubs
    from float_models.app import cli
    from test_nodes import import_pack

    comfy_stubs.install(tmp_path)
    pack = import_pack()  # its library is <pack>.float_models, a second copy of the modules
    _comfy = pack.nodes._comfy
    importlib.import_module(f"{pack.__name__}.float_models.devices")
    calls = []
    library = sys.modules[f"{pack.__name__}.float_models.devices"]
    assert _comfy.choose_dtype is library.choose_dtype  # the nodes import the library's rule at the top
    for module in (devices, _comfy):
        original = module.choose_dtype
        monkeypatch.setattr(module, "choose_dtype", lambda *a, _f=original, **k: calls.append(a) or _f(*a, **k))
    assert cli._device_and_dtype("cpu", "bf16", quiet=True) == (torch.device("cpu"), torch.float32)
    assert _comfy.precision("bf16", torch.device("cpu")) == torch.float32
    assert _comfy.devices("cpu") == (torch.device("cpu"), torch.device("cpu"))
    assert calls == [("bf16", torch.device("cpu"))] * 2
    with pytest.raises(cli.InputError, match="^--device tpu: unknown device"):
        cli._device_and_dtype("tpu", "auto")


# ------------------------------------------------------------------ load_pipeline on the CPU

def test_load_pipeline_bf16_on_cpu_decodes_the_fp32_frames(tiny_files, tiny_pipe, golden, caplog):
    from float_models import load_pipeline

    with caplog.at_level(logging.WARNING, logger="float_models"):
        pipe = load_pipeline(tiny_files.checkpoint, tiny_files.audio_encoder, None, device="cpu",
                             dtype=torch.bfloat16)
    assert [r.getMessage() for r in caplog.records if r.name == "float_models"] == [
        "FloatKit: bfloat16 is not used on the CPU (slow there, and some of its kernels return NaN in half "
        "precision); running float32"]
    assert {p.dtype for p in pipe.model.parameters()} == {torch.float32}
    identity = tiny_pipe.encode_image(golden["in.image"])
    noise = torch.randn(1, 3, identity.motion.shape[-1], generator=torch.Generator().manual_seed(0))
    motion = Motion(identity.motion[:, None] + 0.1 * noise, 25.0, identity.motion)
    frames = pipe.decode(pipe.encode_image(golden["in.image"]), motion)
    assert torch.isfinite(frames).all()
    assert torch.equal(frames, tiny_pipe.decode(identity, motion))


def test_overflowing_half_decoder_frames_are_decoded_again_in_float32(tiny_pipe, golden, caplog):
    from float_models import FloatPipeline

    model = copy.deepcopy(tiny_pipe.model)
    with torch.no_grad():  # raw frames near 8e4: past float16's 65504, with weights that fit float16
        model.motion_autoencoder.dec.to_rgbs[-1].conv[0].weight.mul_(1e4)
        model.motion_autoencoder.dec.to_rgbs[-1].bias.fill_(6e4)
    half = FloatPipeline(model.half(), None, None)
    identity = tiny_pipe.encode_image(golden["in.image"])
    motion = Motion(identity.motion[:, None].expand(1, 2, -1), 25.0, identity.motion)
    rounded = type(identity)(identity.latent.half(), tuple(f.half() for f in identity.features), identity.motion,
                             identity.coefficients)
    overflowing = half.model.motion_autoencoder.decode(rounded, motion.latents[0].half())
    assert not torch.isfinite(overflowing).all()  # it overflows
    with caplog.at_level(logging.WARNING, logger="float_models"):
        frames = half.decode(identity, motion)
    assert torch.isfinite(frames).all() and frames.abs().max() > 65504
    wanted = FloatPipeline(copy.deepcopy(half.model).float(), None, None).decode(identity, motion)
    assert torch.allclose(frames, wanted, rtol=1e-5, atol=1e-3)  # the same weights, in float32 arithmetic
    assert [r.getMessage() for r in caplog.records] == [
        "FloatKit: the float16 decoder overflowed (inf or NaN); the frames concerned are decoded again in float32"]


def test_an_overflowing_half_sampler_is_refused_not_decoded(tiny_pipe, golden):
    from float_models import AudioFeatures, FloatPipeline

    model = copy.deepcopy(tiny_pipe.model)
    with torch.no_grad():
        model.fmt.decoder.linear.weight.mul_(1e3)  # velocities past float16's 65504
        model.fmt.decoder.linear.bias.fill_(65504.0)  # float16's largest: any positive addend overflows
    half = FloatPipeline(model.half(), None, None)
    identity = tiny_pipe.encode_image(golden["in.image"])
    audio = AudioFeatures(torch.zeros(1, 5, tiny_pipe.config.dim_a), 25.0)
    with pytest.raises(FloatingPointError, match="^the motion sampler overflowed in float16 .*precision bf16 or fp32$"):
        half.sample_motion(identity, audio, Emotion(torch.full((1, 7), 1 / 7)), nfe=2)


@pytest.mark.integration  # about a minute on 2 cores
def test_precision_bench_quick_runs(monkeypatch):
    """bench/precision.py --quick (smoke: no timing asserted)."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import precision

    result = precision.main(["--quick", "--seconds", "0.2", "--frames", "1"])
    for name in ("bf16", "fp16"):
        warp = result["warp"][name]
        assert warp["warp_psnr_db"] >= 50 and warp["warp_psnr_db"] > warp["grid_in_dtype_psnr_db"] + 10
        assert result[name]["finite"] and 0 < result[name]["motion_max_abs_dev"] < result[name]["motion_max_abs"]
