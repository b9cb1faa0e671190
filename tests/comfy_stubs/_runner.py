"""A small stand-in for ComfyUI's prompt executor (``execution.py``, newest copy read, pyproject 0.38.1).

What it does the way ComfyUI does:
* validation before running: unknown class -> ``missing_node_type``; no OUTPUT_NODE -> ``prompt_no_outputs``;
  then, from each output node up through its links: ``required_input_missing``, ``return_type_mismatch``
  (same type, ``*``, or an overlap of comma-separated types is accepted), widget values converted by type
  (``{"__value__": [...]}`` unwrapped), ``value_smaller_than_min`` / ``value_bigger_than_max`` /
  ``value_not_in_list`` unless ``validate_inputs``/``VALIDATE_INPUTS`` names that input, and
  ``custom_validation_failed`` when that function returns anything but True;
* only output nodes and what they depend on run, each once, parents first, under ``torch.inference_mode()``;
* one instance per node; V3 classes run on a per-call locked clone carrying ``cls.hidden``; V1 classes
  get their hidden inputs as keyword arguments;
* list semantics: every input is a list, the node runs once per element (shorter lists repeat their last
  element) unless INPUT_IS_LIST, and OUTPUT_IS_LIST outputs are concatenated;
* the interrupt flag is cleared at the start and checked before every node call;
* unconnected optional inputs are simply absent from the call.
Differences: errors raise (``PromptError`` for validation, the node's own exception otherwise); lazy
inputs are evaluated eagerly; node expansion and ExecutionBlocker raise NotImplementedError; nothing is
cached between runs.  ``fill_defaults=True`` adds missing widget values from their defaults first, as
the frontend would have; ComfyUI itself reports them as ``required_input_missing``.
"""
from __future__ import annotations

import asyncio
import inspect
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import torch

from ._convert import _NO_DEFAULT, widget_default, widget_slots
from .comfy import model_management
from .comfy_api.latest import _io

executing_node: ContextVar[str | None] = ContextVar("comfy_stub_executing_node", default=None)


class PromptError(Exception):
    """A prompt ComfyUI would refuse (HTTP 400): ``error`` and per-node ``node_errors`` as the server sends them."""

    def __init__(self, error: dict[str, Any], node_errors: dict[str, Any] | None = None) -> None:
        self.error, self.node_errors = error, node_errors or {}
        lines = [f"{e['type']} at node {nid}: {e['message']}: {e['details']}"
                 for nid, entry in self.node_errors.items() for e in entry["errors"]]
        super().__init__("\n".join([f"{error['message']}: {error['details']}", *lines]))


@dataclass
class NodeResult:
    outputs: tuple[Any, ...]  # one per output slot; a list where the node ran per item or OUTPUT_IS_LIST
    ui: dict[str, list[Any]] = field(default_factory=dict)  # what would be sent as "executed"/stored in history
    raw: list[list[Any]] = field(default_factory=list)  # ComfyUI's cache layout: a list of values per output


def _error(kind: str, message: str, details: str, **extra_info: Any) -> dict[str, Any]:
    return {"type": kind, "message": message, "details": details, "extra_info": extra_info}


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


def _is_v3(cls: type) -> bool:
    return hasattr(cls, "PREPARE_CLASS_CLONE")


def _types_match(received: Any, expected: Any) -> bool:
    if received == expected or "*" in (received, expected):
        return True
    if isinstance(received, list) and expected == "COMBO":
        return True
    if not isinstance(received, str) or not isinstance(expected, str):
        return False
    got, want = {t.strip() for t in received.split(",")}, {t.strip() for t in expected.split(",")}
    return "*" in got | want or bool(got & want)


_CONVERT = {"INT": int, "FLOAT": float, "STRING": str, "BOOLEAN": bool}  # what validation coerces widget values to


def _declared(spec: dict[str, Any]) -> dict[str, Any]:
    return {**spec.get("required", {}), **spec.get("optional", {})}


class _Run:
    def __init__(self, prompt: dict[str, Any], mappings: dict[str, type], extra_data: dict[str, Any]) -> None:
        self.prompt, self.mappings, self.extra_data = prompt, mappings, extra_data
        self.results: dict[str, NodeResult] = {}
        self.node_errors: dict[str, Any] = {}
        self.validated: dict[str, bool] = {}

    def cls(self, node_id: str) -> type:
        return self.mappings[self.prompt[node_id]["class_type"]]

    def input_data(self, node_id: str, cls: type, linked: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        """Every input as a list (widgets -> [value]; links -> the parent's output list, or (None,) if not run)."""
        spec = cls.INPUT_TYPES()
        declared = _declared(spec)
        accept_all = _is_v3(cls) and cls.ACCEPT_ALL_INPUTS
        data: dict[str, Any] = {}
        for name, value in self.prompt[node_id]["inputs"].items():
            if _is_link(value) and not _options(declared.get(name)).get("rawLink"):
                data[name] = self.results[value[0]].raw[value[1]] if linked else (None,)
            elif name in declared or accept_all:
                data[name] = [value]
        known = {"UNIQUE_ID": node_id, "PROMPT": self.prompt, "DYNPROMPT": None,
                 "EXTRA_PNGINFO": self.extra_data.get("extra_pnginfo"),
                 "AUTH_TOKEN_COMFY_ORG": self.extra_data.get("auth_token_comfy_org"),
                 "API_KEY_COMFY_ORG": self.extra_data.get("api_key_comfy_org"),
                 "COMFY_USAGE_SOURCE": self.extra_data.get("comfy_usage_source")}
        hidden: dict[Any, Any] = {}
        for name, kind in spec.get("hidden", {}).items():
            if _is_v3(cls):  # V3 lists hidden inputs as {name: ("UNIQUE_ID",)}; they reach cls.hidden
                hidden[_io.Hidden(kind[0])] = known.get(kind[0])
            elif kind in known:  # V1: {name: "UNIQUE_ID"}; they arrive as keyword arguments
                data[name] = [known[kind]]
        return data, {"hidden_inputs": hidden}

    async def call(self, node_id: str, obj: Any, func: str, data: dict[str, Any], v3_data: dict[str, Any],
                   allow_interrupt: bool) -> list[Any]:
        if getattr(obj, "INPUT_IS_LIST", False):
            calls = [data]
        elif not data:
            calls = [{}]
        else:
            count = max(len(v) for v in data.values())
            calls = [{k: v[i if len(v) > i else -1] for k, v in data.items()} for i in range(count)]
        returns = []
        for kwargs in calls:
            if allow_interrupt:
                model_management.throw_exception_if_processing_interrupted()
            if _is_v3(obj if isinstance(obj, type) else type(obj)):
                type_obj = obj if isinstance(obj, type) else type(obj)
                type_obj.VALIDATE_CLASS()
                locked = _io.lock_class(type_obj.PREPARE_CLASS_CLONE(v3_data))
                method = getattr(type_obj, func).__func__
                target = lambda **kw: method(locked, **kw)  # noqa: E731
            else:
                target = getattr(obj, func)
            token = executing_node.set(node_id)
            try:
                returned = target(**kwargs)
                returns.append(await returned if inspect.isawaitable(returned) else returned)
            finally:
                executing_node.reset(token)
        return returns

    async def validate(self, node_id: str, visiting: tuple[str, ...] = ()) -> bool:
        if node_id in self.validated:
            return self.validated[node_id]
        cls, inputs = self.cls(node_id), self.prompt[node_id]["inputs"]
        spec, errors, valid, received = cls.INPUT_TYPES(), [], True, {}
        check = _io.first_real_override(cls, "validate_inputs", cls.GET_BASE_CLASS()) if _is_v3(cls) \
            else getattr(cls, "VALIDATE_INPUTS", None)
        argspec = inspect.getfullargspec(check) if check is not None else None
        names, any_name = (argspec.args, argspec.varkw is not None) if argspec else ([], False)
        for category in ("required", "optional"):
            for name, info in spec.get(category, {}).items():
                kind, opts = info[0], _options(info)
                if name not in inputs:
                    if category == "required":
                        errors.append(_error("required_input_missing", "Required input is missing", name,
                                             input_name=name))
                    continue
                value = inputs[name]
                if isinstance(value, list):
                    if not _is_link(value) or value[0] not in self.prompt:
                        errors.append(_error("bad_linked_input", "Bad linked input, must be a length-2 list of "
                                             "[node_id, slot_index]", name, input_name=name, received_value=value))
                        continue
                    received[name] = got = self.cls(value[0]).RETURN_TYPES[value[1]]
                    if "input_types" not in names and not _types_match(got, kind):
                        errors.append(_error("return_type_mismatch", "Return type mismatch between linked nodes",
                                             f"{name}, received_type({got}) mismatch input_type({kind})",
                                             input_name=name, received_type=got, linked_node=value))
                        continue
                    if value[0] in visiting + (node_id,):
                        errors.append(_error("dependency_cycle", "Dependency cycle detected", name, input_name=name))
                        continue
                    valid = await self.validate(value[0], visiting + (node_id,)) and valid
                    continue
                if isinstance(value, dict) and "__value__" in value:
                    value = inputs[name] = value["__value__"]
                try:
                    convert = _CONVERT.get(kind) if isinstance(kind, str) else None
                    if convert is not None:
                        value = inputs[name] = convert(value)
                except (TypeError, ValueError) as ex:
                    errors.append(_error("invalid_input_type", f"Failed to convert an input value to a {kind} value",
                                         f"{name}, {value}, {ex}", input_name=name, received_value=value))
                    continue
                if name in names or any_name:
                    continue  # the node validates this one itself
                if "min" in opts and value < opts["min"]:
                    errors.append(_error("value_smaller_than_min", f"Value {value} smaller than min of {opts['min']}",
                                         name, input_name=name, received_value=value))
                elif "max" in opts and value > opts["max"]:
                    errors.append(_error("value_bigger_than_max", f"Value {value} bigger than max of {opts['max']}",
                                         name, input_name=name, received_value=value))
                elif (isinstance(kind, list) or kind == "COMBO") and not opts.get("remote_combo"):
                    choices = kind if isinstance(kind, list) else opts.get("options", [])
                    if value not in choices:
                        errors.append(_error("value_not_in_list", "Value not in list",
                                             f"{name}: {value!r} not in {choices}", input_name=name,
                                             received_value=value))
        if check is not None:
            data, v3_data = self.input_data(node_id, cls, linked=False)
            wanted = {k: v for k, v in data.items() if k in names or any_name}
            if "input_types" in names:
                wanted["input_types"] = [received]
            func = "validate_inputs" if _is_v3(cls) else "VALIDATE_INPUTS"
            verdicts = await self.call(node_id, cls, func, wanted, v3_data, allow_interrupt=False)
            for name in wanted or [None]:  # ComfyUI reports the failure once per input the check received
                for verdict in (v for v in verdicts if v is not True):
                    details = (name or "") + ("" if verdict is False else f" - {verdict}" if name else str(verdict))
                    errors.append(_error("custom_validation_failed", "Custom validation failed for node", details,
                                         **({"input_name": name} if name else {})))
        if errors:
            self.node_errors[node_id] = {"errors": errors, "dependent_outputs": [],
                                         "class_type": self.prompt[node_id]["class_type"]}
        self.validated[node_id] = valid and not errors
        return self.validated[node_id]

    async def execute(self, node_id: str) -> None:
        if node_id in self.results:
            return
        for value in self.prompt[node_id]["inputs"].values():
            if _is_link(value):
                await self.execute(value[0])
        cls = self.cls(node_id)
        obj = cls()
        data, v3_data = self.input_data(node_id, cls, linked=True)
        try:
            returns = await self.call(node_id, obj, cls.FUNCTION, data, v3_data, allow_interrupt=True)
        except Exception as ex:
            if hasattr(ex, "add_note"):  # Python 3.11+: say which node failed, as ComfyUI's error report does
                ex.add_note(f"(while executing node {node_id}, {self.prompt[node_id]['class_type']})")
            raise
        results, uis = [], []
        for r in returns:
            if isinstance(r, _io.NodeOutput):
                if r.expand is not None or r.block_execution is not None:
                    raise NotImplementedError("node expansion and ExecutionBlocker are not modelled by the stand-in")
                if r.ui is not None:
                    uis.append(r.ui if isinstance(r.ui, dict) else r.ui.as_dict())
                if r.result is not None:
                    results.append(r.result)
            elif isinstance(r, dict):
                if "expand" in r:
                    raise NotImplementedError("node expansion is not modelled by the stand-in")
                uis += [r["ui"]] if "ui" in r else []
                results += [r["result"]] if "result" in r else []
            else:
                results.append(r)
        raw: list[list[Any]] = []
        if results:
            is_list = getattr(cls, "OUTPUT_IS_LIST", None) or [False] * len(results[0])
            for i, as_list in zip(range(len(results[0])), is_list):
                raw.append([x for r in results for x in r[i]] if as_list else [r[i] for r in results])
        is_list = getattr(cls, "OUTPUT_IS_LIST", None) or [False] * len(raw)
        outputs = tuple(v[0] if len(v) == 1 and not as_list else v for v, as_list in zip(raw, is_list))
        ui = {k: [item for u in uis for item in u[k]] for k in uis[0]} if uis else {}
        self.results[node_id] = NodeResult(outputs, ui, raw)


def _options(info: Any) -> dict[str, Any]:
    return info[1] if isinstance(info, (list, tuple)) and len(info) > 1 and isinstance(info[1], dict) else {}


async def run_graph_async(api_prompt: dict[str, Any], node_class_mappings: dict[str, type], *,
                          extra_data: dict[str, Any] | None = None, execute_outputs: list[str] | None = None,
                          fill_defaults: bool = False) -> dict[str, NodeResult]:
    """``run_graph`` for callers already inside an event loop."""
    prompt = {str(k): {**v, "inputs": dict(v.get("inputs", {}))} for k, v in api_prompt.items()}
    run = _Run(prompt, node_class_mappings, extra_data or {})
    for node_id, node in prompt.items():
        class_type = node.get("class_type")
        if class_type not in node_class_mappings:
            raise PromptError(_error("missing_node_type", f"Node '{class_type}' not found. The custom node may not be "
                                     "installed.", f"Node ID '#{node_id}'", node_id=node_id, class_type=class_type))
        if _is_v3(node_class_mappings[class_type]):
            node_class_mappings[class_type].GET_SCHEMA()  # ComfyUI does this when it lists the node
        if fill_defaults:
            for name, info in _declared(node_class_mappings[class_type].INPUT_TYPES()).items():
                default = widget_default(info)
                if name not in node["inputs"] and widget_slots(name, info) and default is not _NO_DEFAULT:
                    node["inputs"][name] = default
    outputs = [nid for nid in prompt if getattr(run.cls(nid), "OUTPUT_NODE", False) is True
               and (execute_outputs is None or nid in execute_outputs)]
    if not outputs:
        raise PromptError(_error("prompt_no_outputs", "Prompt has no outputs", ""))
    for output in outputs:
        if not await run.validate(output):
            for nid in run.node_errors:
                run.node_errors[nid]["dependent_outputs"].append(output)
    if run.node_errors:
        raise PromptError(_error("prompt_outputs_failed_validation", "Prompt outputs failed validation", ""),
                          run.node_errors)
    model_management.interrupt_current_processing(False)
    with torch.inference_mode():
        for output in outputs:
            await run.execute(output)
    return run.results


def run_graph(api_prompt: dict[str, Any], node_class_mappings: dict[str, type], *,
              extra_data: dict[str, Any] | None = None, execute_outputs: list[str] | None = None,
              fill_defaults: bool = False) -> dict[str, NodeResult]:
    """Validate and run an API-format prompt as ComfyUI's executor would.

    -> ``{node_id: NodeResult}`` for every node that ran (output nodes and what they depend on).
    """
    return asyncio.run(run_graph_async(api_prompt, node_class_mappings, extra_data=extra_data,
                                       execute_outputs=execute_outputs, fill_defaults=fill_defaults))
