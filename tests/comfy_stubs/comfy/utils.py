"""Test stand-in for the parts of ``comfy.utils`` a node pack uses: checkpoint loading and ProgressBar.

Mimics ``comfy/utils.py`` of the newest copy read (pyproject 0.38.1): ``load_torch_file`` always loads pickles with
``weights_only=True`` and unwraps ``{"state_dict": ...}`` and single-key ``{"name": {...}}`` files;
``ProgressBar`` captures the global hook when it is CREATED and throttles hook calls (first, last and
preview updates always go through; others need >= 0.1 s and >= 0.5 % since the last one sent).  Set
``PROGRESS_THROTTLE_MIN_INTERVAL = PROGRESS_THROTTLE_MIN_PERCENT = 0`` in a test to see every update.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import safetensors
import safetensors.torch
import torch

__comfy_stub__ = True

PROGRESS_BAR_ENABLED = True
PROGRESS_BAR_HOOK: Callable[..., None] | None = None
PROGRESS_THROTTLE_MIN_INTERVAL = 0.1  # seconds
PROGRESS_THROTTLE_MIN_PERCENT = 0.5


def _reset() -> None:
    """Back to import-time state: no hook, ComfyUI's throttle settings (test helper)."""
    global PROGRESS_BAR_HOOK, PROGRESS_THROTTLE_MIN_INTERVAL, PROGRESS_THROTTLE_MIN_PERCENT
    PROGRESS_BAR_HOOK, PROGRESS_THROTTLE_MIN_INTERVAL, PROGRESS_THROTTLE_MIN_PERCENT = None, 0.1, 0.5


def set_progress_bar_enabled(enabled: bool) -> None:
    global PROGRESS_BAR_ENABLED
    PROGRESS_BAR_ENABLED = enabled


def set_progress_bar_global_hook(function: Callable[..., None] | None) -> None:
    """``function(value, total, preview, node_id=...)``; ComfyUI's server installs one that also cancels."""
    global PROGRESS_BAR_HOOK
    PROGRESS_BAR_HOOK = function


class ProgressBar:
    def __init__(self, total: int, node_id: str | None = None) -> None:
        self.total = total
        self.current = 0
        self.hook = PROGRESS_BAR_HOOK
        self.node_id = node_id
        self._last_update_time = 0.0
        self._last_sent_value = -1

    def update_absolute(self, value: int, total: int | None = None, preview: Any = None) -> None:
        if total is not None:
            self.total = total
        value = min(value, self.total)
        self.current = value
        if self.hook is None:
            return
        now = time.perf_counter()
        always = preview is not None or self._last_sent_value < 0 or value >= self.total
        percent = (value - max(0, self._last_sent_value)) / self.total * 100 if self.total > 0 else 100
        if always or (now - self._last_update_time >= PROGRESS_THROTTLE_MIN_INTERVAL
                      and percent >= PROGRESS_THROTTLE_MIN_PERCENT):
            self.hook(self.current, self.total, preview, node_id=self.node_id)
            self._last_update_time = now
            self._last_sent_value = value

    def update(self, value: int) -> None:
        self.update_absolute(self.current + value)


def load_torch_file(ckpt: str, safe_load: bool = False, device: torch.device | None = None,
                    return_metadata: bool = False) -> dict[str, Any] | tuple[dict[str, Any], dict[str, str] | None]:
    """State dict from .safetensors/.sft (via safetensors) or any torch.load-able file (weights only)."""
    device = torch.device("cpu") if device is None else device
    metadata = None
    if ckpt.lower().endswith((".safetensors", ".sft")):
        with safetensors.safe_open(ckpt, framework="pt", device=device.type) as f:
            sd = {k: f.get_tensor(k) for k in f.keys()}
            if return_metadata:
                metadata = f.metadata()
    else:
        # `safe_load` is accepted for old callers; the newest ComfyUI loads safely whatever it says.
        loaded = torch.load(ckpt, map_location=device, weights_only=True)
        if "state_dict" in loaded:
            sd = loaded["state_dict"]
        elif len(loaded) == 1 and isinstance(next(iter(loaded.values())), dict):
            sd = next(iter(loaded.values()))  # e.g. {"model": {...}} or {"ema": {...}}
        else:
            sd = loaded
    return (sd, metadata) if return_metadata else sd


def save_torch_file(sd: dict[str, torch.Tensor], ckpt: str, metadata: dict[str, str] | None = None) -> None:
    safetensors.torch.save_file(sd, ckpt, metadata=metadata)


def state_dict_prefix_replace(state_dict: dict[str, Any], replace_prefix: dict[str, str],
                              filter_keys: bool = False) -> dict[str, Any]:
    """Rename keys starting with each old prefix; with ``filter_keys`` only renamed keys are returned."""
    out = {} if filter_keys else state_dict
    for old, new in replace_prefix.items():
        for key in [k for k in state_dict if k.startswith(old)]:
            out[new + key[len(old):]] = state_dict.pop(key)
    return out
