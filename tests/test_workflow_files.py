"""Every shipped workflow file, read as the ComfyUI frontend and template browser read it: UUID id and schema
version, links that agree with the nodes' sockets, no two node boxes overlapping (title bar included), the
Note inside the saved view, a thumbnail beside each UI workflow, no API-format file among the templates,
and only node types the pack or ComfyUI core registers. The writers in tools/ must reproduce the files."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import comfy_stubs
from test_nodes import import_pack

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / "workflows"
TEMPLATES = sorted(WORKFLOWS.glob("*.json"))  # what /api/workflow_templates lists: the folder's top level
API_FILES = sorted((WORKFLOWS / "api").glob("*.json"))
TITLE_H = 30  # LiteGraph.NODE_TITLE_HEIGHT: drawn above pos[1]
VIEW = (1280, 720)  # a small laptop window: the Note must open inside it
CORE_TYPES = {"Note", "MarkdownNote", "LoadImage", "LoadAudio", "LoadVideo", "GetVideoComponents",
              "CreateVideo", "SaveVideo", "ImageBlur", "ImageCompositeMasked",
              "MaskPreview"}  # ComfyUI core nodes the workflows may use


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def box(node: dict) -> tuple[float, float, float, float]:
    (x, y), (w, h) = node["pos"], node["size"]
    return x, y - TITLE_H, x + w, y + h


def overlap(a: tuple, b: tuple) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


@pytest.fixture(scope="module")
def pack_types(tmp_path_factory) -> set[str]:
    comfy_stubs.install(tmp_path_factory.mktemp("comfy-home"))
    return set(import_pack().NODE_CLASS_MAPPINGS)


def test_the_templates_are_the_ui_workflows_and_the_api_copy_is_apart():
    assert len(TEMPLATES) >= 11 and API_FILES
    for path in TEMPLATES:
        assert isinstance(load(path).get("nodes"), list), f"{path.name}: not a UI workflow, yet listed as a template"
    for path in API_FILES:
        prompt = load(path)
        assert "nodes" not in prompt and all("class_type" in n for n in prompt.values()), path.name


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_id_is_a_stable_uuid_and_the_version_is_current(path):
    graph = load(path)
    assert uuid.UUID(graph["id"]).version == 5  # derived from the name: the same on every regeneration
    assert graph["version"] == 0.4


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_links_agree_with_the_nodes_sockets(path):
    graph = load(path)
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert len(nodes) == len(graph["nodes"]) and graph["last_node_id"] >= max(nodes)
    seen = set()
    for link_id, src, slot, dst, dslot, kind in graph["links"]:
        seen.add(link_id)
        out, inp = nodes[src]["outputs"][slot], nodes[dst]["inputs"][dslot]
        assert link_id in (out["links"] or []) and inp["link"] == link_id, f"link {link_id}"
        assert out["type"] == kind and inp["type"] in (kind, "*"), f"link {link_id}: {out['type']} -> {inp['type']}"
    assert len(seen) == len(graph["links"]) and graph["last_link_id"] >= max(seen, default=0)
    for node in graph["nodes"]:  # nothing points at a link that is not there
        assert all(i["link"] is None or i["link"] in seen for i in node.get("inputs", [])), node["type"]
        assert all(set(o["links"] or []) <= seen for o in node.get("outputs", [])), node["type"]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_no_two_node_boxes_overlap_and_groups_hold_only_their_nodes(path):
    graph = load(path)
    boxes = [(n["type"], box(n)) for n in graph["nodes"]]
    clashes = [(a[0], b[0]) for k, a in enumerate(boxes) for b in boxes[k + 1:] if overlap(a[1], b[1])]
    assert not clashes
    for group in graph["groups"]:
        x, y, w, h = group["bounding"]
        inside = [n for n in graph["nodes"] if overlap((x, y, x + w, y + h), box(n))]
        assert inside and all(x <= b[0] and b[2] <= x + w and y + 30 <= b[1] and b[3] <= y + h
                              for b in map(box, inside)), f"group {group['title']} cuts through a node"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_the_note_opens_inside_the_view_at_full_size(path):
    graph = load(path)
    ds = graph["extra"]["ds"]
    notes = [n for n in graph["nodes"] if n["type"] in ("Note", "MarkdownNote")]
    assert len(notes) == 1 and len(notes[0]["widgets_values"][0]) > 200
    assert ds["scale"] >= 1.0  # the textarea's 10 px font stays readable
    left, top, right, bottom = (v * ds["scale"] for v in box(notes[0]))
    (dx, dy) = (o * ds["scale"] for o in ds["offset"])
    assert 0 <= left + dx and right + dx <= VIEW[0] and 0 <= top + dy and bottom + dy <= VIEW[1]
    text = notes[0]["widgets_values"][0]
    assert "input" in text.lower() and "models/float" in text  # where the inputs and the weights come from


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_a_small_thumbnail_stands_beside_each_template(path):
    picture = path.with_suffix(".jpg")
    assert picture.is_file(), f"{picture.name} missing: run tools/make_thumbnails.py"
    data = picture.read_bytes()
    assert data[:3] == b"\xff\xd8\xff" and len(data) < 100_000


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_every_node_type_is_registered_by_the_pack_or_core(path, pack_types):
    unknown = {n["type"] for n in load(path)["nodes"]} - pack_types - CORE_TYPES
    assert not unknown


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_named_media_ship_in_assets(path):
    """A workflow opened as shipped names only inputs the assets folder holds (copied into input/)."""
    values = {(n["type"], n["widgets_values"][0]) for n in load(path)["nodes"]
              if n["type"] in ("LoadImage", "LoadAudio", "LoadVideo")}
    assert all((ROOT / "assets" / name).is_file() for _, name in values), values
    loads = [n for n in load(path)["nodes"] if n["type"] == "FloatKitLoadMotion"]
    assert all(n["widgets_values"][0] == "(latest saved motion)" for n in loads)


def test_the_writers_reproduce_the_shipped_files(tmp_path):
    """Regenerating gives the same bytes: layout, ids and widget values come from the writers, not hand edits."""
    before = {p: p.read_bytes() for p in [*TEMPLATES, *API_FILES]}
    code = ("import runpy, sys; import workflow_graph as g; from pathlib import Path; g.OUT = Path(sys.argv[1]); "
            "[runpy.run_path(f'{sys.argv[2]}/tools/{m}.py', run_name='__main__') for m in "
            "('make_workflows', 'make_edit_workflows')]")
    subprocess.run([sys.executable, "-c", code, str(tmp_path), str(ROOT)], check=True, cwd=ROOT / "tools",
                   env={"PYTHONPATH": str(ROOT / "tools"), "PATH": "/usr/bin:/bin"}, capture_output=True)
    for path in [*TEMPLATES, *API_FILES]:
        fresh = tmp_path / path.relative_to(WORKFLOWS)
        assert fresh.read_bytes() == before[path], f"{path.name} differs from what tools/ writes"
