"""Getting FLOAT's three model sets, finding them on disk, checking them, converting float.pth.

FLOAT needs (paper, Fig. 2): its own networks (motion auto-encoder, flow-matching transformer,
audio projection) in `float.pth`, the speech encoder wav2vec2-base-960h, and the speech-emotion
classifier. One table, `MODEL_FILES`, says where each file comes from and where it goes; the
command line (`python -m float_models download`), the nodes and the error messages all read it.

Layouts found by `locate_models(folder)`:
* `float.pth` (or a converted `float.safetensors`) with the two HuggingFace folders beside it
  (`wav2vec2-base-960h/`, `wav2vec-english-speech-emotion-recognition/`): the layout of
  HuggingFace `yuvraj108c/float` and of ComfyUI-FLOAT;
* the two folders under ComfyUI's `models/audio/` instead (set-soft's advanced layout);
* set-soft's unified `FLOAT.safetensors`, which holds both towers and needs no folders.

huggingface_hub is optional: it is imported only when a download starts.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import urlparse

from ..partfiles import check_free_space, discard, output_target, part_path, release
from ..nets.checkpoint import (AUDIO_TOWER_NAME, AUDIO_TOWER_PREFIX, EMOTION_PREFIX, EMOTION_TOWER_NAME,
                         CheckpointError, SAFETENSORS_SUFFIXES, read_tensors, resolve_config,
                         split_float_weights)

MIRROR_REPO = "yuvraj108c/float"  # float.pth plus both folders, in the layout above
AUDIO_REPO = "facebook/wav2vec2-base-960h"
EMOTION_REPO = "r-f/wav2vec-english-speech-emotion-recognition"
OFFICIAL_DRIVE = "https://drive.google.com/file/d/1rvWuM12cyvNvBQNCLmG4Fr2L1rpjQBF0"  # float.pth, official README
PARTS = ("float", "audio", "emotion")
CHECKPOINT_NAMES = ("float.safetensors", "FLOAT.safetensors", "float.pth")  # searched in this order
CONNECT_TIMEOUT = 5.0  # seconds to reach the hub before giving up and printing the manual steps

ProgressCallback = Callable[[int, int, str], None]  # (files done, files in all, what is happening)


@dataclass(frozen=True)
class ModelFile:
    """One file FLOAT needs: its place under models/float and its two possible sources."""

    part: str  # "float", "audio" or "emotion"
    target: str  # path under the models folder
    mirror_file: str  # path in MIRROR_REPO
    original: tuple[str, str] | None  # (repo, path) of the original publisher on HuggingFace, if there
    min_bytes: int  # smaller means a truncated download
    size: str  # approximate, for people


_MB = 1_000_000
MODEL_FILES: tuple[ModelFile, ...] = (
    ModelFile("float", "float.pth", "float.pth", None, 800 * _MB, "827 MB"),
    ModelFile("audio", f"{AUDIO_TOWER_NAME}/config.json", f"{AUDIO_TOWER_NAME}/config.json",
              (AUDIO_REPO, "config.json"), 100, "2 kB"),
    ModelFile("audio", f"{AUDIO_TOWER_NAME}/preprocessor_config.json",
              f"{AUDIO_TOWER_NAME}/preprocessor_config.json", (AUDIO_REPO, "preprocessor_config.json"), 50, "1 kB"),
    ModelFile("audio", f"{AUDIO_TOWER_NAME}/model.safetensors", f"{AUDIO_TOWER_NAME}/model.safetensors",
              (AUDIO_REPO, "model.safetensors"), 350 * _MB, "378 MB"),
    ModelFile("emotion", f"{EMOTION_TOWER_NAME}/config.json", f"{EMOTION_TOWER_NAME}/config.json",
              (EMOTION_REPO, "config.json"), 100, "2 kB"),
    ModelFile("emotion", f"{EMOTION_TOWER_NAME}/preprocessor_config.json",
              f"{EMOTION_TOWER_NAME}/preprocessor_config.json", (EMOTION_REPO, "preprocessor_config.json"), 50,
              "1 kB"),
    ModelFile("emotion", f"{EMOTION_TOWER_NAME}/pytorch_model.bin", f"{EMOTION_TOWER_NAME}/pytorch_model.bin",
              (EMOTION_REPO, "pytorch_model.bin"), 1_100 * _MB, "1.27 GB"),
)
OFFICIAL_CHECKPOINT = MODEL_FILES[0].target  # float.pth, what the official code and ComfyUI-FLOAT load
UNIFIED_REPO = "set-soft/float"  # FLOAT.safetensors with both towers inside


def download_sources() -> str:
    """One line naming where each model set comes from (the nodes put it in their missing-file errors)."""
    return (f"{OFFICIAL_CHECKPOINT}: HuggingFace {MIRROR_REPO} (or the single-file FLOAT.safetensors of "
            f"{UNIFIED_REPO}); audio encoder folder {AUDIO_TOWER_NAME}: HuggingFace {AUDIO_REPO}; "
            f"emotion encoder folder {EMOTION_TOWER_NAME}: HuggingFace {EMOTION_REPO}")


PART_TITLES = {"float": "FLOAT checkpoint", "audio": f"speech encoder ({AUDIO_TOWER_NAME})",
               "emotion": f"speech-emotion classifier ({EMOTION_TOWER_NAME})"}


class ModelsMissing(RuntimeError):
    """Some model files are not there; the message holds the exact steps to get them."""


class DownloadError(RuntimeError):
    """A download that could not be done; the message holds the manual steps."""


# ----------------------------------------------------------------------------- finding models

@dataclass
class ModelPaths:
    checkpoint: Path | None
    audio_encoder: Path | None  # None when the checkpoint holds the tower
    emotion_encoder: Path | None
    embedded: set[str] = field(default_factory=set)  # towers inside the checkpoint ("audio", "emotion")
    missing: list[str] = field(default_factory=list)  # parts not found

    def describe(self) -> str:
        lines = [f"  checkpoint       {self.checkpoint}"]
        for part, path in (("audio", self.audio_encoder), ("emotion", self.emotion_encoder)):
            where = "inside the checkpoint" if part in self.embedded else (path or "not found")
            lines.append(f"  {part + ' encoder':<16} {where}")
        return "\n".join(lines)


def default_models_dir() -> Path:
    """$COMFYUI_MODELS/float if that variable is set, else ./models/float."""
    root = os.environ.get("COMFYUI_MODELS")
    return Path(root) / "float" if root else Path("models") / "float"


def embedded_towers(checkpoint: Path) -> set[str]:
    """Which wav2vec2 towers a unified .safetensors holds (read from its header only)."""
    if checkpoint.suffix.lower() not in SAFETENSORS_SUFFIXES:
        return set()  # the official float.pth never holds them
    from safetensors import safe_open

    try:
        with safe_open(str(checkpoint), framework="pt") as f:
            keys = list(f.keys())
    except Exception as err:  # noqa: BLE001 - reported as a checkpoint problem with the file name
        raise CheckpointError(f"{checkpoint}: not a readable safetensors file ({err}); download it again") from None
    found = set()
    if any(k.startswith(AUDIO_TOWER_PREFIX) for k in keys):
        found.add("audio")
    if any(k.startswith(EMOTION_PREFIX) for k in keys):
        found.add("emotion")
    return found


def _tower_folder(models: Path, name: str) -> Path | None:
    for candidate in (models / name, models.parent / "audio" / name):  # ComfyUI-FLOAT / set-soft layouts
        if (candidate / "config.json").is_file():
            return candidate
    return None


def locate_models(models: str | Path | None = None, checkpoint: str | Path | None = None,
                  audio_encoder: str | Path | None = None, emotion_encoder: str | Path | None = None,
                  need_emotion: bool = True) -> ModelPaths:
    """Find the model files (explicit paths win); raise ModelsMissing with the manual steps."""
    models = Path(models) if models is not None else default_models_dir()
    ckpt = Path(checkpoint) if checkpoint is not None else next(
        (models / n for n in CHECKPOINT_NAMES if (models / n).is_file()), None)
    missing = []
    if ckpt is None or not ckpt.is_file():
        missing.append("float")
        ckpt, embedded = None, set()
    else:
        embedded = embedded_towers(ckpt)
    audio = Path(audio_encoder) if audio_encoder is not None else (
        None if "audio" in embedded else _tower_folder(models, AUDIO_TOWER_NAME))
    emotion = Path(emotion_encoder) if emotion_encoder is not None else (
        None if "emotion" in embedded else _tower_folder(models, EMOTION_TOWER_NAME))
    if "audio" not in embedded and (audio is None or not audio.is_dir()):
        missing.append("audio")
    if need_emotion and "emotion" not in embedded and (emotion is None or not emotion.is_dir()):
        missing.append("emotion")
    paths = ModelPaths(ckpt, audio, emotion, embedded, missing)
    if missing:
        raise ModelsMissing(missing_message(models, missing))
    return paths


def missing_message(models: Path, parts: Iterable[str]) -> str:
    parts = [p for p in PARTS if p in set(parts)]
    names = ", ".join(PART_TITLES[p] for p in parts)
    return (f"FLOAT's model files are missing from {models.resolve()}: {names}.\n" + manual_steps(models, parts))


def manual_steps(dest: str | Path, parts: Iterable[str] = PARTS) -> str:
    """The exact steps to get the files by hand (or with one command)."""
    dest = Path(dest).resolve()
    parts = [p for p in PARTS if p in set(parts)]
    files = [f for f in MODEL_FILES if f.part in parts]
    part_args = " ".join(parts) if set(parts) != set(PARTS) else ""
    lines = ["", "Get them with FloatKit's downloader (needs network and `pip install huggingface_hub`):",
             f"    python -m float_models download {part_args + ' ' if part_args else ''}--to {dest}",
             "", "or with the HuggingFace command line, only the files needed:",
             f"    hf download {MIRROR_REPO} {' '.join(f.mirror_file for f in files)} --local-dir {dest}",
             "", "or by hand, from a browser (put each file exactly there):"]
    for f in files:
        url = f"https://huggingface.co/{MIRROR_REPO}/resolve/main/{f.mirror_file}"
        lines.append(f"    {dest / f.target}   ({f.size})\n        <- {url}")
    lines.append("")
    if "float" in parts:
        lines.append(f"float.pth is also on the official Google Drive: {OFFICIAL_DRIVE} (see "
                     "github.com/deepbrainai-research/float).")
    for part, repo in (("audio", AUDIO_REPO), ("emotion", EMOTION_REPO)):
        if part in parts:
            lines.append(f"The {PART_TITLES[part]} folder is also at https://huggingface.co/{repo} "
                         f"(files config.json, preprocessor_config.json and the weights).")
    lines.append(f"A unified FLOAT.safetensors (HuggingFace {UNIFIED_REPO}) in the same folder replaces all three.")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- checking

def verify_models(dest: str | Path, parts: Iterable[str] = PARTS) -> list[str]:
    """Load each part's files through float_models.nets.checkpoint onto the meta device (names and
    shapes strictly checked, no memory kept); returns the problems found, empty when all is well."""
    import torch

    from ..nets.checkpoint import build_emotion_encoder, build_wav2vec2, load_float_model, read_hf_folder, tower_state

    dest, meta = Path(dest), torch.device("meta")
    problems = []
    for part in [p for p in PARTS if p in set(parts)]:
        try:
            if part == "float":
                load_float_model(dest / "float.pth", device=meta)
            elif part == "audio":
                config, tensors = read_hf_folder(dest / AUDIO_TOWER_NAME)
                build_wav2vec2(config, tower_state(tensors), str(dest / AUDIO_TOWER_NAME), meta)
            else:
                config, tensors = read_hf_folder(dest / EMOTION_TOWER_NAME)
                build_emotion_encoder(config, tensors, str(dest / EMOTION_TOWER_NAME), meta)
        except CheckpointError as err:
            problems.append(str(err))
    return problems


def _size_problems(dest: Path, files: Iterable[ModelFile]) -> list[str]:
    problems = []
    for f in files:
        path = dest / f.target
        if path.is_file() and path.stat().st_size < f.min_bytes:
            problems.append(f"{path}: only {path.stat().st_size:,} bytes, expected about {f.size}: the download "
                            "is incomplete; delete the file and download it again")
    return problems


# ----------------------------------------------------------------------------- downloading

def _present(dest: Path, f: ModelFile) -> bool:
    path = dest / f.target
    return path.is_file() and path.stat().st_size >= f.min_bytes


def _hub():
    try:
        import huggingface_hub
    except ImportError:
        return None
    return huggingface_hub


def _endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def check_connection(timeout: float = CONNECT_TIMEOUT) -> str | None:
    """None if the hub (or the configured proxy) answers a TCP connection, else why not."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return "HF_HUB_OFFLINE is set, so downloads are switched off"
    proxy = next((os.environ[v] for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
                  if os.environ.get(v)), None)
    target = urlparse(proxy if proxy and "://" in proxy else f"http://{proxy}" if proxy else _endpoint())
    host, port = target.hostname, target.port or (443 if target.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as err:
        return f"cannot reach {host}:{port} ({err.strerror or err})"


def download_models(dest: str | Path | None = None, which: Iterable[str] = PARTS, source: str = "mirror",
                    progress: ProgressCallback | None = None, convert: bool = False,
                    verify: bool = True) -> list[Path]:
    """Fetch the missing files of `which` ("float", "audio", "emotion") into `dest`
    (default: `default_models_dir()`), only the formats FloatKit reads.

    source: "mirror" (everything from yuvraj108c/float) or "original" (the two towers from
    facebook/... and r-f/...; float.pth has no original on HuggingFace, so it still comes
    from the mirror). Files already there are kept. Then sizes are checked and, with
    verify, everything is loaded through float_models.nets.checkpoint; with convert,
    float.safetensors is written next to float.pth. Returns the files fetched.
    Raises DownloadError (with the manual steps) when it cannot download.
    """
    dest = Path(dest) if dest is not None else default_models_dir()
    if dest.exists() and not dest.is_dir():
        raise ValueError(f"{dest}: is a file, not a folder; give the folder to put the models in")
    unknown = set(which) - set(PARTS)
    which = [p for p in PARTS if p in set(which)]
    if unknown or not which:
        raise ValueError(f"unknown model set(s) {sorted(unknown)}: choose among {', '.join(PARTS)}")
    if source not in ("mirror", "original"):
        raise ValueError(f"source must be 'mirror' or 'original', got {source!r}")
    files = [f for f in MODEL_FILES if f.part in which]
    todo = [f for f in files if not _present(dest, f)]
    report = progress or (lambda done, total, what: None)
    fetched = []
    if todo:
        fetched = _fetch(dest, todo, source, report, which)
    problems = _size_problems(dest, files)
    if problems:
        raise DownloadError("\n".join(problems))
    if verify:
        report(len(todo), len(todo), "checking that the files load")
        problems = verify_models(dest, which)
        if problems:
            raise DownloadError("the model files do not load:\n" + "\n".join(problems) +
                                "\nDelete the files named above and download them again.")
    if convert and "float" in which:
        target = dest / "float.safetensors"
        if not target.is_file():
            report(len(todo), len(todo), f"converting to {target.name}")
            convert_checkpoint(dest / "float.pth", target)
    return fetched


def _fetch(dest: Path, todo: list[ModelFile], source: str, report: ProgressCallback,
           which: list[str]) -> list[Path]:
    hub = _hub()
    if hub is None:
        raise DownloadError("downloading needs huggingface_hub, which is not installed: "
                            "`pip install huggingface_hub`, then run this again.\n" + manual_steps(dest, which))
    reason = check_connection()
    if reason:
        raise DownloadError(f"cannot download the models: {reason}.\n" + manual_steps(dest, which))
    check_free_space(dest / "x", sum(f.min_bytes for f in todo), f"the model files ({len(todo)})")
    dest.mkdir(parents=True, exist_ok=True)
    fetched = []
    for i, f in enumerate(todo):
        repo, name, local = MIRROR_REPO, f.mirror_file, dest
        if source == "original" and f.original is not None:
            (repo, name), local = f.original, dest / Path(f.target).parent
        report(i, len(todo), f"{repo}/{name} ({f.size})")
        try:
            got = hub.hf_hub_download(repo_id=repo, filename=name, local_dir=str(local), etag_timeout=CONNECT_TIMEOUT)
        except Exception as err:  # noqa: BLE001 - network, HTTP and disk errors all end the same way
            first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
            raise DownloadError(f"downloading {repo}/{name} failed: {first}\n" + manual_steps(dest, which)) from None
        fetched.append(Path(got))
    report(len(todo), len(todo), "downloaded")
    return fetched


# ----------------------------------------------------------------------------- converting

def convert_checkpoint(source: str | Path, target: str | Path | None = None) -> Path:
    """float.pth -> .safetensors with the resolved FloatConfig as metadata `float_config`.

    Read with weights_only (through float_models.nets.checkpoint.read_tensors); every tensor is kept
    unchanged; written under a temporary name and renamed, so the target appears whole or not
    at all. For personal use: the official weights' licence (CC BY-NC-ND) forbids sharing
    converted copies.
    """
    source = Path(source)
    target = output_target(target if target is not None else source.with_suffix(".safetensors"))
    tensors, metadata = read_tensors(source)
    config = resolve_config(split_float_weights(tensors, metadata), source)
    meta = dict(metadata)
    meta["float_config"] = config.to_json()
    meta["float_source"] = source.name
    tensors = _unshared(tensors)
    check_free_space(target, sum(t.nbytes for t in tensors.values()) + 1_000_000, f"{target.name}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = part_path(target)
    try:
        _save_safetensors(tensors, tmp, meta)
        os.replace(tmp, target)
        release(tmp)
    except BaseException:
        discard(tmp)
        raise
    return target


def _save_safetensors(tensors: dict, path: Path, metadata: dict) -> None:
    """safetensors' save_file, its I/O errors (a full disk) raised as the OSError they are: its own
    SafetensorError only carries the system's error in its text ("... (os error 28)")."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    try:
        save_file(tensors, str(path), metadata=metadata)
    except SafetensorError as err:
        code = re.search(r"os error (\d+)", str(err))
        if code is None:
            raise
        number = int(code.group(1))
        raise OSError(number, os.strerror(number), str(path)) from None


def _unshared(tensors: dict) -> dict:
    """safetensors refuses tensors that share memory; give the second and later their own copy."""
    seen: set[int] = set()
    out = {}
    for key, value in tensors.items():
        value = value.contiguous()
        ptr = value.untyped_storage().data_ptr()
        if value.numel() and ptr in seen:
            value = value.clone()
        seen.add(value.untyped_storage().data_ptr())
        out[key] = value
    return out
