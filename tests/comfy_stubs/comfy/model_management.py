"""Test stand-in for ``comfy.model_management`` as ComfyUI runs it with ``--cpu``.

Mimics ``comfy/model_management.py`` (0.3.64, and the newest copy read, pyproject 0.38.1):
same function names and signatures, same device answers as a ``--cpu`` launch (everything on CPU, fp16
and bf16 refused), and a ``load_models_gpu`` that moves models through their ``ModelPatcher`` the way
ComfyUI's ``LoadedModel.model_load`` does (with ``vram_state = VRAMState.NO_VRAM``, as ``--novram``:
a tiny budget, so a plain module is reported loaded and not moved).  Calls are recorded in ``_load_calls`` so tests can assert a
model was loaded before use.  GPU placement, partial ("lowvram") loading and dynamic VRAM are not modelled.

``InterruptProcessingException`` derives from ``BaseException`` as in the newest ComfyUI (0.3.64 and
older used ``Exception``), so ``except Exception`` in node code does NOT swallow a cancel here.
"""
from __future__ import annotations

import os
import threading
from enum import Enum
from typing import Any

import torch

__comfy_stub__ = True


class VRAMState(Enum):
    DISABLED = 0  # no VRAM: models stay on the CPU (--cpu)
    NO_VRAM = 1  # --novram: weights are streamed per layer, for ComfyUI's own layer types only
    LOW_VRAM = 2
    NORMAL_VRAM = 3
    HIGH_VRAM = 4
    SHARED = 5


vram_state = VRAMState.DISABLED  # what a --cpu launch sets; tests set NO_VRAM to model --novram
DISABLE_SMART_MEMORY = False
OOM_EXCEPTION = torch.cuda.OutOfMemoryError
_CPU = torch.device("cpu")


class LoadedModel:
    """One entry of ``current_loaded_models``: a patcher plus the device it was loaded to."""

    def __init__(self, model: Any) -> None:
        self.model = model  # the ModelPatcher (ComfyUI keeps a weakref; a strong one is simpler here)
        self.device = model.load_device
        self.currently_used = True

    def model_memory(self) -> int:
        return self.model.model_size()

    def model_load(self, lowvram_model_memory: float = 0) -> Any:
        self.model.model_patches_to(self.device)
        self.model.model_patches_to(self.model.model_dtype())
        self.model.partially_load(self.device, lowvram_model_memory or 1e32)  # 0 -> "1e32 spare bytes" = all
        return self.model.model

    def model_unload(self) -> bool:
        self.model.detach(unpatch_all=True)
        return True


current_loaded_models: list[LoadedModel] = []
_load_calls: list[dict[str, Any]] = []  # stub-only: one dict per load_models_gpu call


def _reset() -> None:
    """Forget loaded models and recorded calls, and clear the interrupt flag (test helper)."""
    global interrupt_processing
    current_loaded_models.clear()
    _load_calls.clear()
    interrupt_processing = False


def get_torch_device() -> torch.device:
    return _CPU


def cpu_mode() -> bool:
    return True


def is_device_type(device: Any, type: str) -> bool:
    return getattr(device, "type", None) == type


def is_device_cpu(device: Any) -> bool:
    return is_device_type(device, "cpu")


def is_device_mps(device: Any) -> bool:
    return is_device_type(device, "mps")


def is_device_cuda(device: Any) -> bool:
    return is_device_type(device, "cuda")


def unet_offload_device() -> torch.device:
    return _CPU  # the GPU only under --highvram


def intermediate_device() -> torch.device:
    return _CPU  # the GPU only under --gpu-only


def intermediate_dtype() -> torch.dtype:
    return torch.float32  # fp16 only under --fp16-intermediates (newest)


def text_encoder_device() -> torch.device:
    return _CPU


def text_encoder_offload_device() -> torch.device:
    return _CPU


def vae_device() -> torch.device:
    return get_torch_device()


def vae_offload_device() -> torch.device:
    return _CPU


def should_use_fp16(device: torch.device | None = None, model_params: int = 0, prioritize_performance: bool = True,
                    manual_cast: bool = False) -> bool:
    return False  # always False on CPU: models run in fp32 under --cpu


def should_use_bf16(device: torch.device | None = None, model_params: int = 0, prioritize_performance: bool = True,
                    manual_cast: bool = False) -> bool:
    return False  # ComfyUI: "bf16 works on CPU but is extremely slow"


def module_size(module: torch.nn.Module) -> int:
    return sum(t.nelement() * t.element_size() for t in module.state_dict().values())


def get_free_memory(dev: torch.device | None = None, torch_free_too: bool = False) -> int | tuple[int, int]:
    """Available RAM (what ComfyUI answers for a CPU device)."""
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not POSIX: pretend plenty is free
        free = 1 << 40
    return (free, free) if torch_free_too else free


def soft_empty_cache(force: bool = False) -> None:
    """Empties the CUDA cache in ComfyUI; a no-op on CPU there too."""


def cleanup_models_gc() -> None:
    """ComfyUI hunts leaked models here; nothing leaks in the stand-in."""


def loaded_models(only_currently_used: bool = False) -> list[Any]:
    return [m.model for m in current_loaded_models if m.currently_used or not only_currently_used]


def free_memory(memory_required: float, device: torch.device, keep_loaded: list[Any] = [],  # noqa: B006 (as ComfyUI)
                for_dynamic: bool = False, pins_required: int = 0, ram_required: int = 0) -> list[LoadedModel]:
    """Unload least-recently-loaded models on ``device`` until ``memory_required`` bytes are free."""
    keep = {id(k.model if isinstance(k, LoadedModel) else k) for k in keep_loaded}
    unloaded = []
    for i in range(len(current_loaded_models) - 1, -1, -1):  # newest loads sit at the front
        loaded = current_loaded_models[i]
        if loaded.device != device or id(loaded.model) in keep:
            continue
        if get_free_memory(device) > memory_required:
            break
        loaded.model_unload()
        unloaded.append(current_loaded_models.pop(i))
    if unloaded:
        soft_empty_cache()
    return unloaded


def load_models_gpu(models: list[Any], memory_required: int = 0, force_patch_weights: bool = False,
                    minimum_memory_required: int | None = None, force_full_load: bool = False) -> None:
    """Make each ModelPatcher resident on its ``load_device`` (no-op placement when that is the CPU)."""
    _load_calls.append({"models": list(models), "memory_required": memory_required,
                        "force_patch_weights": force_patch_weights,
                        "minimum_memory_required": minimum_memory_required, "force_full_load": force_full_load})
    wanted: dict[Any, None] = {}  # order-preserving de-duplication, including models the patches need
    for m in models:
        wanted[m] = None
        for extra in m.model_patches_models():
            wanted[extra] = None
    to_load = []
    for patcher in reversed(list(wanted)):
        existing = next((lm for lm in current_loaded_models if lm.model is patcher), None)
        if existing is not None:
            existing.currently_used = True
        to_load.append(existing or LoadedModel(patcher))
    for lm in to_load:  # a clone (same nn.Module) replaces whatever patcher held that module before
        for i in range(len(current_loaded_models) - 1, -1, -1):
            if lm.model.is_clone(current_loaded_models[i].model):
                current_loaded_models.pop(i).model.detach(unpatch_all=False)
    for device in {lm.device for lm in to_load} - {_CPU}:  # ComfyUI makes room on accelerators only
        free_memory(sum(lm.model_memory() for lm in to_load if lm.device == device) * 1.1 + memory_required, device)
    for lm in to_load:
        # ComfyUI: force_full_load loads completely, except under --novram, which budgets 0.1 bytes.
        lm.model_load(0.1 if vram_state == VRAMState.NO_VRAM and lm.device != _CPU else 0)
        current_loaded_models.insert(0, lm)


def load_model_gpu(model: Any) -> None:
    return load_models_gpu([model])


def unload_all_models() -> None:
    free_memory(1e30, get_torch_device())


class InterruptProcessingException(BaseException):
    """Raised to cancel a prompt.  BaseException (newest ComfyUI), so ``except Exception`` lets it through."""


interrupt_processing_mutex = threading.RLock()
interrupt_processing = False


def interrupt_current_processing(value: bool = True) -> None:
    global interrupt_processing
    with interrupt_processing_mutex:
        interrupt_processing = value


def processing_interrupted() -> bool:
    with interrupt_processing_mutex:
        return interrupt_processing


def throw_exception_if_processing_interrupted() -> None:
    """Raise InterruptProcessingException if a cancel is pending; the flag is cleared first, as in ComfyUI."""
    global interrupt_processing
    with interrupt_processing_mutex:
        if interrupt_processing:
            interrupt_processing = False
            raise InterruptProcessingException()
