"""Test stand-in for ``comfy.model_patcher.ModelPatcher``: only what a loader node needs.

Mimics ``comfy/model_patcher.py`` (0.3.64; constructor unchanged in the newest copy).  Like the real
class it writes bookkeeping attributes onto the wrapped ``nn.Module`` (``device``,
``model_loaded_weight_memory``, ``lowvram_patch_counter``, ``model_lowvram``,
``current_weight_patches_uuid``) and moves the whole module with ``.to()``.  Weight patches (LoRA),
hooks, wrappers and partial ("lowvram") loading are not modelled: a pack's own models never use them.
"""
from __future__ import annotations

import copy
import uuid
from typing import Any

import torch

from . import model_management

__comfy_stub__ = True


class ModelPatcher:
    def __init__(self, model: torch.nn.Module, load_device: torch.device, offload_device: torch.device,
                 size: int = 0, weight_inplace_update: bool = False) -> None:
        self.size = size
        self.model = model
        if getattr(model, "device", None) is None:  # ComfyUI records where the weights are on the module
            model.device = offload_device
        self.load_device = load_device
        self.offload_device = offload_device
        self.weight_inplace_update = weight_inplace_update
        self.patches: dict[str, list[Any]] = {}
        self.object_patches: dict[str, Any] = {}
        self.model_options: dict[str, Any] = {"transformer_options": {}}
        self.attachments: dict[str, Any] = {}
        self.additional_models: dict[str, list[ModelPatcher]] = {}
        self.patches_uuid = uuid.uuid4()
        self.parent: ModelPatcher | None = None
        for name, default in (("model_loaded_weight_memory", 0), ("lowvram_patch_counter", 0),
                              ("model_lowvram", False), ("current_weight_patches_uuid", None)):
            if not hasattr(model, name):
                setattr(model, name, default)
        self.model_size()

    def model_size(self) -> int:
        if self.size > 0:
            return self.size
        self.size = model_management.module_size(self.model)
        return self.size

    def loaded_size(self) -> int:
        return self.model.model_loaded_weight_memory

    def lowvram_patch_counter(self) -> int:
        return self.model.lowvram_patch_counter

    def clone(self) -> ModelPatcher:
        """A new patcher over the SAME module (weights are shared, options are copied)."""
        n = self.__class__(self.model, self.load_device, self.offload_device, self.size,
                           weight_inplace_update=self.weight_inplace_update)
        n.patches = {k: v[:] for k, v in self.patches.items()}
        n.patches_uuid = self.patches_uuid
        n.object_patches = self.object_patches.copy()
        n.model_options = copy.deepcopy(self.model_options)
        n.attachments = dict(self.attachments)
        n.additional_models = {k: [m.clone() for m in v] for k, v in self.additional_models.items()}
        n.parent = self
        return n

    def is_clone(self, other: Any) -> bool:
        return hasattr(other, "model") and self.model is other.model

    def model_dtype(self) -> torch.dtype | None:
        """``model.get_dtype()`` if the module defines it, else None (a plain nn.Module gives None)."""
        if hasattr(self.model, "get_dtype"):
            return self.model.get_dtype()
        return None

    def model_patches_to(self, device: torch.device | torch.dtype | None) -> None:
        """Moves attention/wrapper patches in ComfyUI; a pack's patcher carries none."""

    def model_patches_models(self) -> list[ModelPatcher]:
        return []

    def is_dynamic(self) -> bool:
        return False  # newest ComfyUI asks; only its own "dynamic VRAM" models answer True

    def current_loaded_device(self) -> torch.device:
        return self.model.device

    def patch_model(self, device_to: torch.device | None = None, lowvram_model_memory: int = 0,
                    load_weights: bool = True, force_patch_weights: bool = False) -> torch.nn.Module:
        """Move the module to ``device_to`` (whole; the stand-in never loads partially)."""
        if load_weights:
            if device_to is not None:
                self.model.to(device_to)
            self.model.device = device_to
            self.model.model_loaded_weight_memory = self.model_size()
            self.model.current_weight_patches_uuid = self.patches_uuid
        return self.model

    def unpatch_model(self, device_to: torch.device | None = None, unpatch_weights: bool = True) -> None:
        if unpatch_weights:
            self.model.current_weight_patches_uuid = None
            if device_to is not None:
                self.model.to(device_to)
                self.model.device = device_to
            self.model.model_loaded_weight_memory = 0

    def partially_load(self, device_to: torch.device, extra_memory: float = 0,
                       force_patch_weights: bool = False) -> int:
        """What ``load_models_gpu`` calls; returns the bytes newly loaded."""
        loaded_uuid = self.model.current_weight_patches_uuid
        if loaded_uuid is not None and (loaded_uuid != self.patches_uuid or force_patch_weights):
            self.unpatch_model(self.offload_device)  # another clone's patches are applied: start over
        if self.model.model_loaded_weight_memory > 0:
            return 0  # already resident (ComfyUI does not re-check the device here either)
        if extra_memory < self.model_size():
            # ComfyUI's ``load`` with a budget below the model: modules without ``comfy_cast_weights``
            # (every plain nn.Module) are neither moved nor streamed, yet the model is marked as on
            # ``device_to`` with 0 bytes loaded ("loaded completely" in its log).
            self.model.device = device_to
            self.model.current_weight_patches_uuid = self.patches_uuid
            return 0
        self.patch_model(device_to, force_patch_weights=force_patch_weights)
        return self.model.model_loaded_weight_memory

    def detach(self, unpatch_all: bool = True) -> torch.nn.Module:
        self.model_patches_to(self.offload_device)
        if unpatch_all:
            self.unpatch_model(self.offload_device, unpatch_weights=True)
        return self.model
