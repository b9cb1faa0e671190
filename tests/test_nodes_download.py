"""Load FLOAT Models with download "if missing", on ComfyUI's stand-ins, against the local hub stand-in
(tests/hub_server.py) serving the tiny rule-made weights under the real names: an empty models/float
fills with progress on the node, the basic workflow renders, and Cancel keeps nothing that looks whole."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import comfy_stubs
from float_models.app.download import MIRROR_REPO, MODEL_FILES
from hub_server import Hub, tiny_mirror
from test_nodes import WORKFLOWS, core_nodes, import_pack, inputs, without_face_crop  # noqa: F401  (fixture)


@pytest.fixture
def empty_home(tmp_path, tiny_files, monkeypatch):
    """A ComfyUI base folder whose models/float holds no model file; only the tiny model's settings
    (float.json: what its shapes cannot tell; the real float.pth needs none)."""
    for var in ("HF_HUB_OFFLINE", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    float_dir = tmp_path / "models" / "float"
    float_dir.mkdir(parents=True)
    (float_dir / "float.json").write_bytes(tiny_files.checkpoint.with_suffix(".json").read_bytes())
    comfy_stubs.install(tmp_path)
    import comfy.utils

    comfy.utils.PROGRESS_THROTTLE_MIN_INTERVAL = comfy.utils.PROGRESS_THROTTLE_MIN_PERCENT = 0  # see every update
    return float_dir


def basic_prompt(pack, inputs: dict, saved: list) -> tuple[dict, dict, str]:
    mappings = {**pack.NODE_CLASS_MAPPINGS, **core_nodes(inputs, saved)}
    prompt = without_face_crop(comfy_stubs.ui_to_api(json.loads((WORKFLOWS / "floatkit_basic.json").read_text()),
                                                     mappings))
    loader = next(k for k, v in prompt.items() if v["class_type"] == "FloatKitLoadModels")
    prompt[loader]["inputs"].update(download="if missing", device="cpu")
    return prompt, mappings, loader


def model_files(float_dir: Path) -> list[str]:
    return sorted(p.relative_to(float_dir).as_posix() for p in float_dir.rglob("*") if p.is_file())


@pytest.mark.integration  # fetches ~570 MB of tiny weights over 127.0.0.1, then renders twice (~110 s on a busy 2-core machine)
def test_an_empty_models_folder_downloads_with_progress_then_renders(empty_home, tiny_files, inputs, caplog):
    pack = import_pack()
    saved: list = []
    prompt, mappings, loader = basic_prompt(pack, inputs, saved)
    with Hub(tiny_mirror(tiny_files.checkpoint.parent)) as hub, pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_ENDPOINT", hub.url)
        with caplog.at_level(logging.INFO):
            comfy_stubs.run_graph(prompt, mappings)
        resolve = {f"/{MIRROR_REPO}/resolve/main/{f.mirror_file}" for f in MODEL_FILES}
        store = {f"/store/{hub.hashes(key)[1]}" for key in hub.files}
        assert {r.split(" ", 1)[1] for r in hub.requests} <= resolve | store
        # Run again: everything is there, nothing is asked.
        hub.requests.clear()
        comfy_stubs.run_graph(prompt, mappings)
        assert hub.requests == [] and len(saved) == 2
    assert len(saved) == 2 and saved[0]["images"].shape[0] > 0  # the render reached Save Video
    assert model_files(empty_home) == sorted(["float.json"] + [f.target for f in MODEL_FILES])
    # The node's bar counts bytes of all files (ComfyUI's "progress" messages), never backwards, to the end.
    total = sum(hub.size(key) for key in hub.files)
    bytes_seen = [e["value"] for e in comfy_stubs.progress_events if e["node"] == loader and e["max"] == total]
    assert len(bytes_seen) > 100 and bytes_seen == sorted(bytes_seen) and bytes_seen[-1] == total
    # ... and each file is named as it starts, with its number.
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("FloatKit download")]
    assert lines[0] == "FloatKit download [0/7] yuvraj108c/float/float.pth (194 MB)"
    assert lines[-1] == "FloatKit download [7/7] downloaded" and len(lines) == 8


@pytest.mark.integration  # fetches part of it, then all of it, and renders (~40 s)
def test_cancel_during_the_download_keeps_nothing_that_looks_whole(empty_home, tiny_files, inputs):
    import comfy.model_management as mm

    pack = import_pack()
    prompt, mappings, loader = basic_prompt(pack, inputs, [])
    sent = {"bytes": 0}

    def press_cancel_half_way(piece: bytes) -> bytes:  # the hub's sending thread, like a user's click
        sent["bytes"] += len(piece)
        if sent["bytes"] > 50_000_000:  # float.pth (194 MB) comes first
            mm.interrupt_current_processing(True)
        return piece

    with Hub(tiny_mirror(tiny_files.checkpoint.parent), rate=None) as hub, pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_ENDPOINT", hub.url)
        hub.tamper = press_cancel_half_way
        with pytest.raises(mm.InterruptProcessingException):
            comfy_stubs.run_graph(prompt, mappings)
        assert model_files(empty_home) == ["float.json"]  # no float.pth, no .part
        with pytest.raises(comfy_stubs.PromptError, match="set download to 'if missing'"):
            prompt[loader]["inputs"]["download"] = "never"
            comfy_stubs.run_graph(prompt, mappings)
        hub.tamper = None
        saved: list = []
        prompt, mappings, _ = basic_prompt(pack, inputs, saved)
        comfy_stubs.run_graph(prompt, mappings)
    assert len(saved) == 1 and model_files(empty_home) == sorted(["float.json"] + [f.target for f in MODEL_FILES])


def test_no_network_is_one_line_naming_what_to_fetch(empty_home, inputs, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed}")
    pack = import_pack()
    prompt, mappings, _ = basic_prompt(pack, inputs, [])
    with pytest.raises(RuntimeError) as caught:
        comfy_stubs.run_graph(prompt, mappings)
    message = str(caught.value)
    assert message.startswith("Load FLOAT Models: cannot download the models: cannot reach 127.0.0.1")
    assert "\n" not in message and "Fetch by hand: " in message
    assert f"/yuvraj108c/float/resolve/main/float.pth -> {empty_home.resolve() / 'float.pth'}" in message
    assert model_files(empty_home) == ["float.json"]
