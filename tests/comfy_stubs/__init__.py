"""Test-only stand-ins for the parts of ComfyUI a node pack imports, plus a tiny prompt runner.

ComfyUI is not on PyPI and its GPL code may not be copied here, so CI tests run against these modules,
written from ComfyUI's behaviour (0.3.64 and the newest copy read, pyproject 0.38.1; each module's
docstring says which file it mimics and where versions differ).  Usage, e.g. in ``tests/conftest.py``::

    import comfy_stubs
    comfy_stubs.install(tmp_path)          # before the pack is imported
    results = comfy_stubs.run_graph(prompt, NODE_CLASS_MAPPINGS)

The stand-ins live in this package and are published under ComfyUI's module names by ``install``; the
package directory itself is never put on ``sys.path``, so nothing here can shadow ComfyUI's ``nodes.py``
or the pack's ``nodes/`` package.
"""
from __future__ import annotations

import importlib.util
import io
import os
import sys
from typing import Any

from . import comfy, comfy_api, folder_paths
from ._convert import ui_to_api
from ._runner import NodeResult, PromptError, executing_node, run_graph, run_graph_async
from .comfy import model_management, model_patcher, utils
from .comfy_api import latest
from .comfy_api.latest import _io, _ui

__all__ = ["install", "run_graph", "run_graph_async", "ui_to_api", "NodeResult", "PromptError",
           "progress_events", "server_progress_hook"]

_MODULES = {"folder_paths": folder_paths, "comfy": comfy, "comfy.model_management": model_management,
            "comfy.model_patcher": model_patcher, "comfy.utils": utils, "comfy_api": comfy_api,
            "comfy_api.latest": latest, "comfy_api.latest._io": _io, "comfy_api.latest._ui": _ui}
# Real ComfyUI is recognised by these; an unrelated PyPI package called "comfy" is not.
_PROBES = ("folder_paths", "comfy.model_management", "comfy_api.latest")

progress_events: list[dict[str, Any]] = []


def server_progress_hook(value: int, total: int, preview: Any, prompt_id: str | None = None,
                         node_id: str | None = None) -> None:
    """What ComfyUI's server installs as the ProgressBar hook: a cancel point, then a "progress" message,
    and with a preview ``(format, PIL image, max size)`` the binary preview message, encoded as the
    server's ``send_image`` does (``image.save(buffer, format=..., quality=95)``; ``preview_bytes``)."""
    model_management.throw_exception_if_processing_interrupted()
    event = {"value": value, "max": total, "node": node_id or executing_node.get(), "preview": preview}
    if preview is not None:
        kind, image, max_size = preview
        if kind not in ("JPEG", "PNG") or not (max_size is None or isinstance(max_size, int)):
            raise TypeError(f"a ProgressBar preview is (\"JPEG\" or \"PNG\", PIL image, max size), got {preview!r}")
        buffer = io.BytesIO()
        image.save(buffer, format=kind, quality=95, compress_level=1)  # a PIL image, or this fails as in ComfyUI
        event["preview_bytes"] = buffer.getvalue()
    progress_events.append(event)


def _real_module_present(name: str) -> bool:
    loaded = sys.modules.get(name)
    if loaded is not None:
        return not getattr(loaded, "__comfy_stub__", False)
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # parent package missing or half-initialised
        return False


def install(base_dir: str | os.PathLike[str]) -> None:
    """Publish the stand-ins under ComfyUI's names (only if ComfyUI itself is absent) and reset their state.

    Folders go under ``base_dir`` (models/, input/, output/, temp/); loaded models, recorded
    ``load_models_gpu`` calls, the interrupt flag and ``progress_events`` are cleared, ProgressBar throttling
    is back to ComfyUI's, and the progress hook is set to ``server_progress_hook``.  Safe to call once per test.  With a real ComfyUI importable,
    nothing is replaced; its input/output/temp folders are pointed at ``base_dir`` instead.
    """
    real = [name for name in _PROBES if _real_module_present(name)]
    if real and len(real) < len(_PROBES):
        raise RuntimeError(f"only part of ComfyUI is importable ({real}); refusing to mix it with stand-ins")
    base = os.path.abspath(os.fspath(base_dir))
    if real:
        import folder_paths as real_folder_paths  # a ComfyUI checkout on sys.path
        for kind in ("input", "output", "temp"):
            os.makedirs(os.path.join(base, kind), exist_ok=True)
            getattr(real_folder_paths, f"set_{kind}_directory")(os.path.join(base, kind))
        return
    for name, module in _MODULES.items():
        sys.modules[name] = module
    folder_paths._reset(base)
    model_management._reset()
    utils._reset()
    utils.set_progress_bar_global_hook(server_progress_hook)
    progress_events.clear()
