"""`python -m float_models check-device`: is FloatKit's fast path right on this device, and how fast?

On rule-made weights made on the fly (`nets.rule_weights`: no model file is read), it runs
each fast path beside its reference on the same inputs and prints one table:
* sampling: the fast step mode (CUDA graph replay on CUDA; the same static buffers on the CPU)
  against eager, in the sampler's precision, and that precision against fp32 where they differ;
* decoding: the fast formulation (activation modulation, phase-convolution upsampling,
  channels-last) against the official one (weight modulation, transposed convolution + blur)
  in fp32, and the chosen decoder precision against fp32.
Each row gives the RMS of the difference relative to the reference's RMS, what is allowed,
and frames per second of the fast path. Full size it takes well under a minute on a GPU; --quick
runs a 64 px model (what CI runs on the CPU). bench/gpu.py records the same rows.
Exit status 1 when a fast path disagrees: the table then says which switch turns it off.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass
from typing import Callable, Iterator

import torch

from .. import sampling
from ..devices import DTYPES, choose_device, choose_dtype, sampler_dtype
from ..nets import stylegan2_layers
from ..nets.config import FloatConfig
from ..nets.model import FloatModel
from ..nets.rule_weights import rule_made_model
from ..types import Identity

QUICK = FloatConfig(input_size=64, dim_h=64, fmt_depth=2, num_heads=4, audio_layers=2, audio_hidden=32)
# Allowed RMS of the difference, relative to the reference's RMS. The same arithmetic in another
# order (graph replay, another kernel) differs by rounding only (the fp32 formulations by 2.7e-4
# at most and 1e-5 in RMS on the CPU); another precision by its rounding carried through the
# network (bf16 moved full-size motion by up to 0.13 of 7.6 on an H100, fp16 by 0.017).
SAME_PRECISION = 1e-3
REDUCED = {torch.float16: 0.02, torch.bfloat16: 0.1}
ISSUES = "https://github.com/floatkit/comfyui-floatkit/issues"  # the project page README gives
SWITCHES = {"sampling": "FLOATKIT_CUDA_GRAPHS=0", "formulation": "FLOATKIT_PHASE_UPSAMPLING=0",
            "precision": "precision fp32 (loader node) or --precision fp32 (CLI)"}


@dataclass
class Row:
    what: str
    fast: str
    reference: str
    difference: float  # RMS(fast - reference) / RMS(reference)
    allowed: float
    frames_per_s: float | None
    switch: str
    note: str = ""

    @property
    def agrees(self) -> bool:
        return self.difference <= self.allowed and not self.note  # NaN never agrees


def run_check(device: torch.device | str, precision: str = "auto", quick: bool = False,
              seconds: float | None = None, decode_frames: int | None = None) -> dict:
    """The check as data: {"device", "decoder_dtype", "sampler_dtype", "rows": [Row...], ...}."""
    device = torch.device(device)
    config = QUICK if quick else FloatConfig()
    seconds = seconds or (1.0 if quick else 10.0)
    decode_frames = decode_frames or (2 if quick or device.type == "cpu" else 64)
    dtype = choose_dtype(precision, device)
    motion_dtype = sampler_dtype(None if precision == "auto" else dtype, device)
    started = time.perf_counter()
    master = rule_made_model(config)  # fp32 on the CPU; one fp32 copy on the device, and one per other dtype
    model32 = _placed(master, device, torch.float32)
    inputs = _inputs(model32, device, seconds)
    rows = _sampling_rows(master, model32, device, motion_dtype, inputs)
    motion = inputs["motion"]
    rows += _decoding_rows(master, model32, device, dtype, inputs["identity"], motion[:, :decode_frames])
    return {"device": _device_name(device), "allocator": _allocator(device), "torch": torch.__version__,
            "decoder_dtype": _name(dtype), "sampler_dtype": _name(motion_dtype), "quick": quick,
            "input_size": config.input_size, "seconds": seconds, "rows": rows,
            "wall_s": time.perf_counter() - started}


def _inputs(model: FloatModel, device: torch.device, seconds: float) -> dict:
    """A random portrait's identity, random audio features, and fp32 eager motion for decoding."""
    config = model.config
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, config.input_size, config.input_size, generator=generator) * 2 - 1
    frames = config.frames_for_samples(int(16000 * seconds))
    features = torch.randn(1, frames, config.dim_a, generator=generator)
    with torch.inference_mode():
        identity = model.motion_autoencoder.encode(image.to(device))
    return {"identity": identity, "features": features.to(device), "frames": frames, "motion": None,
            "num_frames": config.num_frames, "num_prev_frames": config.num_prev_frames}


def _sampling_rows(master: FloatModel, model32: FloatModel, device: torch.device, dtype: torch.dtype,
                   inputs: dict) -> list[Row]:
    fast_mode = "graph" if device.type == "cuda" else "static"
    reference = model32.fmt
    eager, _ = _timed(device, lambda: _sample(reference, inputs, "eager"))
    inputs["motion"] = eager
    fmt = reference if dtype == torch.float32 else _placed(master, device, dtype).fmt
    same = eager if fmt is reference else _sample(fmt, inputs, "eager")  # the same run when fp32
    fast, _ = _timed(device, lambda: _sample(fmt, inputs, fast_mode))  # warm-up and capture
    fast, seconds = _timed(device, lambda: _sample(fmt, inputs, fast_mode))  # replays
    note = ""
    if fast_mode == "graph" and not sampling.graphs_on():  # off from the start, or switched off by this run
        note = "graphs switched off: " + (sampling._GRAPHS_OFF[0] if sampling._GRAPHS_OFF else "FLOATKIT_CUDA_GRAPHS=0")
    label = {"graph": "CUDA graph replay", "static": "static buffers"}[fast_mode]
    rows = [Row("sampling", f"{label}, {_name(dtype)}", f"eager, {_name(dtype)}", _relative(fast, same),
                SAME_PRECISION, inputs["frames"] / seconds, SWITCHES["sampling"], note)]
    if dtype != torch.float32:
        rows.append(Row("sampling", f"eager, {_name(dtype)}", "eager, fp32", _relative(same, eager),
                        REDUCED[dtype], None, SWITCHES["precision"]))
    return rows


def _decoding_rows(master: FloatModel, model32: FloatModel, device: torch.device, dtype: torch.dtype,
                   identity: Identity, motion: torch.Tensor) -> list[Row]:
    frames = motion.shape[1]
    dec32 = model32.motion_autoencoder.dec
    with _no_tf32():  # the formulations compared in full fp32 (CUDA rounds fp32 convolutions to TF32 by default)
        with _official_formulation(dec32, device):
            official, _ = _timed(device, lambda: _decode(dec32, identity, motion, torch.float32))
        fast32 = _decode(dec32, identity, motion, torch.float32)
    _decode(dec32, identity, motion[:, :1], torch.float32)  # warm-up (cuDNN's algorithm search)
    timed32, seconds32 = _timed(device, lambda: _decode(dec32, identity, motion, torch.float32))
    rows = [Row("decoding", "activation modulation, device's upsampling, fp32", "weight modulation (official), fp32",
                _relative(fast32, official), SAME_PRECISION, frames / seconds32, SWITCHES["formulation"])]
    if dtype != torch.float32:
        dec = _placed(master, device, dtype).motion_autoencoder.dec
        _decode(dec, identity, motion[:, :1], dtype)
        fast, seconds = _timed(device, lambda: _decode(dec, identity, motion, dtype))
        rows.append(Row("decoding", f"fast formulation, {_name(dtype)}", "fast formulation, fp32",
                        _relative(fast, timed32), REDUCED[dtype], frames / seconds, SWITCHES["precision"]))
    return rows


def _sample(fmt: torch.nn.Module, inputs: dict, mode: str) -> torch.Tensor:
    with torch.inference_mode():
        return sampling.sample_motion(fmt, inputs["features"], inputs["identity"].motion, torch.full((1, 7), 1 / 7),
                                      num_frames=inputs["num_frames"], num_prev_frames=inputs["num_prev_frames"],
                                      nfe=10, seed=15, step_mode=mode)


def _decode(dec: torch.nn.Module, identity: Identity, motion: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    latent = (identity.latent + motion[0]).to(dtype)
    with torch.inference_mode():
        return dec(latent, [f.to(dtype) for f in identity.features]).float()


@contextlib.contextmanager
def _official_formulation(dec: torch.nn.Module, device: torch.device) -> Iterator[None]:
    """Weight modulation, transposed convolution + blur, the official layout."""
    policy = stylegan2_layers.PHASE_UPSAMPLE_MAX_CHANNELS
    saved = policy.get(device.type, stylegan2_layers.FUSED_UPSAMPLE_MAX_CHANNELS)
    policy[device.type] = 0
    stylegan2_layers.use_weight_modulation(dec)
    try:
        yield
    finally:
        stylegan2_layers.use_weight_modulation(dec, False)
        policy[device.type] = saved


@contextlib.contextmanager
def _no_tf32() -> Iterator[None]:
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def _placed(master: FloatModel, device: torch.device, dtype: torch.dtype) -> FloatModel:
    import copy

    return copy.deepcopy(master).to(device, dtype)


def _timed(device: torch.device, step: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, float]:
    _sync(device)
    start = time.perf_counter()
    out = step()
    _sync(device)
    return out, time.perf_counter() - start


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _relative(value: torch.Tensor, reference: torch.Tensor) -> float:
    value, reference = value.double(), reference.double()
    rms = float(reference.square().mean().sqrt())
    return float((value - reference).square().mean().sqrt()) / max(rms, 1e-12)  # NaN stays NaN


def _name(dtype: torch.dtype) -> str:
    return {d: n for n, d in DTYPES.items()}[dtype]


def _device_name(device: torch.device) -> str:
    return f"{device} ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else str(device)


def _allocator(device: torch.device) -> str | None:
    if device.type != "cuda":
        return None
    get = getattr(torch.cuda, "get_allocator_backend", None)
    return get() if get else None


def format_table(result: dict) -> str:
    """The agreement table, and what to do when a row disagrees."""
    head = (f"FloatKit device check on {result['device']}"
            + (f", allocator {result['allocator']}" if result.get("allocator") else "")
            + f": decoder {result['decoder_dtype']}, sampler {result['sampler_dtype']}, torch {result['torch']}"
            + (" (quick)" if result["quick"] else ""))
    header = f"{'stage':<9} {'fast path':<48} {'reference':<36} {'diff RMS/RMS':>12} {'allowed':>8} {'frames/s':>9}  verdict"
    lines = [head, header, "-" * len(header)]
    for row in result["rows"]:
        fps = "-" if row.frames_per_s is None else f"{row.frames_per_s:.1f}"
        verdict = "agrees" if row.agrees else "DISAGREES" + (f" ({row.note})" if row.note else "")
        lines.append(f"{row.what:<9} {row.fast:<48} {row.reference:<36} {row.difference:>12.2e} {row.allowed:>8.0e} "
                     f"{fps:>9}  {verdict}")
    bad = [row for row in result["rows"] if not row.agrees]
    if bad:
        switches = sorted({row.switch for row in bad})
        lines.append("Some fast paths disagree with their reference on this device. Turn them off with: "
                     + "; ".join(switches) + f". Please report it with this table: {ISSUES}")
    else:
        lines.append(f"All fast paths agree with their references ({result['wall_s']:.0f} s).")
    return "\n".join(lines)


def main(device: str = "auto", precision: str = "auto", quick: bool = False, seconds: float | None = None,
         decode_frames: int | None = None, json_path: str | None = None) -> int:
    """Run the check, print its table (and write JSON); 0 when every fast path agrees, else 1."""
    chosen = torch.device(device) if ":" in device else choose_device(device)
    result = run_check(chosen, precision, quick, seconds, decode_frames)
    print(format_table(result), flush=True)
    if json_path:
        with open(json_path, "w", encoding="utf-8") as out:
            json.dump(as_json(result), out, indent=1)
    return 0 if all(row.agrees for row in result["rows"]) else 1


def as_json(result: dict) -> dict:
    return {**result, "rows": [{**asdict(row), "agrees": row.agrees} for row in result["rows"]]}
