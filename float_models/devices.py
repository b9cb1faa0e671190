"""Where FLOAT runs and in which precision: the one rule for the library, the CLI and the nodes.

Precision rule (README, "Precision"):
* CPU: float32 always. PyTorch's CPU kernels are slow in half precision, and some return NaN
  there (grid_sample did in bfloat16 and float16); a reduced precision asked for on the CPU
  runs float32 instead, with one log line saying so.
* CUDA, "auto": float16 where the GPU computes it well, else bfloat16 where supported, else
  float32. float16 has 3 more mantissa bits than bfloat16 and ran as fast on an H100; its
  motion deviated 8x less from float32 (0.017 against 0.13). The steps whose rounding shows
  (the warp's flow and grid, demodulation sums, the motion basis, the ODE state, the
  guidance combination) run in float32 at every model precision.
* Other devices (MPS), "auto": float32 (not measured in reduced precision).
"""

from __future__ import annotations

import logging

import torch

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# Before Volta (compute capability 7.0) GPUs have no fp16 tensor cores: fp16 is no faster there.
FP16_MIN_CAPABILITY = (7, 0)

log = logging.getLogger("float_models")


def default_device() -> torch.device:
    """The best device PyTorch sees: CUDA, then Apple MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def choose_device(choice: str, auto: torch.device | None = None) -> torch.device:
    """A device choice ("auto", "cpu", "cuda", "mps") -> torch.device.

    auto: what "auto" means when a host decides (ComfyUI's device, which honours --cpu);
    default_device() when None. Raises ValueError with what to choose instead.
    """
    if choice == "auto":
        return torch.device(auto) if auto is not None else default_device()
    if choice not in DEVICES:
        raise ValueError(f"unknown device {choice!r}; choose one of {', '.join(DEVICES)}")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was chosen but PyTorch sees no CUDA GPU here: choose 'auto' or 'cpu'")
    if choice == "mps" and not _mps_available():
        raise ValueError("device 'mps' was chosen but Apple MPS is not available here: choose 'auto' or 'cpu'")
    return torch.device(choice)


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


def reduced_precision_ok(device: torch.device | str) -> bool:
    """Whether FLOAT may run in float16 or bfloat16 on this device (not on the CPU)."""
    return torch.device(device).type != "cpu"


def _auto_dtype(device: torch.device, fp16_ok: bool | None, bf16_ok: bool | None) -> torch.dtype:
    if device.type != "cuda":
        return torch.float32
    if fp16_ok is None:
        fp16_ok = torch.cuda.get_device_capability(device) >= FP16_MIN_CAPABILITY
    if fp16_ok:
        return torch.float16
    if bf16_ok is None:  # emulated bfloat16 (pre-Ampere GPUs) is slower than float32
        bf16_ok = torch.cuda.is_bf16_supported(including_emulation=False)
    return torch.bfloat16 if bf16_ok else torch.float32


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()
