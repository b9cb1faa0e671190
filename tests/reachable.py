"""What a test can see of memory on the CPU: the bytes of every tensor storage reachable from an
object (through containers, attributes and closures; not through weak references, classes,
modules or functions' globals)."""

from __future__ import annotations

import gc
import types

import torch

_OPAQUE = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.CodeType,
           str, bytes, int, float, bool, type(None))


def tensor_bytes(*roots: object) -> int:
    seen: set[int] = set()
    storages: dict[tuple[int, int], int] = {}
    stack = list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, torch.Tensor):
            storage = obj.untyped_storage()
            storages[(storage.data_ptr(), storage.nbytes())] = storage.nbytes()
            continue
        if isinstance(obj, _OPAQUE):
            continue
        stack.extend(gc.get_referents(obj))
    return sum(storages.values())


def state_dict_bytes(module: torch.nn.Module) -> int:
    """What ComfyUI's model_size() counts (comfy.model_management.module_size)."""
    return sum(t.nelement() * t.element_size() for t in module.state_dict().values())
