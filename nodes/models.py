"""Load FLOAT's networks from ComfyUI's model folders: the FLOAT checkpoint (motion auto-encoder,
audio projection, Flow Matching Transformer), the wav2vec2 audio encoder and the optional
speech-emotion classifier. See `_comfy` for the folder layouts that are accepted."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

from comfy_api.latest import io

from ..float_models import CheckpointError, FloatPipeline, load_pipeline
from ..float_models.app.download import OFFICIAL_CHECKPOINT
from ..float_models.devices import DEVICES, PRECISIONS
from ..float_models.nets.checkpoint import AUDIO_TOWER_NAME, EMOTION_TOWER_NAME
from . import _comfy, sockets

INSIDE = "(inside checkpoint)"
NONE = "none"
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


def _choices(extra: list[str]) -> list[str]:
    return _comfy.model_folder_names() + extra


class LoadModels(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        checkpoints = _comfy.checkpoint_names()
        folders = _comfy.model_folder_names()
        return sockets.schema(
            "FloatKitLoadModels", "Load FLOAT Models",
            "Loads FLOAT: the checkpoint from models/float (float.pth, or a single FLOAT.safetensors that also "
            "holds both audio towers), the wav2vec2 audio encoder and the optional speech-emotion classifier "
            "(HuggingFace folders in models/float or models/audio). Loaded models are reused between runs.",
            inputs=[
                io.Combo.Input("checkpoint", options=checkpoints, default=_prefer(checkpoints, OFFICIAL_CHECKPOINT),
                               tooltip="FLOAT checkpoint in models/float: float.pth (HuggingFace yuvraj108c/float) "
                                       "or FLOAT.safetensors (set-soft/float)."),
                io.Combo.Input("audio_encoder", options=_choices([INSIDE]),
                               default=_prefer(folders, AUDIO_TOWER_NAME, INSIDE),
                               tooltip="Folder of facebook/wav2vec2-base-960h (models/float or models/audio), or "
                                       f"'{INSIDE}' when the checkpoint holds it."),
                io.Combo.Input("emotion_encoder", options=_choices([INSIDE, NONE]),
                               default=_prefer(folders, EMOTION_TOWER_NAME, INSIDE),
                               tooltip="Folder of r-f/wav2vec-english-speech-emotion-recognition, "
                                       f"'{INSIDE}', or '{NONE}' (then emotions must be chosen as labels)."),
                io.Combo.Input("device", options=list(DEVICES), default="auto",
                               tooltip="Where the networks run; auto follows ComfyUI (and its --cpu flag)."),
                io.Combo.Input("precision", options=list(PRECISIONS), default="auto",
                               tooltip="Network precision; auto = fp16 on CUDA GPUs that do it well (else bf16 or "
                                       "fp32), with the motion sampler in fp32. The warp and other rounding-"
                                       "sensitive steps always run in fp32; the CPU always uses fp32. To check "
                                       "the GPU fast path on your card: python -m float_models check-device."),
            ],
            outputs=[sockets.output(sockets.Pipe, "pipe", "The loaded FLOAT networks, for the other FLOAT nodes.")])

    @classmethod
    def validate_inputs(cls, checkpoint: str) -> bool | str:
        """A missing file fails before the run with where to put it (instead of 'value not in list')."""
        try:
            _comfy.checkpoint_path(checkpoint)
        except _comfy.MissingModelError as err:
            return str(err)
        return True

    @classmethod
    def execute(cls, checkpoint: str, audio_encoder: str, emotion_encoder: str, device: str,
                precision: str) -> io.NodeOutput:
        return io.NodeOutput(load(checkpoint, audio_encoder, emotion_encoder, device, precision))


def _prefer(options: list[str], wanted: str, fallback: str | None = None) -> str | None:
    if wanted in options:
        return wanted
    return fallback if fallback is not None or not options else options[0]


NODES: list[type[io.ComfyNode]] = [LoadModels]
