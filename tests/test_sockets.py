"""The node declaration layer: every node module's nodes are mapped (ids and display names against the
literal mappings: tests/test_nodes.py), the library is imported at the top, shared sockets keep their names."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import comfy_stubs
from test_nodes import import_pack

NODES_DIR = Path(__file__).resolve().parent.parent / "nodes"


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    comfy_stubs.install(tmp_path_factory.mktemp("comfy-home"))
    return import_pack()


def test_every_node_of_every_module_is_mapped(pack):
    from comfyui_floatkit import nodes

    modules = [importlib.import_module(f"{nodes.__name__}.{path.stem}") for path in sorted(NODES_DIR.glob("*.py"))]
    listed = {cls for module in modules for cls in getattr(module, "NODES", ())}
    assert listed == set(pack.NODE_CLASS_MAPPINGS.values())


def test_node_files_import_the_library_at_the_top():
    """The import graph shows the real dependency: no float_models import hides inside a function."""
    for path in sorted(NODES_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = [n for n in ast.walk(node)
                         if isinstance(n, ast.ImportFrom) and "float_models" in (n.module or "")]
                assert not inner, f"{path.name}:{inner[0].lineno} imports float_models inside {node.name}()"


def test_shared_sockets_keep_their_names_and_defaults(pack):
    """Saved workflows refer to these; the factories must not drift."""
    from comfyui_floatkit.nodes import sockets

    assert [i.id for i in sockets.guidance_inputs()] == ["a_cfg_scale", "e_cfg_scale", "r_cfg_scale", "nfe", "solver",
                                                         "seed"]
    assert sockets.EMOTION_LABELS == ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    out = sockets.edited_motion_out()
    assert (out.id, out.display_name) == ("edited_motion", "motion")
