"""Build ComfyUI UI-format workflows (what File -> Save writes and the template browser opens) from a short
description: the nodes with the widget values that differ from their defaults, and the wires.

Used by tools/make_workflows.py and tools/make_edit_workflows.py. What a node's sockets and widgets are
comes from the node itself: the pack is imported on the test stand-ins (tests/comfy_stubs), as the tests
import it, and each node's define_schema() gives its inputs, outputs, widget order and defaults. Only
ComfyUI's core nodes, which the stand-ins do not have, are described here, in CORE.

The layout is computed from the node sizes: nodes stand in columns by their distance from the inputs,
each box (title bar included) apart from every other; the Note opens at 100% inside the saved view.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "workflows"
SCHEMA_VERSION = 0.4  # the LiteGraph serialisation the frontend writes (ComfyUI frontend 1.27)
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/floatkit/workflows")

TITLE_H = 30  # LiteGraph.NODE_TITLE_HEIGHT: the title bar sits above pos[1]
SLOT_H, WIDGET_H = 20, 24  # one socket row; one widget row with its margin (frontend 1.27)
GAP_X, GAP_Y = 60, 40  # between columns; between boxes in a column (room for a group's title)
GROUP_PAD, GROUP_TITLE = 12, 34  # a group's margin around its nodes; its title bar
VIEW_AT = (60, 60)  # where the Note's top-left corner appears on screen, in pixels at scale 1
NOTE_W = 520

# ComfyUI core nodes, as their /object_info describes them (0.3.64): INPUT_TYPES-style specs and outputs.
CORE: dict[str, dict[str, Any]] = {
    "LoadImage": {"inputs": {"image": [["portrait.png"], {"image_upload": True}]},
                  "outputs": [("IMAGE", "IMAGE"), ("MASK", "MASK")], "title": "Load Image"},
    "LoadAudio": {"inputs": {"audio": [["speech.wav"], {"audio_upload": True}]},
                  "outputs": [("AUDIO", "AUDIO")], "title": "Load Audio"},
    "LoadVideo": {"inputs": {"file": [["driving.mp4"], {"video_upload": True}]},
                  "outputs": [("VIDEO", "VIDEO")], "title": "Load Video"},
    "GetVideoComponents": {"inputs": {"video": ["VIDEO", {}]},
                           "outputs": [("images", "IMAGE"), ("audio", "AUDIO"), ("fps", "FLOAT")],
                           "title": "Get Video Components"},
    "CreateVideo": {"inputs": {"images": ["IMAGE", {}], "fps": ["FLOAT", {"default": 30.0, "min": 1.0, "max": 120.0}]},
                    "optional": {"audio": ["AUDIO", {}]}, "outputs": [("VIDEO", "VIDEO")], "title": "Create Video"},
    "SaveVideo": {"inputs": {"video": ["VIDEO", {}], "filename_prefix": ["STRING", {"default": "video/ComfyUI"}],
                             "format": [["auto", "mp4"], {}], "codec": [["auto", "h264"], {}]},
                  "outputs": [], "title": "Save Video"},
    "Note": {"inputs": {"text": ["STRING", {"multiline": True, "default": ""}]}, "outputs": [], "title": "Note"},
    "ImageBlur": {"inputs": {"image": ["IMAGE", {}],
                             "blur_radius": ["INT", {"default": 1, "min": 1, "max": 31, "step": 1}],
                             "sigma": ["FLOAT", {"default": 1.0, "min": 0.1, "max": 10.0, "step": 0.1}]},
                  "outputs": [("IMAGE", "IMAGE")], "title": "Image Blur"},
    "ImageCompositeMasked": {"inputs": {"destination": ["IMAGE", {}], "source": ["IMAGE", {}],
                                        "x": ["INT", {"default": 0, "min": 0, "max": 16384, "step": 1}],
                                        "y": ["INT", {"default": 0, "min": 0, "max": 16384, "step": 1}],
                                        "resize_source": ["BOOLEAN", {"default": False}]},
                             "optional": {"mask": ["MASK", {}]}, "outputs": [("IMAGE", "IMAGE")],
                             "title": "ImageCompositeMasked"},
    "MaskPreview": {"inputs": {"mask": ["MASK", {}]}, "outputs": [], "title": "MaskPreview"},
}
# Values of the widgets that follow their owner (see tests/comfy_stubs/_convert.py widget_slots).
EXTRA_SLOT_VALUES = {"control": ["fixed"], "image_upload": ["image"], "video_upload": ["image"],
                     "audio_upload": [None, None]}
# Smallest boxes the frontend (1.27.10) gives nodes with previews, players or text boxes: its computeSize()
# measured in a real browser, rounded up; Load Video grows to the width plus about 74 px once its (square)
# example clip shows.
MIN_SIZE = {"LoadImage": [300, 336], "LoadAudio": [300, 140], "LoadVideo": [420, 520], "SaveVideo": [300, 344],
            "MaskPreview": [300, 200]}  # room for the mask picture shown after a run
# Rows the frontend adds below the widgets: a multiline text box, a text report shown after a run.
EXTRA_HEIGHT = {"FloatKitEmotionSchedule": 60, "FloatKitMotionInfo": 120}
MARGIN = 8  # the saved box is this much larger than computeSize(), so no node grows on opening


@dataclass
class NodeDef:
    """What /object_info says of a node type: socket inputs, widget inputs in order, outputs."""
    title: str
    inputs: list[tuple[str, Any, bool, dict]]  # (name, spec, optional, options) in INPUT_TYPES order
    outputs: list[tuple[str, str]]


@dataclass
class Node:
    """One node of a workflow: id, type, widget values that differ from the defaults, an optional title,
    column (default: its distance from the inputs) and group name."""
    id: int
    type: str
    values: dict[str, Any] = field(default_factory=dict)
    title: str | None = None
    column: int | None = None
    group: str | None = None
    mode: int = 0
    properties: dict[str, Any] = field(default_factory=dict)  # saved beside "Node name for S&R" (e.g. models)


def _load_pack_defs() -> dict[str, NodeDef]:
    """Import the pack on the test stand-ins (as tests/test_nodes.py import_pack does) and read its nodes."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import comfy_stubs
    from test_nodes import import_pack

    comfy_stubs.install(tempfile.mkdtemp(prefix="floatkit-workflows-"))
    pack = import_pack()
    defs = {}
    for key, cls in pack.NODE_CLASS_MAPPINGS.items():
        spec = cls.INPUT_TYPES()
        inputs = [(n, s, False, s[1] if len(s) > 1 else {}) for n, s in spec.get("required", {}).items()]
        inputs += [(n, s, True, s[1] if len(s) > 1 else {}) for n, s in spec.get("optional", {}).items()]
        outputs = list(zip(cls.RETURN_NAMES, cls.RETURN_TYPES))
        defs[key] = NodeDef(pack.NODE_DISPLAY_NAME_MAPPINGS[key], inputs, outputs)
    return defs


_DEFS: dict[str, NodeDef] = {}


def node_defs() -> dict[str, NodeDef]:
    """Every node type a workflow may use: the pack's (from their schemas) and the core ones in CORE."""
    if not _DEFS:
        _DEFS.update(_load_pack_defs())
        for key, core in CORE.items():
            inputs = [(n, s, False, s[1]) for n, s in core["inputs"].items()]
            inputs += [(n, s, True, s[1]) for n, s in core.get("optional", {}).items()]
            _DEFS[key] = NodeDef(core["title"], inputs, list(core["outputs"]))
    return _DEFS


def _convert():
    node_defs()  # puts tests/ on sys.path
    from comfy_stubs import _convert

    return _convert


def widget_values(kind: str, given: dict[str, Any]) -> list[Any]:
    """widgets_values in schema order: the given value or the widget's default, then the extra slots."""
    convert, values = _convert(), []
    names = set()
    for name, spec, _, opts in node_defs()[kind].inputs:
        slots = convert.widget_slots(name, spec)
        if not slots:
            continue
        names.add(name)
        default = convert.widget_default(spec)
        value = given.get(name, default)
        if value is convert._NO_DEFAULT:
            raise ValueError(f"{kind}.{name}: no default; give a value")
        extra = []
        for flag in ("image_upload", "video_upload", "audio_upload"):
            if opts.get(flag):
                extra = EXTRA_SLOT_VALUES[flag]
        if not extra and slots > 1:
            extra = EXTRA_SLOT_VALUES["control"] * (slots - 1)
        values += [value, *extra]
    unknown = set(given) - names
    if unknown:
        raise ValueError(f"{kind}: no widget named {sorted(unknown)}")
    return values


def note_size(text: str) -> list[int]:
    """A Note tall enough for its text in the frontend's 10 px monospace textarea (measured about 5.8 px a
    character and 13.3 px a line at 100%; estimated a little wider and taller, so the text never scrolls)."""
    per_line = int((NOTE_W - 24) / 6.2)
    lines = sum(max(1, math.ceil(len(part) / per_line)) for part in text.split("\n"))
    return [NOTE_W, 30 + 14 * lines]


def node_size(node: Node) -> list[int]:
    """The box below the title bar: the frontend's computeSize() (rows of 20 px for sockets, 24 px per widget
    row, 14 px below the widgets, 6 without) plus MARGIN, at least MIN_SIZE, 300 px wide at least."""
    if node.type == "Note":
        return note_size(node.values["text"])
    d = node_defs()[node.type]
    convert = _convert()
    sockets = sum(1 for name, spec, *_ in d.inputs if not convert.widget_slots(name, spec))
    widgets = sum(convert.widget_slots(name, spec) for name, spec, *_ in d.inputs)
    height = max(sockets, len(d.outputs), 1) * SLOT_H + widgets * WIDGET_H + (14 if widgets else 6)
    height += EXTRA_HEIGHT.get(node.type, 0) + MARGIN
    width = max(300, 8 * (len(d.title) + 8))
    low = MIN_SIZE.get(node.type, [0, 0])
    return [max(width, low[0]), max(height, low[1])]


def _columns(nodes: dict[int, Node], wires: list[tuple]) -> dict[int, int]:
    """Longest distance from an input node, unless a node names its column."""
    feeds: dict[int, list[int]] = {i: [] for i in nodes}
    for src, _, dst, _ in wires:
        feeds[dst].append(src)
    column: dict[int, int] = {}

    def depth(i: int) -> int:
        if i not in column:
            given = nodes[i].column
            column[i] = given if given is not None else max((depth(s) + 1 for s in feeds[i]), default=0)
        return column[i]

    for i in nodes:
        depth(i)
    return column


def layout(nodes: dict[int, Node], wires: list[tuple], sizes: dict[int, list[int]]) -> dict[int, list[int]]:
    """Positions (top-left of the body, below the title bar): columns left to right, boxes stacked top down
    in the order given, then pushed down until no group's frame covers a node of another group."""
    column = _columns(nodes, wires)
    pos: dict[int, list[int]] = {}
    stacks: dict[int, list[int]] = {}
    x = 0
    for c in sorted(set(column.values())):
        stacks[c] = [i for i in nodes if column[i] == c]
        y, previous_group = 0, None
        for i in stacks[c]:
            group = nodes[i].group
            if group and group != previous_group:
                y += GROUP_TITLE + GROUP_PAD
            pos[i] = [x, y + TITLE_H]
            y += TITLE_H + sizes[i][1] + GAP_Y + (GROUP_PAD if group else 0)
            previous_group = group
        x += max(sizes[i][0] for i in stacks[c]) + GAP_X + 2 * GROUP_PAD
    for _ in range(50):
        if not _separate_groups(nodes, column, stacks, pos, sizes):
            return pos
    raise RuntimeError("layout: groups still cover other nodes; give some nodes a column")


def _frame(ids: list[int], pos: dict, sizes: dict) -> tuple[float, float, float, float]:
    boxes = [box({"pos": pos[i], "size": sizes[i]}) for i in ids]
    return (min(b[0] for b in boxes) - GROUP_PAD, min(b[1] for b in boxes) - GROUP_PAD - GROUP_TITLE,
            max(b[2] for b in boxes) + GROUP_PAD, max(b[3] for b in boxes) + GROUP_PAD)


def _overlap(a: tuple, b: tuple) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def _separate_groups(nodes, column, stacks, pos, sizes) -> bool:
    """One pass: the first node found inside a foreign group's frame is pushed down (with the nodes below it
    in its column) past the frame, or the group is pushed below it if it stands above the group."""
    members: dict[str, list[int]] = {}
    for i, n in nodes.items():
        if n.group:
            members.setdefault(n.group, []).append(i)
    for group, ids in members.items():
        frame = _frame(ids, pos, sizes)
        for i in nodes:
            if nodes[i].group == group:
                continue
            other = _frame([i], pos, sizes) if nodes[i].group else box({"pos": pos[i], "size": sizes[i]})
            if not _overlap(frame, other):
                continue
            below = [k for k in ids if column[k] == column[i] and pos[k][1] > pos[i][1]]
            if below or pos[i][1] < min(pos[k][1] for k in ids):  # the group continues under it: move the group
                for c in {column[k] for k in ids} - {column[i]}:
                    top = min((k for k in ids if column[k] == c), key=lambda k: pos[k][1])
                    _push(stacks[c], top, other[3] + GAP_Y - frame[1], pos)
            else:
                _push(stacks[column[i]], i, frame[3] + GAP_Y - other[1], pos)
            return True
    return False


def _push(stack: list[int], first: int, dy: float, pos: dict) -> None:
    for i in stack[stack.index(first):]:
        pos[i][1] += int(dy)


def box(node: dict) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of a node as drawn, title bar included."""
    (x, y), (w, h) = node["pos"], node["size"]
    return x, y - TITLE_H, x + w, y + h


def _groups(nodes: dict[int, Node], built: dict[int, dict]) -> list[dict]:
    colours = {"inputs": "#3f789e", "motion edits": "#8A8", "output": "#a1309b", "sampling": "#b58b2a"}
    found: dict[str, list[int]] = {}
    for i, n in nodes.items():
        if n.group:
            found.setdefault(n.group, []).append(i)
    groups = []
    for name, ids in found.items():
        boxes = [box(built[i]) for i in ids]
        left, top = min(b[0] for b in boxes) - GROUP_PAD, min(b[1] for b in boxes) - GROUP_PAD - GROUP_TITLE
        right, bottom = max(b[2] for b in boxes) + GROUP_PAD, max(b[3] for b in boxes) + GROUP_PAD
        groups.append({"id": len(groups) + 1, "title": name, "bounding": [left, top, right - left, bottom - top],
                       "color": colours.get(name, "#444"), "font_size": 24, "flags": {}})
    return groups


def _node_dict(order: int, node: Node, pos: list[int], size: list[int], linked_widgets: set[str]) -> dict:
    d = node_defs()[node.type]
    convert = _convert()
    inputs = []
    for name, spec, optional, _ in d.inputs:
        widget = convert.widget_slots(name, spec) > 0
        if widget and name not in linked_widgets:
            continue
        kind = "COMBO" if isinstance(spec[0], list) else spec[0]
        inputs.append({"name": name, "type": kind, "link": None, **({"shape": 7} if optional else {}),
                       **({"widget": {"name": name}} if widget else {})})
    outputs = [{"name": n, "type": t, "links": [], "slot_index": s} for s, (n, t) in enumerate(d.outputs)]
    out = {"id": node.id, "type": node.type, "pos": pos, "size": size, "flags": {}, "order": order,
           "mode": node.mode, "inputs": inputs, "outputs": outputs, "properties": {"Node name for S&R": node.type, **node.properties},
           "widgets_values": widget_values(node.type, node.values)}
    if node.title:
        out["title"] = node.title
    if node.type == "Note":
        out.update(color="#432", bgcolor="#653")
    return out


def workflow_id(name: str) -> str:
    """A UUID the frontend accepts, the same on every regeneration (derived from the file name)."""
    return str(uuid.uuid5(ID_NAMESPACE, name))


def build(name: str, nodes: list[Node], wires: list[tuple]) -> dict:
    """nodes: the first is the Note; wires: (from id, output slot, to id, input name)."""
    by_id = {n.id: n for n in nodes}
    if len(by_id) != len(nodes):
        raise ValueError(f"{name}: two nodes share an id")
    linked = {}
    for _, _, dst, input_name in wires:
        linked.setdefault(dst, set()).add(input_name)
    sizes = {i: node_size(n) for i, n in by_id.items()}
    pos = layout(by_id, wires, sizes)
    built = {i: _node_dict(order, n, pos[i], sizes[i], linked.get(i, set())) for order, (i, n) in
             enumerate(by_id.items())}
    links = []
    for link_id, (src, slot, dst, input_name) in enumerate(wires, start=1):
        target = built[dst]
        index = next((k for k, inp in enumerate(target["inputs"]) if inp["name"] == input_name), None)
        if index is None or slot >= len(built[src]["outputs"]):
            raise ValueError(f"{name}: wire {src}:{slot} -> {dst}.{input_name} matches no socket")
        target["inputs"][index]["link"] = link_id
        built[src]["outputs"][slot]["links"].append(link_id)
        links.append([link_id, src, slot, dst, index, built[src]["outputs"][slot]["type"]])
    for node in built.values():
        for out in node["outputs"]:
            out["links"] = out["links"] or None
    note = box(built[nodes[0].id])
    offset = [VIEW_AT[0] - note[0], VIEW_AT[1] - note[1]]  # scale 1: the Note opens at 100%, top left
    return {"id": workflow_id(name), "revision": 0, "last_node_id": max(by_id), "last_link_id": len(links),
            "nodes": list(built.values()), "links": links, "groups": _groups(by_id, built), "config": {},
            "extra": {"ds": {"scale": 1.0, "offset": offset}}, "version": SCHEMA_VERSION}


def write(name: str, data: dict) -> None:
    path = OUT / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)  # whole or not at all
