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

Downloads (`download_models`, used by the command line and by Load FLOAT Models) speak the hub's
file protocol with the standard library: a HEAD on `{HF_ENDPOINT}/{repo}/resolve/main/{path}` gives
the size, the hash and the address of the bytes (a large file redirects to the hub's file store),
then a GET streams them in 1 MiB reads: a progress callback sees bytes and files, a cancel hook
runs between reads, and each file is written under a hidden `.part` name in its own folder,
checked (size, and the hub's sha256 or git hash), fsync'ed and renamed into place, so a stopped
download never leaves a file that looks complete. Only the repositories and file names of
`MODEL_FILES` are ever requested (plus the redirect the hub itself gives). huggingface_hub is not
used for this: besides the file, version 2.4 also fetches `{endpoint}/api/agent-harnesses`
whenever it builds its headers; HF_ENDPOINT, HF_HUB_OFFLINE and the proxy variables are honoured
all the same.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import quote, urljoin, urlparse

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
READ_TIMEOUT = 60.0  # seconds without a byte before a download is given up
CHUNK = 1 << 20  # bytes per read: the cancel hook and the progress callback run this often
REVISION = "main"


@dataclass
class DownloadProgress:
    """Where a download stands, handed to the progress callback after every read and every file."""

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int  # sum of the sizes the hub announced (0 while unknown)
    current: str  # "repo/path" being fetched, or what happens now ("checking that the files load")


ProgressCallback = Callable[[DownloadProgress], None]
CancelHook = Callable[[], None]  # raises (any exception or BaseException) to stop the download


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
    """A download that could not be done. str(): the reason and the manual steps (for the command
    line); `one_line`: the reason and each URL -> path to fetch by hand (for a node's error)."""

    def __init__(self, reason: str, dest: str | Path | None = None, parts: Iterable[str] = PARTS):
        parts = list(parts)
        self.reason = reason
        self.one_line = reason if dest is None else f"{reason}. {fetch_by_hand(dest, parts)}"
        super().__init__(reason if dest is None else f"{reason}.\n" + manual_steps(dest, parts))


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
    lines = ["", "Get them with FloatKit's downloader (needs network):",
             f"    python -m float_models download {part_args + ' ' if part_args else ''}--to {dest}",
             "", "or with the HuggingFace command line, only the files needed:",
             f"    hf download {MIRROR_REPO} {' '.join(f.mirror_file for f in files)} --local-dir {dest}",
             "", "or by hand, from a browser (put each file exactly there):"]
    for f in files:
        url = file_url(MIRROR_REPO, f.mirror_file)
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


def file_url(repo: str, name: str) -> str:
    """The hub address of one file of the table (HF_ENDPOINT, if set, replaces huggingface.co)."""
    return f"{_endpoint()}/{repo}/resolve/{REVISION}/{quote(name)}"


def fetch_by_hand(dest: str | Path, parts: Iterable[str] = PARTS) -> str:
    """One line: each file to fetch by hand, URL -> where it goes."""
    dest = Path(dest).resolve()
    files = [f for f in MODEL_FILES if f.part in set(parts)]
    return "Fetch by hand: " + "; ".join(f"{file_url(MIRROR_REPO, f.mirror_file)} -> {dest / f.target}"
                                         for f in files)


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


# ----------------------------------------------------------------------------- downloading

def _present(dest: Path, f: ModelFile) -> bool:
    path = dest / f.target
    return path.is_file() and path.stat().st_size >= f.min_bytes


def _endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


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
                    verify: bool = True, cancel: CancelHook | None = None) -> list[Path]:
    """Fetch the missing files of `which` ("float", "audio", "emotion") into `dest`
    (default: `default_models_dir()`), only the formats FloatKit reads.

    source: "mirror" (everything from yuvraj108c/float) or "original" (the two towers from
    facebook/... and r-f/...; float.pth has no original on HuggingFace, so it still comes
    from the mirror). Files already there (and not smaller than the table's floor) are kept.
    progress gets a DownloadProgress after every read; cancel is called between reads and
    stops everything by raising (the file being fetched is removed; finished files stay).
    Then, with verify, everything is loaded through float_models.nets.checkpoint; with
    convert, float.safetensors is written next to float.pth. Returns the files fetched.
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
    # A folder's config.json (what marks it as a model folder) comes after its other files: a stopped
    # download never leaves a folder that looks whole.
    todo = sorted((f for f in MODEL_FILES if f.part in which and not _present(dest, f)),
                  key=lambda f: (PARTS.index(f.part), Path(f.target).name == "config.json"))
    report = progress or (lambda state: None)
    fetched = _fetch(dest, todo, source, report, which, cancel or (lambda: None)) if todo else []
    if verify:
        report(DownloadProgress(len(todo), len(todo), 0, 0, "checking that the files load"))
        problems = verify_models(dest, which)
        if problems:
            raise DownloadError("the model files do not load:\n" + "\n".join(problems) +
                                "\nDelete the files named above and download them again.")
    if convert and "float" in which:
        target = dest / "float.safetensors"
        if not target.is_file():
            report(DownloadProgress(len(todo), len(todo), 0, 0, f"converting to {target.name}"))
            convert_checkpoint(dest / "float.pth", target)
    return fetched


@dataclass(frozen=True)
class _Remote:
    """One file as the hub describes it (HEAD): where to GET it, its size and its hash."""

    file: ModelFile
    label: str  # repo/path, for people
    target: Path
    url: str
    size: int | None
    etag: str | None


def _fetch(dest: Path, todo: list[ModelFile], source: str, report: ProgressCallback,
           which: list[str], cancel: CancelHook) -> list[Path]:
    reason = check_connection()
    if reason:
        raise DownloadError(f"cannot download the models: {reason}", dest, which)
    # Before asking the hub anything: the table's floors are close to the real sizes.
    check_free_space(dest / "x", sum(f.min_bytes for f in todo), f"the model files ({len(todo)})")
    dest.mkdir(parents=True, exist_ok=True)
    remotes = [_describe(dest, f, source, which) for f in todo]
    state = DownloadProgress(0, len(remotes), 0, sum(r.size or 0 for r in remotes), "")
    fetched = []
    for remote in remotes:
        state.current = f"{remote.label} ({_size(remote.size) if remote.size is not None else remote.file.size})"
        report(state)
        fetched.append(_stream(remote, state, report, cancel, dest, which))
        state.files_done += 1
    state.current = "downloaded"
    report(state)
    return fetched


def _describe(dest: Path, f: ModelFile, source: str, which: list[str]) -> _Remote:
    """Ask the hub (a HEAD request) for the file's size, hash and the address of its bytes."""
    repo, name = MIRROR_REPO, f.mirror_file
    if source == "original" and f.original is not None:
        repo, name = f.original
    try:
        url, size, etag = _head(file_url(repo, name))
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise DownloadError(f"asking the hub for {repo}/{name} failed: {_first_line(err)}", dest, which) from None
    return _Remote(f, f"{repo}/{name}", dest / f.target, url, size, etag)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003 - urllib's signature
        return None  # the redirect's own headers carry the size and hash of a large file


_HEADERS = {"Accept-Encoding": "identity", "User-Agent": "FloatKit-download"}
_REDIRECTS = (301, 302, 303, 307, 308)


def _head(url: str) -> tuple[str, int | None, str | None]:
    """(address of the bytes, size, hash) as the hub announces them. A large file answers 302 to
    its file store with X-Linked-Size and X-Linked-Etag; a renamed repository answers a relative
    redirect, which is followed (at most 5)."""
    opener = urllib.request.build_opener(_NoRedirect)
    for _ in range(5):
        try:
            with opener.open(urllib.request.Request(url, method="HEAD", headers=_HEADERS),
                             timeout=CONNECT_TIMEOUT) as response:
                headers, location = response.headers, url
        except urllib.error.HTTPError as err:
            if err.code not in _REDIRECTS or not err.headers.get("Location"):
                raise
            headers, location = err.headers, err.headers["Location"]
            if location.startswith("/"):  # the hub's own rename: ask again there
                url = urljoin(url, location)
                continue
        size = headers.get("X-Linked-Size") or (headers.get("Content-Length") if location == url else None)
        etag = headers.get("X-Linked-Etag") or headers.get("ETag")
        return location, int(size) if size else None, _etag(etag)
    raise ValueError("too many redirects")


def _etag(value: str | None) -> str | None:
    return value.removeprefix("W/").strip('"') if value else None


def _size(n: int) -> str:
    """Bytes for people, as the table writes them: 1.27 GB, 378 MB, 2 kB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}" if unit == "GB" else f"{n / scale:.0f} {unit}"
    return f"{n} B"


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


def _stream(remote: _Remote, state: DownloadProgress, report: ProgressCallback, cancel: CancelHook,
            dest: Path, which: list[str]) -> Path:
    """GET one file into a hidden .part beside its target, check it, fsync, rename into place.
    Whatever stops it (an error, the cancel hook, Ctrl-C) removes the .part."""
    remote.target.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(remote.target)
    start = state.bytes_done
    try:
        digest = _hasher(remote.etag, remote.size)
        request = urllib.request.Request(remote.url, headers=_HEADERS)
        try:
            with urllib.request.urlopen(request, timeout=READ_TIMEOUT) as response, open(part, "wb") as out:
                while True:
                    cancel()
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    if digest is not None:
                        digest.update(chunk)
                    state.bytes_done += len(chunk)
                    report(state)
                out.flush()
                os.fsync(out.fileno())
        except (urllib.error.URLError, OSError) as err:  # HTTPError is a URLError; timeouts are OSErrors
            raise DownloadError(f"downloading {remote.label} failed: {_first_line(err)}", dest, which) from None
        _check(remote, state.bytes_done - start, digest, dest, which)
        os.replace(part, remote.target)
        release(part)
    except BaseException:
        discard(part)
        raise
    _fsync_dir(remote.target.parent)
    return remote.target


def _hasher(etag: str | None, size: int | None):
    """The hub's ETag is the sha256 of an LFS file, or the git blob hash (sha1 of "blob <size>\\0" + bytes)."""
    if etag and len(etag) == 64 and all(c in "0123456789abcdef" for c in etag.lower()):
        return hashlib.sha256()
    if etag and size is not None and len(etag) == 40 and all(c in "0123456789abcdef" for c in etag.lower()):
        digest = hashlib.sha1()
        digest.update(b"blob %d\0" % size)
        return digest
    return None


def _check(remote: _Remote, got: int, digest, dest: Path, which: list[str]) -> None:
    """The announced size and hash must match; without an announced size, the table's floor."""
    problem = None
    if remote.size is not None and got != remote.size:
        problem = f"got {got:,} bytes of {remote.size:,}"
    elif remote.size is None and got < remote.file.min_bytes:
        problem = f"got only {got:,} bytes, expected about {remote.file.size}"
    elif digest is not None and digest.hexdigest() != remote.etag.lower():
        problem = f"its hash {digest.hexdigest()} is not the hub's {remote.etag}"
    if problem:
        raise DownloadError(f"downloading {remote.label} failed: {problem}; nothing was kept, run it again",
                            dest, which)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
