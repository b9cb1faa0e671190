"""Errors from a node name the node: ComfyUI shows only the exception text in its error box, and a
workflow can hold several FLOAT nodes, so every message starts with the node's display name
("FLOAT Encode Speech: the audio is empty ..."). Inputs are checked first: NaN and infinity in FLOAT
widgets, and literal JSON values on FLOATKIT_* sockets. Also the memory guard for in-memory frame output."""

from __future__ import annotations

import functools
import inspect
import math
from typing import Callable

from ..float_models import pipeline
from .sockets import SOURCES

_PASS_THROUGH = ("InterruptProcessingException",)  # Cancel is not an error; ComfyUI handles it by type


def with_name(err: BaseException, name: str) -> BaseException:
    """The same exception (same type, so callers can still catch it) with `name: ` before its text."""
    if str(err).startswith(f"{name}: "):
        return err
    if err.args and isinstance(err.args[0], str):
        err.args = (f"{name}: {err.args[0]}",) + err.args[1:]
        return err
    try:  # errno-style or empty args: make a fresh one of the same type
        renamed = type(err)(f"{name}: {err}")
    except Exception:
        renamed = RuntimeError(f"{name}: {err}")
    renamed.__cause__ = err
    return renamed


def name_errors(node_cls: type, name: str) -> type:
    """Wrap a V3 node's `execute` classmethod so its errors start with `name` (idempotent)."""
    execute = node_cls.__dict__.get("execute")
    if not isinstance(execute, classmethod) or getattr(execute.__func__, "_floatkit_named", False):
        return node_cls
    inner: Callable = execute.__func__

    @functools.wraps(inner)
    def run(cls, *args, **kwargs):
        try:
            check_socket_inputs(cls, inner, args, kwargs)
            check_float_inputs(cls, inner, args, kwargs)
            return inner(cls, *args, **kwargs)
        except Exception as err:
            if type(err).__name__ in _PASS_THROUGH:
                raise
            renamed = with_name(err, name)
            if renamed is err:
                raise
            raise renamed from err

    run._floatkit_named = True
    node_cls.execute = classmethod(run)
    return node_cls


def check_float_inputs(node_cls: type, execute: Callable, args: tuple, kwargs: dict) -> None:
    """Refuse NaN and infinity in the node's FLOAT inputs. ComfyUI checks a widget's min/max with
    comparisons, which NaN passes, and a prompt's JSON may hold NaN or Infinity; a NaN scale renders
    black frames without any error."""
    names = _float_input_names(node_cls)
    if not names:
        return
    bound = inspect.signature(execute).bind_partial(node_cls, *args, **kwargs).arguments
    for name in names:
        value = bound.get(name)
        if isinstance(value, (int, float)) and not math.isfinite(value):
            raise ValueError(f"{name} is {value}: it must be a finite number (check the workflow's value)")


def check_socket_inputs(node_cls: type, execute: Callable, args: tuple, kwargs: dict) -> None:
    """Refuse a literal JSON value (number, text, dict, list) on a FLOATKIT_* socket. A prompt written by
    hand or by a script may put one where a link belongs; ComfyUI passes it on, and the node would fail
    deep inside with "'dict' object has no attribute ...". No FloatKit socket value is a JSON type."""
    sockets = _socket_inputs(node_cls)
    if not sockets:
        return
    bound = inspect.signature(execute).bind_partial(node_cls, *args, **kwargs).arguments
    for name, io_type in sockets:
        value = bound.get(name)
        if _is_json_literal(value):
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            raise ValueError(f"input '{name}' got the value {shown} ({type(value).__name__}) written in the "
                             f"prompt, where a {io_type} is expected: connect it to the output of "
                             f"{SOURCES.get(io_type, 'the node that makes it')}")


def _is_json_literal(value: object) -> bool:
    if isinstance(value, (dict, str, int, float, bool)):
        return True
    # A crop box socket may carry a list of boxes; a list of JSON values, or an empty one, came from JSON.
    return isinstance(value, list) and (not value or any(_is_json_literal(v) for v in value))


@functools.lru_cache(maxsize=None)
def _socket_inputs(node_cls: type) -> tuple[tuple[str, str], ...]:
    try:
        inputs = node_cls.define_schema().inputs
    except Exception:  # a schema that cannot be built here: ComfyUI reports that itself
        return ()
    found = ((i.id, i.get_io_type()) for i in inputs)
    return tuple((name, kind) for name, kind in found if isinstance(kind, str) and kind.startswith("FLOATKIT_"))


@functools.lru_cache(maxsize=None)
def _float_input_names(node_cls: type) -> tuple[str, ...]:
    from comfy_api.latest import io

    try:
        inputs = node_cls.define_schema().inputs
    except Exception:  # a schema that cannot be built here: ComfyUI reports that itself
        return ()
    return tuple(i.id for i in inputs if isinstance(i, io.Float.Input))


# ------------------------------------------------------------------ memory for in-memory frames

GB = 1e9
STREAMING_NODES = ("FLOAT Animate to Video (in place of FLOAT Animate Portrait) or FLOAT Render Video (in place "
                   "of FLOAT Decode Motion)")


def available_memory() -> int | None:
    """Bytes of RAM available for new data, or None if unknown (the library's one reading)."""
    return pipeline.available_host_memory()  # looked up at call time, so a test can stand in for it


def frames_bytes(frames: int, size: int, height: int | None = None) -> int:
    """Memory of an IMAGE output of `frames` float32 RGB frames of size x size (3 MiB each at 512),
    or size x height (width x height) when height is given."""
    return int(frames) * size * (size if height is None else height) * 3 * 4


def check_frames_fit(frames: int, size: int, available: int | None = None, fps: float | None = None,
                     height: int | None = None, advice: str | None = None, working: int = 0) -> None:
    """Refuse, before any sampling, an IMAGE output that cannot fit in RAM (an hour of speech at
    25 fps and 512 px is ~283 GB). Only what surely cannot fit is refused (the frames, plus the
    `working` bytes the node needs while making them, exceed the available memory), so borderline runs
    are not stopped by an estimate. fps: the motion's frame rate (for the length in minutes); advice:
    what to do instead (default: the streaming nodes)."""
    available = available_memory() if available is None else available
    need = frames_bytes(frames, size, height) + int(working)
    if available is None or need <= available:
        return
    length = f" ({frames / fps / 60:.1f} min at {fps:g} fps)" if fps else ""
    advice = advice or (f"Render to a video file instead: {STREAMING_NODES} are streaming nodes that write each "
                        f"batch of frames into an MP4 as it is made, so memory stays flat at any length. Or keep "
                        f"the IMAGE output and render the motion in parts (FLOAT Motion Trim, then FLOAT Decode "
                        f"Motion per part)")
    extra = f", plus {working / GB:.1f} GB while making them" if working else ""
    raise MemoryError(
        f"the {frames} frames{length} of {size}x{size if height is None else height} would need about "
        f"{need / GB:.1f} GB of memory as an IMAGE output ({frames_bytes(1, size, height) / 2**20:.0f} MiB per "
        f"frame{extra}), but only about {available / GB:.1f} GB is available. Use shorter audio (split the "
        f"speech), or: {advice}.")


def check_masks_fit(frames: int, width: int, height: int, available: int | None = None) -> None:
    """Refuse, before rendering, one MASK per frame that cannot fit in RAM (float32, a third of the
    IMAGE frames' memory)."""
    available = available_memory() if available is None else available
    need = int(frames) * width * height * 4
    if available is None or need <= available:
        return
    raise MemoryError(
        f"the paste-back mask, one per frame because the clips were pasted through different crop boxes, would "
        f"need about {need / GB:.1f} GB for {frames} frames of {width}x{height}, but only about "
        f"{available / GB:.1f} GB is available. Render the clips one at a time (one picture per run).")
