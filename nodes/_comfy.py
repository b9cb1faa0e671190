"""The one bridge to ComfyUI's runtime: model folders, devices and precisions, ModelPatchers,
and progress with cancel. Every other node module stays a thin adapter over `float_models`.

Model layout (ComfyUI/models/...):
  float/float.pth (+ float/wav2vec2-base-960h/, float/wav2vec-english-speech-emotion-recognition/)
      as in HuggingFace yuvraj108c/float;
  float/FLOAT.safetensors, one file holding every network incl. both wav2vec2 towers (set-soft/float);
  audio/<tower folder>/, where set-soft's advanced nodes keep the towers.
"""

from __future__ import annotations

import logging
import os
from typing import Callable, Iterable

import torch

import comfy.model_management as mm
import comfy.model_patcher
import comfy.utils
import folder_paths

from ..float_models.app.download import DownloadProgress, download_sources
from ..float_models.devices import choose_device, choose_dtype
from ..float_models.nets.checkpoint import SAFETENSORS_SUFFIXES
from ..float_models.preview import FramePreview

FOLDER = "float"
CHECKPOINT_EXTENSIONS = (".pth",) + SAFETENSORS_SUFFIXES  # what the library's checkpoint loader reads
DOWNLOADS = download_sources()  # the library's table of model files is the one source of names and repos
log = logging.getLogger("float_models")


class MissingModelError(FileNotFoundError):
    """A model file or folder that is not where the loader looks, with where to put it."""


# ------------------------------------------------------------------ model folders

def register_model_folder() -> None:
    """Add models/float to folder_paths, merging with what extra_model_paths.yaml may have added."""
    default = os.path.join(folder_paths.models_dir, FOLDER)
    paths, extensions = folder_paths.folder_names_and_paths.get(FOLDER, ([], set()))
    paths = list(paths) + ([default] if default not in paths else [])
    folder_paths.folder_names_and_paths[FOLDER] = (paths, set(extensions) | set(CHECKPOINT_EXTENSIONS))


def float_dirs() -> list[str]:
    register_model_folder()
    return list(folder_paths.get_folder_paths(FOLDER))


def download_dir() -> str:
    """Where downloads go: the first models/float folder ComfyUI knows (one from extra_model_paths.yaml
    comes first, so shared model folders get them; else ComfyUI/models/float)."""
    return float_dirs()[0]


def audio_dirs() -> list[str]:
    """models/audio (and any 'audio' paths from extra_model_paths.yaml), where peers keep the towers."""
    paths = list(folder_paths.folder_names_and_paths.get("audio", ([], set()))[0])
    default = os.path.join(folder_paths.models_dir, "audio")
    return paths + ([default] if default not in paths else [])


def _is_model_folder(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "config.json"))


def checkpoint_names() -> list[str]:
    """Checkpoint files under models/float, relative, '/'-separated; HF folders' weights are skipped."""
    found: set[str] = set()
    for root in float_dirs():
        for here, dirs, files in os.walk(root, followlinks=True):
            dirs[:] = sorted(d for d in dirs if not _is_model_folder(os.path.join(here, d)))
            rel = os.path.relpath(here, root)
            found.update(f if rel == "." else f"{rel}/{f}".replace(os.sep, "/")
                         for f in files if f.lower().endswith(CHECKPOINT_EXTENSIONS))
    return sorted(found)


def model_folder_names() -> list[str]:
    """HuggingFace model folders (holding config.json) directly under models/float or models/audio."""
    names: list[str] = []
    for root in float_dirs() + audio_dirs():
        if os.path.isdir(root):
            names += [d for d in sorted(os.listdir(root))
                      if _is_model_folder(os.path.join(root, d)) and d not in names]
    return names


def _missing(what: str, name: str, where: list[str], put_in: str) -> MissingModelError:
    looked = ", ".join(where) or "(no folder registered)"
    return MissingModelError(f"{what} {name!r} was not found (looked in: {looked}). Put it in {put_in}. "
                             f"Downloads: {DOWNLOADS}.")


def checkpoint_path(name: str) -> str:
    for root in float_dirs():
        path = os.path.normpath(os.path.join(root, *name.split("/")))
        inside = os.path.commonpath([os.path.abspath(root), os.path.abspath(path)]) == os.path.abspath(root)
        if name and inside and os.path.isfile(path):  # a prompt cannot reach outside the model folders
            return path
    dirs = float_dirs()
    raise _missing("FLOAT checkpoint", name, dirs, dirs[-1] if dirs else "ComfyUI/models/float")


def model_folder_path(name: str, what: str) -> str:
    for root in float_dirs() + audio_dirs():
        path = os.path.join(root, name)
        if _is_model_folder(path):
            return path
    for root in float_dirs() + audio_dirs():
        path = os.path.join(root, name)
        if os.path.isdir(path):  # there, but incomplete: say what is missing rather than "not found"
            raise MissingModelError(f"{what} {path} has no config.json: a HuggingFace model folder needs its "
                                    f"config.json beside the weights; download the whole folder. Downloads: "
                                    f"{DOWNLOADS}.")
    dirs = float_dirs()
    put_in = os.path.join(dirs[-1] if dirs else "ComfyUI/models/float", name) + " (the whole HuggingFace folder)"
    raise _missing(what, name, dirs + audio_dirs(), put_in)


def file_stamp(path: str | None) -> tuple:
    """What identifies a model file's contents for the load cache: path and modification times."""
    if path is None:
        return (None,)
    if os.path.isdir(path):
        return (path,) + tuple(sorted((f, os.stat(os.path.join(path, f)).st_mtime_ns) for f in os.listdir(path)))
    return path, os.stat(path).st_mtime_ns


# ------------------------------------------------------------------ devices and precision

def devices(choice: str) -> tuple[torch.device, torch.device]:
    """(load device, offload device): the library's rule, where "auto" follows ComfyUI (so --cpu
    is honoured)."""
    load = choose_device(choice, auto=mm.get_torch_device())
    offload = mm.unet_offload_device() if choice == "auto" else torch.device("cpu")
    if load.type != "cpu" and _no_vram():
        # --novram: ComfyUI reports a plain module as loaded but moves none of its weights (it can
        # only stream its own layer types), so FLOAT would run on the CPU in a GPU precision.
        log.warning("FloatKit: ComfyUI runs with --novram, which leaves FLOAT's networks on the CPU; "
                    "FLOAT runs there in fp32 (start ComfyUI with --lowvram to run it on the GPU)")
        return torch.device("cpu"), torch.device("cpu")
    return load, offload


def _no_vram() -> bool:
    state = getattr(mm, "vram_state", None)
    return state is not None and getattr(state, "name", "") == "NO_VRAM"


def precision(choice: str, device: torch.device) -> torch.dtype:
    """The library's rule (`float_models.devices.choose_dtype`); "auto" takes ComfyUI's verdict on
    this GPU's fp16 and bf16 (it knows GPUs whose fp16 is broken, and --force-fp32)."""
    if device.type != "cuda":
        return choose_dtype(choice, device)
    return choose_dtype(choice, device, fp16_ok=mm.should_use_fp16(device), bf16_ok=mm.should_use_bf16(device))


# ------------------------------------------------------------------ ModelPatchers

class _Holder(torch.nn.Module):
    """ModelPatcher writes `model.device`; HuggingFace models have a read-only `device`
    property, so each network is patched inside this plain container."""

    def __init__(self, network: torch.nn.Module):
        super().__init__()
        self.network = network


def patchers(networks: dict[str, torch.nn.Module], load: torch.device, offload: torch.device) -> dict:
    # The plain ModelPatcher on purpose, not the newest ComfyUI's dynamic one (ModelPatcherDynamic,
    # "Dynamic VRAM", on by default on NVIDIA): that one streams the weights of ComfyUI's cast layers
    # in and out per layer while a model runs, but the sampler replays a captured CUDA graph
    # (float_models/sampling.py), which holds the addresses the weights had at capture. Our networks are
    # ordinary nn.Modules, so the plain patcher loads each one whole and its weights stay put.
    return {name: comfy.model_patcher.ModelPatcher(_Holder(net), load_device=load, offload_device=offload)
            for name, net in networks.items()}


def load_models(selected: Iterable) -> None:
    """Place networks on their load device before use. Fully: a stage runs where its parameters
    are, so a network split between devices (ComfyUI's partial "lowvram" load) would not run."""
    mm.load_models_gpu(list(selected), force_full_load=True)


def follow_placement(selected: Iterable) -> None:
    """Precision follows where ComfyUI actually left each network: one left on the CPU while a
    reduced precision was chosen for the GPU runs float32 (the CPU's half-precision kernels are
    slow, and some return NaN), with one log line."""
    for patcher in selected:
        net = patcher.model
        param = next(net.parameters(), None)
        if param is not None and param.device.type == "cpu" and param.dtype in (torch.float16, torch.bfloat16):
            log.warning("FloatKit: ComfyUI left a FLOAT network on the CPU; it runs there in fp32")
            net.float()


# ------------------------------------------------------------------ progress and cancel

def stop_if_cancelled() -> None:
    """The library's `should_stop` hook for loops without a progress bar (text parsing): raises
    ComfyUI's interrupt when the user presses Cancel."""
    mm.throw_exception_if_processing_interrupted()


def progress() -> Callable[[int, int], None]:
    """A `callback(done, total)` for the library: moves the node's progress bar and raises
    ComfyUI's interrupt when the user presses Cancel (checked at every step)."""
    return _progress(None)[0]


PREVIEW_EVERY = 1.0  # seconds between live previews (README, "Live preview": what they cost)
PREVIEW_FORMAT, PREVIEW_SIZE = "JPEG", 512  # what ComfyUI's own latent previews send


def progress_with_preview() -> tuple[Callable[[int, int], None], FramePreview]:
    """(callback, preview) for the library's decoding: the library offers the preview each batch's
    last frame and it keeps one every PREVIEW_EVERY seconds (float_models.preview); the next progress
    update carries it to the node in ComfyUI, as the samplers' latent previews are carried."""
    callback, preview = _progress(PREVIEW_EVERY)
    assert preview is not None
    return callback, preview


def _progress(every: float | None) -> tuple[Callable[[int, int], None], FramePreview | None]:
    mm.throw_exception_if_processing_interrupted()
    bar = comfy.utils.ProgressBar(1)
    pending: list = []

    def step(done: int, total: int) -> None:
        bar.update_absolute(done, total, preview=pending.pop() if pending else None)
        mm.throw_exception_if_processing_interrupted()

    def show(pixels: torch.Tensor) -> None:
        from PIL import Image  # ComfyUI's own requirement; needed only once a preview is shown

        pending[:] = [(PREVIEW_FORMAT, Image.fromarray(pixels.numpy()), PREVIEW_SIZE)]

    return step, (None if every is None else FramePreview(show, every, max_side=PREVIEW_SIZE))


def download_progress() -> tuple[Callable[[DownloadProgress], None], Callable[[], None]]:
    """(progress, cancel) for the library's download: the node's bar counts the bytes of all files,
    the log (and the node's progress text, where the server sends one) names each file as it starts;
    cancel raises ComfyUI's interrupt when the user presses Cancel (checked between 1 MiB reads)."""
    mm.throw_exception_if_processing_interrupted()
    bar = comfy.utils.ProgressBar(1)
    said = [""]

    def progress(state: DownloadProgress) -> None:
        if state.current != said[0]:
            said[0] = state.current
            line = f"FloatKit download [{state.files_done}/{state.files_total}] {state.current}"
            logging.info(line)
            _progress_text(line)
        if state.bytes_total:
            bar.update_absolute(state.bytes_done, state.bytes_total)

    return progress, mm.throw_exception_if_processing_interrupted


def _progress_text(text: str) -> None:
    """Text under the running node (ComfyUI's server sends it; absent outside a server)."""
    try:
        from comfy_execution.utils import get_executing_context
        from server import PromptServer
    except ImportError:
        return
    context = get_executing_context()
    if context is not None and PromptServer.instance is not None:
        PromptServer.instance.send_progress_text(text, context.node_id)
