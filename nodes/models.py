"""Load FLOAT's networks from ComfyUI's model folders: the FLOAT checkpoint (motion auto-encoder,
audio projection, Flow Matching Transformer), the wav2vec2 audio encoder and the optional
speech-emotion classifier. See `_comfy` for the folder layouts that are accepted."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

from comfy_api.latest import io

from ..float_models import CheckpointError, FloatPipeline, load_pipeline
from ..float_models.app.download import MODEL_FILES, OFFICIAL_CHECKPOINT, DownloadError, download_models
from ..float_models.devices import DEVICES, PRECISIONS
from ..float_models.nets.checkpoint import AUDIO_TOWER_NAME, EMOTION_TOWER_NAME
from . import _comfy, sockets

INSIDE = "(inside checkpoint)"
NONE = "none"
NEVER, IF_MISSING = "never", "if missing"  # the `download` choice
# The names the download table can fetch, per model set. The two tower folders are always offered in
# their combos, so that a fresh install can choose them (with download "if missing") and a saved value
# stays the same before and after the download; float.pth is the checkpoint's default but listed only
# when it is there (see the checkpoint input).
TABLE_NAMES = {"float": OFFICIAL_CHECKPOINT, "audio": AUDIO_TOWER_NAME, "emotion": EMOTION_TOWER_NAME}
SET_SIZES = {f.part: f.size for f in MODEL_FILES if not f.target.endswith(".json")}  # the weights' sizes
# Loaded models live exactly as long as ComfyUI keeps the loader's output (its executor cache, which
# "free memory" and the cache policy clear) or a node still holds them: the pack keeps no reference
# of its own. While one is alive, loader nodes with the same files and settings share it.
_LOADED: "weakref.WeakValueDictionary[tuple, FloatKitPipe]" = weakref.WeakValueDictionary()


@dataclass(frozen=True)
class FloatKitPipe:
    """The value on a FLOATKIT_PIPE socket: the loaded pipeline and one ModelPatcher per network."""

    pipeline: FloatPipeline
    patchers: dict = field(repr=False)
    source: str

    def ready(self, *stages: str):
        """The pipeline, with the networks of these stages ("float", "audio", "emotion") on their device."""
        chosen = [self.patchers[s] for s in stages if s in self.patchers]
        _comfy.load_models(chosen)
        _comfy.follow_placement(chosen)
        return self.pipeline


def load(checkpoint: str, audio_encoder: str, emotion_encoder: str, device: str = "auto",
         precision: str = "auto") -> FloatKitPipe:
    """Resolve the combo choices to files and load them (or reuse an already loaded copy)."""
    ckpt = _comfy.checkpoint_path(checkpoint)
    audio = None if audio_encoder == INSIDE else _comfy.model_folder_path(audio_encoder, "audio encoder folder")
    emotion = None if emotion_encoder in (INSIDE, NONE) else _comfy.model_folder_path(
        emotion_encoder, "emotion encoder folder")
    load_device, offload_device = _comfy.devices(device)
    dtype = _comfy.precision(precision, load_device)
    motion_dtype = None if precision == "auto" else dtype  # auto: the sampler runs fp32 (README, Precision)
    key = (_comfy.file_stamp(ckpt), _comfy.file_stamp(audio), _comfy.file_stamp(emotion),
           emotion_encoder == NONE, str(load_device), str(offload_device), str(dtype), str(motion_dtype))
    pipe = _LOADED.get(key)
    if pipe is None:
        pipe = _load(ckpt, audio, emotion, emotion_encoder == NONE, load_device, offload_device, dtype, motion_dtype)
        _LOADED[key] = pipe
    return pipe


def _load(ckpt, audio, emotion, no_emotion, load_device, offload_device, dtype, motion_dtype) -> FloatKitPipe:
    try:  # "none": the emotion classifier is not built at all (emotions come from labels only)
        pipeline = load_pipeline(ckpt, audio, emotion, device=offload_device, dtype=dtype,
                                 with_emotion=not no_emotion, run_device=load_device, motion_dtype=motion_dtype)
    except CheckpointError as err:
        raise CheckpointError(f"{err}. Model downloads: {_comfy.DOWNLOADS}") from None
    return FloatKitPipe(pipeline, _comfy.patchers(pipeline.networks(), load_device, offload_device), ckpt)


def _choices(table_name: str, extra: list[str]) -> list[str]:
    folders = _comfy.model_folder_names()
    return folders + ([table_name] if table_name not in folders else []) + extra


def missing_sets(checkpoint: str, audio_encoder: str, emotion_encoder: str) -> list[str]:
    """The model sets the download table can fetch that these choices need and the loader does not find.
    A stopped download never looks found: its files appear only whole, and a folder's config.json (what
    makes it a model folder) comes last."""
    wanted = {"float": checkpoint, "audio": audio_encoder, "emotion": emotion_encoder}
    missing = []
    for part, name in wanted.items():
        if name != TABLE_NAMES[part]:
            continue
        try:
            if part == "float":
                _comfy.checkpoint_path(name)
            else:
                _comfy.model_folder_path(name, f"{part} encoder folder")
        except _comfy.MissingModelError:
            missing.append(part)
    return missing


def fetch(parts: list[str]) -> None:
    """Download these sets into ComfyUI's models/float with the node's progress bar; Cancel stops it."""
    progress, cancel = _comfy.download_progress()
    try:
        download_models(_comfy.download_dir(), parts, progress=progress, cancel=cancel, verify=False)
    except DownloadError as err:
        raise DownloadError(err.one_line) from None


class LoadModels(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        checkpoints = _comfy.checkpoint_names()
        folders = _comfy.model_folder_names()
        empty = not checkpoints and not folders  # a fresh install: default to what the download fetches
        return sockets.schema(
            "FloatKitLoadModels", "Load FLOAT Models",
            "Loads FLOAT: the checkpoint from models/float (float.pth, or a single FLOAT.safetensors that also "
            "holds both audio towers), the wav2vec2 audio encoder and the optional speech-emotion classifier "
            "(HuggingFace folders in models/float or models/audio). Loaded models are reused between runs. "
            f"With download '{IF_MISSING}', the chosen float.pth and tower folders are first fetched into "
            "models/float if they are not there (2.5 GB in all, with progress; Cancel stops it).",
            inputs=[
                # Only files that are there: newer frontends (1.58) call a model missing when the combo lacks
                # it, and offer its download from the workflow's metadata. validate_inputs takes checkpoint, so
                # ComfyUI skips its 'value not in list' check and an absent float.pth still runs ('if missing').
                io.Combo.Input("checkpoint", options=checkpoints,
                               default=_prefer(checkpoints, OFFICIAL_CHECKPOINT) or OFFICIAL_CHECKPOINT,
                               tooltip="FLOAT checkpoint in models/float: float.pth (HuggingFace yuvraj108c/float) "
                                       "or FLOAT.safetensors (set-soft/float)."),
                io.Combo.Input("audio_encoder", options=_choices(AUDIO_TOWER_NAME, [INSIDE]),
                               default=AUDIO_TOWER_NAME if empty else _prefer(folders, AUDIO_TOWER_NAME, INSIDE),
                               tooltip="Folder of facebook/wav2vec2-base-960h (models/float or models/audio), or "
                                       f"'{INSIDE}' when the checkpoint holds it."),
                io.Combo.Input("emotion_encoder", options=_choices(EMOTION_TOWER_NAME, [INSIDE, NONE]),
                               default=EMOTION_TOWER_NAME if empty else _prefer(folders, EMOTION_TOWER_NAME, INSIDE),
                               tooltip="Folder of r-f/wav2vec-english-speech-emotion-recognition, "
                                       f"'{INSIDE}', or '{NONE}' (then emotions must be chosen as labels)."),
                io.Combo.Input("device", options=list(DEVICES), default="auto",
                               tooltip="Where the networks run; auto follows ComfyUI (and its --cpu flag)."),
                io.Combo.Input("precision", options=list(PRECISIONS), default="auto",
                               tooltip="Network precision; auto = fp16 on CUDA GPUs that do it well (else bf16 or "
                                       "fp32), with the motion sampler in fp32. The warp and other rounding-"
                                       "sensitive steps always run in fp32; the CPU always uses fp32. To check "
                                       "the GPU fast path on your card: python -m float_models check-device."),
                io.Combo.Input("download", options=[NEVER, IF_MISSING], default=NEVER, optional=True,
                               tooltip=f"'{IF_MISSING}': before loading, fetch what the choices above need and "
                                       f"models/float lacks: {OFFICIAL_CHECKPOINT} ({SET_SIZES['float']}), "
                                       f"{AUDIO_TOWER_NAME} ({SET_SIZES['audio']}), {EMOTION_TOWER_NAME} "
                                       f"({SET_SIZES['emotion']}), from HuggingFace yuvraj108c/float "
                                       "(HF_ENDPOINT if set), nothing else. Progress shows on the node; Cancel "
                                       f"stops it and keeps no partial file. '{NEVER}': only files already there."),
            ],
            outputs=[sockets.output(sockets.Pipe, "pipe", "The loaded FLOAT networks, for the other FLOAT nodes.")])

    @classmethod
    def validate_inputs(cls, checkpoint: str, download: str = NEVER) -> bool | str:
        """A missing file fails before the run with where to put it (instead of 'value not in list'),
        unless it is the table's float.pth and download is 'if missing'."""
        if download not in (NEVER, IF_MISSING):
            return f"download must be '{NEVER}' or '{IF_MISSING}', got {download!r}"
        try:
            _comfy.checkpoint_path(checkpoint)
        except _comfy.MissingModelError as err:
            if download == IF_MISSING and checkpoint == OFFICIAL_CHECKPOINT:
                return True
            hint = f" Or set download to '{IF_MISSING}' to fetch it here." if checkpoint == OFFICIAL_CHECKPOINT else ""
            return str(err) + hint
        return True

    @classmethod
    def execute(cls, checkpoint: str, audio_encoder: str, emotion_encoder: str, device: str,
                precision: str, download: str = NEVER) -> io.NodeOutput:
        if download == IF_MISSING:
            parts = missing_sets(checkpoint, audio_encoder, emotion_encoder)
            if parts:
                fetch(parts)
        return io.NodeOutput(load(checkpoint, audio_encoder, emotion_encoder, device, precision))


def _prefer(options: list[str], wanted: str, fallback: str | None = None) -> str | None:
    if wanted in options:
        return wanted
    return fallback if fallback is not None or not options else options[0]


NODES: list[type[io.ComfyNode]] = [LoadModels]
