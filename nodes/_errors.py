"""Errors from a node name the node: ComfyUI shows only the exception text in its error box, and a
workflow can hold several FLOAT nodes, so every message starts with the node's display name
("FLOAT Encode Speech: the audio is empty ..."). Also the memory guard for in-memory frame output."""

from __future__ import annotations

import functools
from typing import Callable

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


# ------------------------------------------------------------------ memory for in-memory frames

GB = 1e9


def available_memory() -> int | None:
    """Bytes of RAM available for new data (psutil if importable, else /proc/meminfo), or None if unknown."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:
        pass
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def frames_bytes(frames: int, size: int) -> int:
    """Memory of an IMAGE output of `frames` float32 RGB frames of size x size (3 MiB each at 512)."""
    return int(frames) * size * size * 3 * 4


def check_frames_fit(frames: int, size: int, available: int | None = None) -> None:
    """Refuse, before any sampling, an IMAGE output that cannot fit in RAM (an hour of speech at
    25 fps and 512 px is ~283 GB). Only what surely cannot fit is refused (the frames alone exceed the
    available memory), so borderline runs are not stopped by an estimate."""
    available = available_memory() if available is None else available
    need = frames_bytes(frames, size)
    if available is None or need <= available:
        return
    seconds = frames / 25.0
    raise MemoryError(
        f"the {frames} frames ({seconds / 60:.1f} min at 25 fps) of {size}x{size} would need about "
        f"{need / GB:.1f} GB of memory as an IMAGE output ({frames_bytes(1, size) / 2**20:.0f} MiB per frame), "
        f"but only about {available / GB:.1f} GB is available. Use shorter audio (split the speech into parts "
        f"of a few minutes and animate each), or keep the motion and render it in parts (FLOAT Motion Trim, "
        f"then FLOAT Decode Motion per part), or a streaming video output that writes frames as they are made.")
