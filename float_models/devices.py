"""Where FLOAT runs and in which precision: the one rule for the library, the CLI and the nodes.

Precision rule (README, "Precision"):
* CPU: float32 always. PyTorch's CPU kernels are slow in half precision, and some return NaN
  there (grid_sample did in bfloat16 and float16); a reduced precision asked for on the CPU
  runs float32 instead, with one log line saying so.
* CUDA, "auto": float16 where the GPU computes it well (compute capability 7.0 or newer, and
  the host agrees), else bfloat16 where supported natively, else float32. float16 has 3 more
  mantissa bits than bfloat16 and ran as fast on an H100. The steps whose rounding shows (the
  warp's flow and grid, demodulation sums, the motion basis, the ODE state, the guidance
  combination) run in float32 at every model precision.
* The motion sampler (FMT) runs in float32 by default on every device (`sampler_dtype`): on an
  H100 that cost about 3% of a render (sampling 0.188 s fp32 against 0.163 s bf16 in 0.89 s),
  and the motion then matches the official fp32 numbers (bf16 moved it by up to 0.13 of 7.6).
  An explicitly chosen fp16 or bf16 is kept, except fp16 while the process accumulates fp16
  matrix products in fp16 (ComfyUI's --fast): then float32, with one log line.
* Other devices (MPS), "auto": float32 (not measured in reduced precision).

Devices: "cuda" without an index means the current CUDA device and is returned as cuda:N,
because hosts match models by device and torch.device("cuda") != torch.device("cuda:0").
"""

from __future__ import annotations

import logging

import torch
from torch import nn

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# Before Volta (compute capability 7.0) GPUs have no fp16 tensor cores: fp16 is no faster there.
FP16_MIN_CAPABILITY = (7, 0)

log = logging.getLogger("float_models")


def default_device() -> torch.device:
    """The best device PyTorch sees: CUDA, then Apple MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def choose_device(choice: str, auto: torch.device | None = None) -> torch.device:
    """A device choice ("auto", "cpu", "cuda", "mps") -> torch.device.

    auto: what "auto" means when a host decides (ComfyUI's device, which honours --cpu);
    default_device() when None. Raises ValueError with what to choose instead.
    """
    if choice == "auto":
        return indexed(torch.device(auto) if auto is not None else default_device())
    if choice not in DEVICES:
        raise ValueError(f"unknown device {choice!r}; choose one of {', '.join(DEVICES)}")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was chosen but PyTorch sees no CUDA GPU here: choose 'auto' or 'cpu'")
    if choice == "mps" and not _mps_available():
        raise ValueError("device 'mps' was chosen but Apple MPS is not available here: choose 'auto' or 'cpu'")
    return indexed(torch.device(choice))


def indexed(device: torch.device | str) -> torch.device:
    """`device` with an explicit index: "cuda" -> cuda:N of the current CUDA device (ComfyUI finds
    the models to unload by comparing devices, and cuda != cuda:0 there)."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def choose_dtype(choice: str, device: torch.device | str, fp16_ok: bool | None = None,
                 bf16_ok: bool | None = None) -> torch.dtype:
    """A precision choice ("auto", "fp32", "fp16", "bf16") -> the dtype FLOAT runs in on `device`.

    fp16_ok, bf16_ok: a host's verdict for this GPU, read by "auto" (ComfyUI knows GPUs whose
    float16 is broken, and its --force-fp32); None judges by the GPU's compute capability.
    A reduced precision that cannot run on the device becomes float32 (`runnable_dtype`).
    """
    if choice not in PRECISIONS:
        raise ValueError(f"unknown precision {choice!r}; choose one of {', '.join(PRECISIONS)}")
    device = torch.device(device)
    if choice != "auto":
        return runnable_dtype(DTYPES[choice], device)
    return _auto_dtype(device, fp16_ok, bf16_ok)


def runnable_dtype(dtype: torch.dtype, device: torch.device | str) -> torch.dtype:
    """`dtype`, or float32 where a reduced precision cannot run correctly on `device` (the CPU),
    with one log line saying so."""
    device = torch.device(device)
    if dtype == torch.float32 or reduced_precision_ok(device):
        return dtype
    name = str(dtype).replace("torch.", "")
    log.warning("FloatKit: %s is not used on the %s (slow there, and some of its kernels return NaN in "
                "half precision); running float32", name, device.type.upper())
    return torch.float32


def sampler_dtype(dtype: torch.dtype | None, device: torch.device | str) -> torch.dtype:
    """The motion sampler's (FMT's) dtype: float32 when `dtype` is None (the default on every
    device); a reduced precision that was chosen explicitly is kept where it can run, except
    float16 while PyTorch accumulates float16 matrix products in float16 (ComfyUI's --fast)."""
    if dtype is None or dtype == torch.float32:
        return torch.float32
    dtype = runnable_dtype(dtype, device)
    if dtype == torch.float16 and fp16_accumulation():
        log.warning("FloatKit: float16 accumulation is on in this process (ComfyUI --fast); the motion sampler "
                    "runs float32 so that its sums keep their digits")
        return torch.float32
    return dtype


def fp16_accumulation() -> bool:
    """Whether float16 matrix products accumulate in float16 (torch 2.7+ flag, set by ComfyUI --fast)."""
    return bool(getattr(torch.backends.cuda.matmul, "allow_fp16_accumulation", False))


def reduced_precision_ok(device: torch.device | str) -> bool:
    """Whether FLOAT may run in float16 or bfloat16 on this device (not on the CPU)."""
    return torch.device(device).type != "cpu"


def _auto_dtype(device: torch.device, fp16_ok: bool | None, bf16_ok: bool | None) -> torch.dtype:
    if device.type != "cuda":
        return torch.float32
    # A host's yes does not override the capability: ComfyUI allows float16 on Pascal under
    # Windows (GTX 10xx run it at 1/64 of float32), and no pre-Volta GPU has fp16 tensor cores.
    fp16_ok = (fp16_ok is None or fp16_ok) and torch.cuda.get_device_capability(device) >= FP16_MIN_CAPABILITY
    if fp16_ok:
        return torch.float16
    if bf16_ok is None:  # emulated bfloat16 (pre-Ampere GPUs) is slower than float32
        bf16_ok = _native_bf16()
    return torch.bfloat16 if bf16_ok else torch.float32


def _native_bf16() -> bool:
    """bfloat16 computed natively; torch before 2.3 has no `including_emulation` (and no emulation)."""
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:
        return torch.cuda.is_bf16_supported()


# ---------------------------------------------------------------- caches that follow the weights

_CACHES = "_floatkit_device_caches"


def device_caches(module: nn.Module) -> dict:
    """A module's caches of tensors made for its current placement (sampling runners, CUDA graphs).

    They are not parameters or buffers, so a host neither counts nor moves them; modules that
    derive from `DropsCachesOnMove` drop them whenever they are moved or cast (ComfyUI offloads
    a model by module.to()), so an offloaded model holds no device memory of FloatKit's."""
    return module.__dict__.setdefault(_CACHES, {})


class DropsCachesOnMove:
    """Mixin for nn.Module: `.to()`, `.cuda()`, `.float()`, ... drop `device_caches` first."""

    def _apply(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - nn.Module's private signature
        self.__dict__.pop(_CACHES, None)
        return super()._apply(*args, **kwargs)

    def __getstate__(self) -> dict:
        """Copies and pickles leave the caches behind (CUDA graphs cannot be copied)."""
        state = dict(super().__getstate__())
        state.pop(_CACHES, None)
        return state


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()
