"""Downloading the model sets against a local stand-in of the HuggingFace hub (tests/hub_server.py,
127.0.0.1 only): progress in bytes and files, cancel, no network, and nothing asked beyond the table."""

from __future__ import annotations

import dataclasses
import os
import socket
from pathlib import Path

import pytest

from float_models.app import cli, download
from hub_server import Hub, tiny_mirror

WEIGHTS = (".pth", ".bin", ".safetensors")
WEIGHT_BYTES = 2_500_000  # a made-up weights file: three reads of 1 MiB


class Cancelled(BaseException):
    """What ComfyUI's interrupt is in its newest versions: not an Exception."""


def synthetic_mirror() -> dict:
    """Every file of the table under its mirror name, with made-up bytes (the library does not read them
    when verify=False); the weights span several reads."""
    return {(download.MIRROR_REPO, f.mirror_file): os.urandom(WEIGHT_BYTES if f.mirror_file.endswith(WEIGHTS) else 300)
            for f in download.MODEL_FILES}


def allowed_requests(hub: Hub) -> set[str]:
    """The table's resolve addresses (HEAD and GET) and the file-store addresses the hub itself handed out."""
    paths = {f"/{download.MIRROR_REPO}/resolve/main/{f.mirror_file}" for f in download.MODEL_FILES}
    paths |= {f"/store/{hub.hashes(key)[1]}" for key in hub.files}
    return {f"{method} {path}" for method in ("HEAD", "GET") for path in paths}


@pytest.fixture
def endpoint(monkeypatch):
    """Point the downloader at a hub; clear what would send it elsewhere."""
    for var in ("HF_HUB_OFFLINE", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    return lambda hub: monkeypatch.setenv("HF_ENDPOINT", hub.url)


def leftovers(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.rglob("*") if p.name.endswith(".part"))


def test_download_reports_bytes_and_files_and_asks_only_for_the_table(endpoint, tmp_path):
    files = synthetic_mirror()
    dest = tmp_path / "float"
    with Hub(files) as hub:
        endpoint(hub)
        seen: list[download.DownloadProgress] = []
        fetched = download.download_models(dest, progress=lambda s: seen.append(dataclasses.replace(s)), verify=False)
    assert len(fetched) == 7 and leftovers(dest) == []
    for f in download.MODEL_FILES:
        assert (dest / f.target).read_bytes() == files[(download.MIRROR_REPO, f.mirror_file)], f.target
    total = sum(len(b) for b in files.values())
    assert {s.bytes_total for s in seen} == {total} and {s.files_total for s in seen} == {7}
    assert [s.bytes_done for s in seen] == sorted(s.bytes_done for s in seen)  # never backwards
    assert seen[-1].bytes_done == total and seen[-1].files_done == 7
    assert [s.files_done for s in seen] == sorted(s.files_done for s in seen)
    assert len({s.bytes_done for s in seen if s.files_done == 0}) > 2  # the first file in several steps
    # In each folder, config.json (what makes it look like a model folder to the loader) arrives last.
    started = list(dict.fromkeys(s.current.split(" ")[0] for s in seen if s.current.endswith(")")))
    for folder in ("wav2vec2-base-960h", "wav2vec-english-speech-emotion-recognition"):
        mine = [name for name in started if f"/{folder}/" in name]
        assert len(mine) == 3 and mine[-1].endswith(f"{folder}/config.json"), mine
    assert set(hub.requests) <= allowed_requests(hub), set(hub.requests) - allowed_requests(hub)
    assert not any(r.startswith("GET /store/") for r in hub.requests[:7])  # the HEADs first, for the total


def test_cancel_mid_file_leaves_nothing_loadable_and_a_rerun_completes(endpoint, monkeypatch, tmp_path):
    monkeypatch.setattr(download, "CHUNK", 64 * 1024)
    dest = tmp_path / "float"
    files = synthetic_mirror()
    with Hub(files) as hub:
        endpoint(hub)
        state = {}

        def cancel() -> None:
            if state.get("now") and state["now"].bytes_done > 200_000:
                raise Cancelled()

        with pytest.raises(Cancelled):
            download.download_models(dest, progress=lambda s: state.update(now=s), cancel=cancel, verify=False)
        assert 200_000 < state["now"].bytes_done < WEIGHT_BYTES and state["now"].files_done == 0  # mid float.pth
        assert sorted(p.name for p in dest.rglob("*")) == []  # no float.pth, no .part
        with pytest.raises(download.ModelsMissing):
            download.locate_models(dest)
        fetched = download.download_models(dest, verify=False)
    assert len(fetched) == 7 and leftovers(dest) == []
    assert (dest / "float.pth").read_bytes() == files[(download.MIRROR_REPO, "float.pth")]


def test_a_transfer_that_does_not_match_the_hub_hash_is_not_kept(endpoint, tmp_path):
    dest = tmp_path / "float"
    with Hub(synthetic_mirror()) as hub:
        endpoint(hub)
        hub.tamper = lambda piece: bytes([piece[0] ^ 1]) + piece[1:]
        with pytest.raises(download.DownloadError, match=r"float\.pth failed: its hash .* is not the hub's"):
            download.download_models(dest, ["float"], verify=False)
    assert sorted(p.name for p in dest.rglob("*")) == []


def test_a_file_the_hub_does_not_have_is_named(endpoint, tmp_path):
    files = synthetic_mirror()
    del files[(download.MIRROR_REPO, "wav2vec2-base-960h/config.json")]
    with Hub(files) as hub:
        endpoint(hub)
        with pytest.raises(download.DownloadError, match=r"wav2vec2-base-960h/config\.json failed: HTTP Error 404"):
            download.download_models(tmp_path / "float", ["audio"], verify=False)
    assert not any(r.startswith("GET") for r in hub.requests)  # all HEADs come first: nothing fetched in vain


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_network_is_one_line_naming_each_url_and_target(endpoint, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    dest = tmp_path / "float"
    with pytest.raises(download.DownloadError) as caught:
        download.download_models(dest, ["audio", "emotion"], verify=False)
    line = caught.value.one_line
    assert "\n" not in line and line.startswith("cannot download the models: cannot reach 127.0.0.1")
    for f in download.MODEL_FILES[1:]:
        assert f"/yuvraj108c/float/resolve/main/{f.mirror_file} -> {dest.resolve() / f.target}" in line
    assert "float.pth" not in line and not dest.exists()
    # The command line prints the longer steps, without a traceback.
    assert cli.main(["download", "--to", str(dest)]) == cli.EXIT_DOWNLOAD
    err = capsys.readouterr().err
    assert "cannot reach 127.0.0.1" in err and "hf download yuvraj108c/float float.pth" in err
    assert "Traceback" not in err and not dest.exists()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert cli.main(["download", "--to", str(dest)]) == cli.EXIT_DOWNLOAD
    assert "HF_HUB_OFFLINE" in capsys.readouterr().err


@pytest.mark.integration  # serves and checks the ~570 MB of tiny weights (~15 s on a quiet 2-core machine)
def test_cli_download_shows_progress_then_verifies_and_converts(tiny_files, endpoint, monkeypatch, tmp_path, capsys):
    dest = tmp_path / "models" / "float"
    with Hub(tiny_mirror(tiny_files.checkpoint.parent)) as hub:
        endpoint(hub)
        # The tiny model's settings (what float.pth's shapes cannot tell); the real float.pth needs none.
        dest.mkdir(parents=True)
        (dest / "float.json").write_bytes(tiny_files.checkpoint.with_suffix(".json").read_bytes())
        assert cli.main(["download", "--to", str(dest), "--convert"]) == 0
        err = capsys.readouterr().err
        assert "[0/7] yuvraj108c/float/float.pth (194 MB)" in err and "[7/7] downloaded" in err
        assert "download" in err and "MB" in err  # the bar
        assert download.locate_models(dest).checkpoint.name == "float.safetensors"
        assert set(hub.requests) <= allowed_requests(hub)
        # A second run finds everything (the tiny files are smaller than the table's floors) and asks nothing.
        monkeypatch.setattr(download, "MODEL_FILES", tuple(dataclasses.replace(f, min_bytes=10)
                                                           for f in download.MODEL_FILES))
        hub.requests.clear()
        assert download.download_models(dest, verify=False) == [] and hub.requests == []
    (dest / "wav2vec2-base-960h" / "model.safetensors").write_bytes(b"x" * 100)
    with pytest.raises(download.DownloadError, match="do not load"):
        download.download_models(dest, ["audio"])


def test_a_folder_stopped_half_way_does_not_look_like_a_model_folder(endpoint, monkeypatch, tmp_path):
    monkeypatch.setattr(download, "CHUNK", 64 * 1024)
    dest = tmp_path / "float"
    with Hub(synthetic_mirror()) as hub:
        endpoint(hub)
        state = {}

        def cancel() -> None:
            if state.get("now") and "model.safetensors" in state["now"].current and state["now"].bytes_done > 500_000:
                raise Cancelled()

        with pytest.raises(Cancelled):
            download.download_models(dest, ["audio"], progress=lambda s: state.update(now=s), cancel=cancel,
                                     verify=False)
    folder = dest / "wav2vec2-base-960h"
    assert sorted(p.name for p in folder.iterdir()) == ["preprocessor_config.json"]  # no weights, no config.json
    assert download._tower_folder(dest, "wav2vec2-base-960h") is None  # what the loaders look for
