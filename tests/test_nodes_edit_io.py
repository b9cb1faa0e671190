"""Load Motion's '(latest saved motion)': listed before any file exists, resolved to the newest saved motion
at run time, and a clear message (not a traceback) while there is none."""

from __future__ import annotations

import os

import comfy_stubs
from test_nodes import import_pack


def test_latest_saved_motion_is_always_listed_and_resolves_to_the_newest_file(tmp_path):
    comfy_stubs.install(tmp_path)
    pack = import_pack()
    from comfyui_floatkit.nodes import edit_io

    load = pack.NODE_CLASS_MAPPINGS["FloatKitLoadMotion"]
    assert load.INPUT_TYPES()["required"]["motion_file"][1]["options"] == [edit_io.LATEST]
    message = load.validate_inputs(motion_file=edit_io.LATEST)
    assert isinstance(message, str) and "run Save Motion first" in message
    folder = tmp_path / "output" / "motion"
    folder.mkdir(parents=True)
    for name, when in (("b_00001_.safetensors", 100), ("a_00002_.safetensors", 200), ("notes.txt", 300)):
        (folder / name).write_bytes(b"x")
        os.utime(folder / name, (when, when))
    assert load.validate_inputs(motion_file=edit_io.LATEST) is True
    assert edit_io.motion_file_path(edit_io.LATEST) == str(folder / "a_00002_.safetensors")
    assert load.INPUT_TYPES()["required"]["motion_file"][1]["options"][0] == edit_io.LATEST


def test_fingerprint_takes_every_input_as_comfyui_passes_them(tmp_path):
    """ComfyUI calls fingerprint_inputs with all of the node's inputs (a linked one as None); a signature
    without pipe raised TypeError there, so ComfyUI logged a WARNING and re-ran Load Motion every queue."""
    comfy_stubs.install(tmp_path)
    pack = import_pack()
    from comfyui_floatkit.nodes import edit_io

    load = pack.NODE_CLASS_MAPPINGS["FloatKitLoadMotion"]
    folder = tmp_path / "output" / "motion"
    folder.mkdir(parents=True)
    (folder / "take_00001_.safetensors").write_bytes(b"x")
    os.utime(folder / "take_00001_.safetensors", (100, 100))
    first = load.fingerprint_inputs(pipe=None, motion_file=edit_io.LATEST)
    assert first == load.fingerprint_inputs(pipe=None, motion_file=edit_io.LATEST)  # same file: cached
    (folder / "take_00002_.safetensors").write_bytes(b"y")
    os.utime(folder / "take_00002_.safetensors", (200, 200))
    assert load.fingerprint_inputs(pipe=None, motion_file=edit_io.LATEST) != first  # a newer save: reload
