"""UI-format workflow (what the ComfyUI frontend saves) -> API-format prompt (what POST /prompt takes).

Follows the frontend's ``graphToPrompt`` and comfy-cli's ``workflow_to_api.convert_ui_to_api``, with the
node definitions taken from the classes' ``INPUT_TYPES()`` instead of GET /object_info:

* ``widgets_values`` is positional over the node's *widget* inputs in ``INPUT_TYPES`` order (required,
  then optional).  Widget inputs: INT, FLOAT, STRING, BOOLEAN, COMBO/option lists, anything with
  ``widgetType`` or ``socketless``; ``forceInput`` makes an input a plain socket.  Extra widgets follow
  their owner and are skipped: the control_after_generate combo after an INT whose spec says so, or
  when the spec is silent, after an INT named ``seed``/``noise_seed`` (frontend ``useIntWidget.ts``);
  after a FLOAT with ``control_after_generate``; control + filter text after a COMBO with it; the
  upload button after ``image_upload``/``video_upload`` combos; audio player + button after ``audio_upload``.
* A linked input takes the link, whether or not it also has a widget value.
* Note/MarkdownNote are dropped; PrimitiveNode values and Reroutes are folded into their targets;
  muted (mode 2) nodes are dropped and links from them removed; bypassed (mode 4) nodes are dropped and
  their consumers rewired to the bypassed node's matching input (frontend ``_getBypassSlotIndex``).
* Missing trailing widget values take the widget default (what the frontend shows after loading).
Not handled: subgraphs, group nodes, Get/Set nodes, V3 dynamic inputs.
"""
from __future__ import annotations

from typing import Any

_MUTED, _BYPASSED = 2, 4
_DROPPED_TYPES = {"Note", "MarkdownNote"}
_WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
_NO_DEFAULT = object()


def _options(spec: Any) -> dict[str, Any]:
    return spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}


def widget_slots(name: str, spec: Any) -> int:
    """How many ``widgets_values`` entries an INPUT_TYPES entry owns (0 = it is only a socket)."""
    kind, opts = spec[0], _options(spec)
    if opts.get("forceInput") or opts.get("defaultInput"):
        return 0
    if isinstance(kind, (list, tuple)):
        kind = "COMBO"
    kind = opts.get("widgetType") or kind
    if kind not in _WIDGET_TYPES and not opts.get("socketless"):
        return 0
    control = opts.get("control_after_generate")
    slots = 1
    if kind == "INT" and (control if control is not None else name in ("seed", "noise_seed")):
        slots += 1
    elif kind == "FLOAT" and control:
        slots += 1
    elif kind == "COMBO" and control:
        slots += 2
    if opts.get("image_upload") or opts.get("video_upload"):
        slots += 1  # the upload button
    if opts.get("audio_upload"):
        slots += 2  # the audio player and the upload button
    return slots


def widget_default(spec: Any) -> Any:
    """The value a fresh widget shows: ``default``, else the first combo option; ``_NO_DEFAULT`` if neither."""
    opts = _options(spec)
    if "default" in opts:
        return opts["default"]
    choices = spec[0] if isinstance(spec[0], (list, tuple)) else opts.get("options")
    return choices[0] if choices else _NO_DEFAULT


def _wrap(value: Any) -> Any:
    return {"__value__": value} if isinstance(value, list) else value  # a bare list would read as a link


def _type_ok(a: Any, b: Any) -> bool:  # LiteGraph.isValidConnection
    if a in ("*", "", None) or b in ("*", "", None) or a == b:
        return True
    return bool(set(str(a).split(",")) & set(str(b).split(",")))


def ui_to_api(ui_workflow: dict[str, Any], node_class_mappings: dict[str, type]) -> dict[str, dict[str, Any]]:
    """``{"<id>": {"inputs": {...}, "class_type": ..., "_meta": {"title": ...}}}`` for every runnable node."""
    nodes = {str(n["id"]): n for n in ui_workflow["nodes"]}
    links: dict[Any, tuple[str, int, Any]] = {}
    for link in ui_workflow.get("links") or []:
        if isinstance(link, dict):  # workflow schema 1.0 spells links as objects
            links[link["id"]] = (str(link["origin_id"]), link["origin_slot"], link.get("type"))
        else:  # [id, from_node, from_slot, to_node, to_slot, type]
            links[link[0]] = (str(link[1]), link[2], link[5])

    def source(link_id: Any, target_type: Any, depth: int = 0) -> tuple[str, Any] | None:
        """("link", [node, slot]) or ("value", v) feeding an input, or None when nothing does."""
        if link_id not in links or depth > 100:
            return None
        origin, slot, _ = links[link_id]
        node = nodes.get(origin)
        if node is None or node.get("mode", 0) == _MUTED or node.get("type") in _DROPPED_TYPES:
            return None
        inputs = node.get("inputs") or []
        if node.get("type") == "PrimitiveNode":
            values = node.get("widgets_values") or []
            return ("value", _wrap(values[0])) if values else None
        if node.get("type") == "Reroute":
            return source(inputs[0].get("link"), target_type, depth + 1) if inputs else None
        if node.get("mode", 0) == _BYPASSED:
            out_type = (node.get("outputs") or [{}] * (slot + 1))[slot].get("type")
            if target_type in ("*", ""):
                index = slot if len(inputs) > slot else 0
            elif slot < len(inputs) and all(_type_ok(inputs[slot].get("type"), t) for t in (out_type, target_type)):
                index = slot
            else:
                index = next((i for i, inp in enumerate(inputs) if inp.get("type") == target_type), None)
                if index is None:
                    index = next((i for i, inp in enumerate(inputs) if _type_ok(inp.get("type"), out_type)
                                  and _type_ok(inp.get("type"), target_type)), None)
            if index is None or index >= len(inputs):
                return None
            return source(inputs[index].get("link"), target_type, depth + 1)
        return ("link", [origin, slot])

    prompt: dict[str, dict[str, Any]] = {}
    for node_id, node in nodes.items():
        class_type = node.get("type")
        if node.get("mode", 0) in (_MUTED, _BYPASSED) or class_type in _DROPPED_TYPES | {"PrimitiveNode", "Reroute"}:
            continue
        if class_type not in node_class_mappings:
            raise KeyError(f"node {node_id}: no class registered for type {class_type!r}")
        cls = node_class_mappings[class_type]
        spec = cls.INPUT_TYPES()
        declared = {**spec.get("required", {}), **spec.get("optional", {})}
        values = node.get("widgets_values")
        inputs: dict[str, Any] = {}
        position = 0
        for name, input_spec in declared.items():
            slots = widget_slots(name, input_spec)
            if not slots:
                continue
            if isinstance(values, dict):
                value = values.get(name, _NO_DEFAULT)
            else:
                value = values[position] if values is not None and position < len(values) else _NO_DEFAULT
            position += slots
            if value is _NO_DEFAULT:
                value = widget_default(input_spec)
            if value is not _NO_DEFAULT:
                inputs[name] = _wrap(value)
        for slot in node.get("inputs") or []:  # links win over widget values
            fed = source(slot.get("link"), slot.get("type")) if slot.get("link") is not None else None
            if fed is not None:
                inputs[slot["name"]] = fed[1]
        display_name = cls.GET_SCHEMA().display_name if hasattr(cls, "GET_SCHEMA") else None
        title = node.get("title") or display_name or class_type
        prompt[node_id] = {"inputs": inputs, "class_type": class_type, "_meta": {"title": title}}
    for entry in prompt.values():  # the frontend's last pass: drop links to nodes that were not emitted
        for name, value in list(entry["inputs"].items()):
            if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and value[0] not in prompt:
                del entry["inputs"][name]
    return prompt
