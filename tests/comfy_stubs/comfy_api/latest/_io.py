"""Test stand-in for ``comfy_api.latest.io`` (ComfyUI's ``comfy_api/latest/_io.py``), the V3 node schema.

Mimics the newest copy read (pyproject 0.38.1) and notes where 0.3.48-0.3.64 differ:

* ``Schema`` has the newest field set (``search_aliases``, ``is_dev_only``, ``accept_all_inputs`` ...);
  0.3.64 lacks those fields and raises ``TypeError`` if a pack passes them.
* ``Output(id=...)`` without ``display_name`` is named after its id (newest); 0.3.64 used the type string.
* ``Schema.validate`` also rejects an id used by both an input and an output: 0.3.64 does, the newest
  does not, and a pack that supports >=0.3.48 must pass both.
* The V1 view (``INPUT_TYPES()``, ``RETURN_TYPES``, ``FUNCTION`` ...) is derived from the schema exactly
  as ComfyUI derives it, and ``execute`` runs on a locked per-run clone of the class.
Dynamic inputs (Autogrow, DynamicCombo, MatchType, MultiType) are not provided.
"""
from __future__ import annotations

import inspect
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Literal

import torch

__comfy_stub__ = True


class FolderType(str, Enum):
    input = "input"
    output = "output"
    temp = "temp"


class UploadType(str, Enum):
    image = "image_upload"
    audio = "audio_upload"
    video = "video_upload"
    model = "file_upload"


class NumberDisplay(str, Enum):
    number = "number"
    slider = "slider"
    gradient_slider = "gradientslider"


class ControlAfterGenerate(str, Enum):
    fixed = "fixed"
    increment = "increment"
    decrement = "decrement"
    randomize = "randomize"


def _prune(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}  # False and 0 stay: only None is "unset"


class _classproperty:
    def __init__(self, f: Callable[[type], Any]) -> None:
        self.f = f

    def __get__(self, obj: Any, owner: type) -> Any:
        return self.f(owner)


class Input:
    """Base of every input.  ``optional`` puts it under "optional" in INPUT_TYPES."""
    Parent: Any = None

    def __init__(self, id: str, display_name: str | None = None, optional: bool = False, tooltip: str | None = None,
                 lazy: bool | None = None, extra_dict: dict[str, Any] | None = None, raw_link: bool | None = None,
                 advanced: bool | None = None) -> None:
        self.id, self.display_name, self.optional, self.tooltip = id, display_name, optional, tooltip
        self.lazy, self.extra_dict, self.rawLink, self.advanced = lazy, extra_dict or {}, raw_link, advanced

    @property
    def io_type(self) -> str:
        return self.Parent.io_type

    def get_io_type(self) -> str:
        return self.io_type

    def get_all(self) -> list[Input]:
        return [self]

    def validate(self) -> None:
        pass

    def as_dict(self) -> dict[str, Any]:
        return _prune({"display_name": self.display_name, "optional": self.optional, "tooltip": self.tooltip,
                       "lazy": self.lazy, "rawLink": self.rawLink, "advanced": self.advanced}) | _prune(self.extra_dict)


class WidgetInput(Input):
    """An input the frontend draws as a widget (its value is a constant in the API prompt)."""

    def __init__(self, id: str, display_name: str | None = None, optional: bool = False, tooltip: str | None = None,
                 lazy: bool | None = None, default: Any = None, socketless: bool | None = None,
                 widget_type: str | None = None, force_input: bool | None = None,
                 extra_dict: dict[str, Any] | None = None, raw_link: bool | None = None,
                 advanced: bool | None = None) -> None:
        super().__init__(id, display_name, optional, tooltip, lazy, extra_dict, raw_link, advanced)
        self.default, self.socketless = default, socketless
        self.widget_type, self.force_input = widget_type, force_input

    def as_dict(self) -> dict[str, Any]:
        return super().as_dict() | _prune({"default": self.default, "socketless": self.socketless,
                                           "widgetType": self.widget_type, "forceInput": self.force_input})

    def get_io_type(self) -> str:
        return self.widget_type if self.widget_type is not None else self.io_type


class Output:
    Parent: Any = None

    def __init__(self, id: str | None = None, display_name: str | None = None, tooltip: str | None = None,
                 is_output_list: bool = False) -> None:
        self.id = id
        self.display_name = display_name if display_name else id
        self.tooltip = tooltip
        self.is_output_list = is_output_list

    @property
    def io_type(self) -> str:
        return self.Parent.io_type

    def get_io_type(self) -> str:
        return self.io_type

    def validate(self) -> None:
        pass

    def as_dict(self) -> dict[str, Any]:
        return _prune({"display_name": self.display_name or self.id, "tooltip": self.tooltip,
                       "is_output_list": self.is_output_list})


class ComfyTypeIO:
    """A type with the default Input and Output; ``comfytype`` binds the type string."""
    Type: Any = Any
    io_type: str = ""

    class Input(Input):
        pass

    class Output(Output):
        pass


def comfytype(io_type: str) -> Callable[[type], type]:
    """Bind ``io_type`` to a type class and give it its own Input/Output subclasses pointing back at it."""
    def bind(cls: type) -> type:
        for name in ("Input", "Output"):
            inner = getattr(cls, name, None)
            if inner is not None:  # subclass so that setting Parent does not touch the shared base
                inner = type(inner.__name__, (inner,), {"__qualname__": f"{cls.__qualname__}.{name}",
                                                        "__module__": cls.__module__, "Parent": cls})
                setattr(cls, name, inner)
        cls.io_type = io_type
        return cls
    return bind


def Custom(io_type: str) -> type[ComfyTypeIO]:
    """A pack-defined type, e.g. ``MotionLatent = io.Custom("FLOATKIT_MOTION")``."""
    return comfytype(io_type)(type("CustomComfyType", (ComfyTypeIO,), {}))


@comfytype("BOOLEAN")
class Boolean(ComfyTypeIO):
    Type = bool

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False, tooltip: str | None = None,
                     lazy: bool | None = None, default: bool | None = None, label_on: str | None = None,
                     label_off: str | None = None, socketless: bool | None = None, force_input: bool | None = None,
                     extra_dict: dict[str, Any] | None = None, raw_link: bool | None = None,
                     advanced: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input,
                             extra_dict, raw_link, advanced)
            self.label_on, self.label_off = label_on, label_off

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | _prune({"label_on": self.label_on, "label_off": self.label_off})


@comfytype("INT")
class Int(ComfyTypeIO):
    Type = int

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False, tooltip: str | None = None,
                     lazy: bool | None = None, default: int | None = None, min: int | None = None,
                     max: int | None = None, step: int | None = None,
                     control_after_generate: bool | ControlAfterGenerate | None = None,
                     display_mode: NumberDisplay | None = None, socketless: bool | None = None,
                     force_input: bool | None = None, extra_dict: dict[str, Any] | None = None,
                     raw_link: bool | None = None, advanced: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input,
                             extra_dict, raw_link, advanced)
            self.min, self.max, self.step = min, max, step
            self.control_after_generate, self.display_mode = control_after_generate, display_mode

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | _prune({
                "min": self.min, "max": self.max, "step": self.step,
                "control_after_generate": self.control_after_generate,
                "display": self.display_mode.value if self.display_mode else None})


@comfytype("FLOAT")
class Float(ComfyTypeIO):
    Type = float

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False, tooltip: str | None = None,
                     lazy: bool | None = None, default: float | None = None, min: float | None = None,
                     max: float | None = None, step: float | None = None, round: float | None = None,
                     display_mode: NumberDisplay | None = None, gradient_stops: list[dict] | None = None,
                     socketless: bool | None = None, force_input: bool | None = None,
                     extra_dict: dict[str, Any] | None = None, raw_link: bool | None = None,
                     advanced: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input,
                             extra_dict, raw_link, advanced)
            self.min, self.max, self.step, self.round = min, max, step, round
            self.display_mode, self.gradient_stops = display_mode, gradient_stops

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | _prune({  # "display" is the enum itself here, as in ComfyUI
                "min": self.min, "max": self.max, "step": self.step, "round": self.round,
                "display": self.display_mode, "gradient_stops": self.gradient_stops})


@comfytype("STRING")
class String(ComfyTypeIO):
    Type = str

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False, tooltip: str | None = None,
                     lazy: bool | None = None, multiline: bool = False, placeholder: str | None = None,
                     default: str | None = None, dynamic_prompts: bool | None = None, socketless: bool | None = None,
                     force_input: bool | None = None, extra_dict: dict[str, Any] | None = None,
                     raw_link: bool | None = None, advanced: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input,
                             extra_dict, raw_link, advanced)
            self.multiline, self.placeholder, self.dynamic_prompts = multiline, placeholder, dynamic_prompts

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | _prune({"multiline": self.multiline, "placeholder": self.placeholder,
                                               "dynamicPrompts": self.dynamic_prompts})


@comfytype("COMBO")
class Combo(ComfyTypeIO):
    Type = str

    class Input(WidgetInput):
        def __init__(self, id: str, options: list[str] | list[int] | type[Enum] | None = None,
                     display_name: str | None = None, optional: bool = False, tooltip: str | None = None,
                     lazy: bool | None = None, default: str | int | Enum | None = None,
                     control_after_generate: bool | ControlAfterGenerate | None = None,
                     upload: UploadType | None = None, image_folder: FolderType | None = None,
                     remote: Any = None, remote_combo: Any = None, socketless: bool | None = None,
                     extra_dict: dict[str, Any] | None = None, raw_link: bool | None = None,
                     advanced: bool | None = None) -> None:
            if isinstance(options, type) and issubclass(options, Enum):
                options = [v.value for v in options]
            if isinstance(default, Enum):
                default = default.value
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, None,
                             extra_dict, raw_link, advanced)
            self.options, self.multiselect, self.control_after_generate = options, False, control_after_generate
            self.upload, self.image_folder, self.remote, self.remote_combo = upload, image_folder, remote, remote_combo

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | _prune({
                "multiselect": self.multiselect, "options": self.options,
                "control_after_generate": self.control_after_generate,
                **({self.upload.value: True} if self.upload is not None else {}),
                "image_folder": self.image_folder.value if self.image_folder else None,
                "remote": self.remote.as_dict() if self.remote else None,
                "remote_combo": self.remote_combo.as_dict() if self.remote_combo else None})

    class Output(Output):
        def __init__(self, id: str | None = None, display_name: str | None = None, options: list[str] | None = None,
                     tooltip: str | None = None, is_output_list: bool = False) -> None:
            super().__init__(id, display_name, tooltip, is_output_list)
            self.options = options if options is not None else []


def _plain(name: str, io_type: str, type_hint: Any = Any) -> type[ComfyTypeIO]:
    return comfytype(io_type)(type(name, (ComfyTypeIO,), {"Type": type_hint}))


Image = _plain("Image", "IMAGE", torch.Tensor)  # [B, H, W, C] float32 0..1
Mask = _plain("Mask", "MASK", torch.Tensor)  # [B, H, W]
Latent = _plain("Latent", "LATENT", dict)
Audio = _plain("Audio", "AUDIO", dict)  # {"waveform": [B, C, T] float32, "sample_rate": int}
Video = _plain("Video", "VIDEO")
Model = _plain("Model", "MODEL")
AudioEncoder = _plain("AudioEncoder", "AUDIO_ENCODER")
AudioEncoderOutput = _plain("AudioEncoderOutput", "AUDIO_ENCODER_OUTPUT")
AnyType = _plain("AnyType", "*")


class Hidden(str, Enum):
    """Values the server injects; read them as ``cls.hidden.<name>`` inside ``execute``."""
    unique_id = "UNIQUE_ID"
    prompt = "PROMPT"
    extra_pnginfo = "EXTRA_PNGINFO"
    dynprompt = "DYNPROMPT"
    auth_token_comfy_org = "AUTH_TOKEN_COMFY_ORG"
    api_key_comfy_org = "API_KEY_COMFY_ORG"
    comfy_usage_source = "COMFY_USAGE_SOURCE"


class HiddenHolder:
    def __init__(self, **values: Any) -> None:
        for member in Hidden:
            setattr(self, member.name, values.get(member.name))

    def __getattr__(self, key: str) -> None:
        return None  # unknown hidden names read as None, as in ComfyUI

    @classmethod
    def from_dict(cls, d: dict[Hidden, Any] | None) -> HiddenHolder:
        return cls(**{member.name: (d or {}).get(member) for member in Hidden})


@dataclass
class Schema:
    """Definition of a V3 node (field order and defaults as in the newest ComfyUI)."""
    node_id: str
    display_name: str | None = None
    category: str = "sd"
    inputs: list[Input] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    hidden: list[Hidden] = field(default_factory=list)
    description: str = ""
    search_aliases: list[str] = field(default_factory=list)
    is_input_list: bool = False
    is_output_node: bool = False
    is_deprecated: bool = False
    is_experimental: bool = False
    is_dev_only: bool = False
    is_api_node: bool = False
    price_badge: Any = None
    not_idempotent: bool = False
    enable_expand: bool = False
    accept_all_inputs: bool = False
    essentials_category: str | None = None
    has_intermediate_output: bool = False
    loop_boundary: Literal["start", "end"] | None = None

    def validate(self) -> None:
        input_ids = [i.id for top in self.inputs for i in top.get_all()]
        output_ids = [o.id for o in self.outputs]
        issues = []
        for kind, ids in (("Input", input_ids), ("Output", output_ids)):
            if len(set(ids)) != len(ids):
                repeated = [k for k, n in Counter(ids).items() if n > 1]
                issues.append(f"{kind} ids must be unique, but {repeated} are not.")
        if set(input_ids) & set(output_ids):  # 0.3.48-0.3.64 rule (see module docstring)
            shared = set(input_ids) & set(output_ids)
            issues.append(f"Ids must be unique between inputs and outputs, but {shared} are not.")
        if issues:
            raise ValueError("\n".join(issues))
        for item in [*self.inputs, *self.outputs]:
            item.validate()

    def finalize(self) -> None:
        """Add implied hidden inputs and give id-less outputs the ids ComfyUI gives them."""
        self.inputs, self.outputs, self.hidden = self.inputs or [], self.outputs or [], self.hidden or []
        implied = []
        if self.is_api_node:
            implied += [Hidden.auth_token_comfy_org, Hidden.api_key_comfy_org, Hidden.comfy_usage_source]
        if self.is_output_node:
            implied += [Hidden.prompt, Hidden.extra_pnginfo]
        self.hidden += [h for h in implied if h not in self.hidden]
        for i, output in enumerate(self.outputs):
            if output.id is None:
                output.id = f"_{i}_{output.io_type}_"

    def v1_inputs(self) -> dict[str, dict[str, Any]]:
        """The INPUT_TYPES() dict: {"required": {id: (type, options)}, "optional": ..., "hidden": ...}."""
        result: dict[str, dict[str, Any]] = {"required": {}}
        for item in self.inputs:
            options = item.as_dict()
            options.pop("optional", None)
            result.setdefault("optional" if item.optional else "required", {})[item.id] = (item.get_io_type(), options)
        for h in self.hidden:
            result.setdefault("hidden", {})[h.name] = (h.value,)
        return result


class NodeOutput:
    """What ``execute`` returns: output values in schema order, plus optional UI data."""

    def __init__(self, *args: Any, ui: Any = None, expand: dict | None = None,
                 block_execution: str | None = None) -> None:
        self.args, self.ui, self.expand, self.block_execution = args, ui, expand, block_execution

    @property
    def result(self) -> tuple[Any, ...] | None:
        return self.args if len(self.args) > 0 else None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeOutput:
        return cls(*data.get("result", ()), ui=data.get("ui"), expand=data.get("expand"))

    def __getitem__(self, index: int) -> Any:
        return self.args[index]


class _UIOutput:
    def as_dict(self) -> dict[str, Any]:
        raise NotImplementedError


def first_real_override(cls: type, name: str, base: type | None = None) -> Callable[..., Any] | None:
    """The subclass's own ``name`` if it overrides the placeholder on ``base`` (ComfyNode), else None."""
    base = base or ComfyNode
    placeholder = base.__dict__[name].__func__
    for klass in cls.__mro__:
        if klass is base:
            break
        if name in klass.__dict__ and getattr(klass.__dict__[name], "__func__", None) is not placeholder:
            return getattr(cls, name)
    return None


def lock_class(cls: type) -> type:
    """A copy of ``cls`` whose class attributes cannot be assigned (ComfyUI runs execute on this)."""
    class Locked(type(cls)):
        def __setattr__(cls_, name: str, value: Any) -> None:
            raise AttributeError(f"Cannot modify class attribute '{name}' on locked class '{cls_.__name__}'")
    return Locked(cls.__name__, cls.__bases__, dict(cls.__dict__))


def _schema_attr(private: str) -> _classproperty:
    def read(cls: type) -> Any:
        if getattr(cls, private) is None:
            cls.GET_SCHEMA()
        return getattr(cls, private)
    return _classproperty(read)


class ComfyNode:
    """Base of V3 nodes.  Override the classmethods; never keep state on the class between runs."""
    RELATIVE_PYTHON_MODULE: str | None = None
    SCHEMA: Schema | None = None
    hidden: HiddenHolder | None = None

    @classmethod
    def define_schema(cls) -> Schema:
        raise NotImplementedError

    @classmethod
    def execute(cls, **kwargs: Any) -> NodeOutput:
        raise NotImplementedError

    @classmethod
    def validate_inputs(cls, **kwargs: Any) -> bool | str:
        """Optional; = V1 VALIDATE_INPUTS.  Return True or an error message."""
        raise NotImplementedError

    @classmethod
    def fingerprint_inputs(cls, **kwargs: Any) -> Any:
        """Optional; = V1 IS_CHANGED.  Same value as last run -> cached output reused."""
        raise NotImplementedError

    @classmethod
    def check_lazy_status(cls, **kwargs: Any) -> list[str]:
        return [name for name, value in kwargs.items() if value is None]

    def __init__(self) -> None:
        type(self).VALIDATE_CLASS()

    @classmethod
    def GET_BASE_CLASS(cls) -> type:
        return ComfyNode

    @classmethod
    def VALIDATE_CLASS(cls) -> None:
        for name in ("define_schema", "execute"):
            if first_real_override(cls, name) is None:
                raise Exception(f"No {name} function was defined for node class {cls.__name__}.")

    @classmethod
    def FINALIZE_SCHEMA(cls) -> Schema:
        schema = cls.define_schema()
        schema.finalize()
        return schema

    @classmethod
    def GET_SCHEMA(cls) -> Schema:
        """Validate and cache the V1 attributes on the class (ComfyUI does this when it lists the node)."""
        cls.VALIDATE_CLASS()
        schema = cls.FINALIZE_SCHEMA()
        schema.validate()
        for private, value in (("_DESCRIPTION", schema.description), ("_CATEGORY", schema.category),
                               ("_EXPERIMENTAL", schema.is_experimental), ("_DEPRECATED", schema.is_deprecated),
                               ("_DEV_ONLY", schema.is_dev_only), ("_API_NODE", schema.is_api_node),
                               ("_OUTPUT_NODE", schema.is_output_node), ("_INPUT_IS_LIST", schema.is_input_list),
                               ("_NOT_IDEMPOTENT", schema.not_idempotent),
                               ("_ACCEPT_ALL_INPUTS", schema.accept_all_inputs)):
            if getattr(cls, private) is None:
                setattr(cls, private, value)
        if cls._RETURN_TYPES is None:
            cls._RETURN_TYPES = [o.io_type for o in schema.outputs]
            cls._RETURN_NAMES = [o.display_name or o.io_type for o in schema.outputs]
            cls._OUTPUT_IS_LIST = [o.is_output_list for o in schema.outputs]
            cls._OUTPUT_TOOLTIPS = [o.tooltip or None for o in schema.outputs]
        cls.SCHEMA = schema
        return schema

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, dict[str, Any]]:
        return cls.FINALIZE_SCHEMA().v1_inputs()  # re-run per call, so combo lists stay fresh

    @classmethod
    def PREPARE_CLASS_CLONE(cls, v3_data: dict[str, Any] | None) -> type:
        """A throw-away subclass carrying this run's hidden values."""
        clone = type(f"{cls.__name__}Clone", (cls, *cls.__bases__), dict(cls.__dict__))
        clone.hidden = HiddenHolder.from_dict((v3_data or {}).get("hidden_inputs"))
        return clone

    @classmethod
    def _normalize(cls, returned: Any) -> NodeOutput:
        if returned is None:
            returned = NodeOutput()
        elif isinstance(returned, tuple):
            returned = NodeOutput(*returned)
        elif isinstance(returned, dict):
            returned = NodeOutput.from_dict(returned)
        elif not isinstance(returned, NodeOutput):
            raise Exception(f"Invalid return type from node: {type(returned)}")
        if returned.expand is not None and not cls.SCHEMA.enable_expand:
            raise Exception(f"Node {cls.__name__} is not expandable, but expand included in NodeOutput; "
                            "developer should set enable_expand=True on node's Schema to allow this.")
        return returned

    @classmethod
    def EXECUTE_NORMALIZED(cls, *args: Any, **kwargs: Any) -> NodeOutput:
        return cls._normalize(cls.execute(*args, **kwargs))

    @classmethod
    async def EXECUTE_NORMALIZED_ASYNC(cls, *args: Any, **kwargs: Any) -> NodeOutput:
        return cls._normalize(await cls.execute(*args, **kwargs))

    @_classproperty
    def FUNCTION(cls) -> str:  # noqa: N802
        return "EXECUTE_NORMALIZED_ASYNC" if inspect.iscoroutinefunction(cls.execute) else "EXECUTE_NORMALIZED"

    _DESCRIPTION = _CATEGORY = _EXPERIMENTAL = _DEPRECATED = _DEV_ONLY = _API_NODE = _OUTPUT_NODE = None
    _INPUT_IS_LIST = _OUTPUT_IS_LIST = _RETURN_TYPES = _RETURN_NAMES = _OUTPUT_TOOLTIPS = None
    _NOT_IDEMPOTENT = _ACCEPT_ALL_INPUTS = None
    DESCRIPTION, CATEGORY = _schema_attr("_DESCRIPTION"), _schema_attr("_CATEGORY")
    EXPERIMENTAL, DEPRECATED = _schema_attr("_EXPERIMENTAL"), _schema_attr("_DEPRECATED")
    DEV_ONLY, API_NODE, OUTPUT_NODE = _schema_attr("_DEV_ONLY"), _schema_attr("_API_NODE"), _schema_attr("_OUTPUT_NODE")
    INPUT_IS_LIST, OUTPUT_IS_LIST = _schema_attr("_INPUT_IS_LIST"), _schema_attr("_OUTPUT_IS_LIST")
    RETURN_TYPES, RETURN_NAMES = _schema_attr("_RETURN_TYPES"), _schema_attr("_RETURN_NAMES")
    OUTPUT_TOOLTIPS, NOT_IDEMPOTENT = _schema_attr("_OUTPUT_TOOLTIPS"), _schema_attr("_NOT_IDEMPOTENT")
    ACCEPT_ALL_INPUTS = _schema_attr("_ACCEPT_ALL_INPUTS")
