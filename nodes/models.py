"""Load FLOAT's networks from ComfyUI's model folders: the FLOAT checkpoint (motion auto-encoder,
audio projection, Flow Matching Transformer), the wav2vec2 audio encoder and the optional
speech-emotion classifier. See `_comfy` for the folder layouts that are accepted."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from comfy_api.latest import io

from . import _comfy, sockets

INSIDE = "(inside checkpoint)"
NONE = "none"
_CACHE: "OrderedDict[tuple, FloatKitPipe]" = OrderedDict()
_CACHE_SIZE = 2  # two loader nodes with the same files share one copy; a third setting evicts the oldest


@dataclass(frozen=True)
class FloatKitPipe:
    """The value on a FLOATKIT_PIPE socket: the loaded pipeline and one ModelPatcher per network."""

    pipeline: Any  # float_models.FloatPipeline
    patchers: dict = field(repr=False)
    source: str

    def ready(self, *stages: str):
        """The pipeline, with the networks of these stages ("float", "audio", "emotion") on their device."""
        _comfy.load_models(self.patchers[s] for s in stages if s in self.patchers)
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
    key = (_comfy.file_stamp(ckpt), _comfy.file_stamp(audio), _comfy.file_stamp(emotion),
           emotion_encoder == NONE, str(load_device), str(offload_device), str(dtype))
    if key not in _CACHE:
        _CACHE[key] = _load(ckpt, audio, emotion, emotion_encoder == NONE, load_device, offload_device, dtype)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    _CACHE.move_to_end(key)
    return _CACHE[key]


def _load(ckpt, audio, emotion, no_emotion, load_device, offload_device, dtype) -> FloatKitPipe:
    from ..float_models import CheckpointError, load_pipeline

    try:
        pipeline = load_pipeline(ckpt, audio, emotion, device=offload_device, dtype=dtype, run_device=load_device)
    except CheckpointError as err:
        raise CheckpointError(f"{err}. Model downloads: {_comfy.DOWNLOADS}") from None
    if no_emotion:
        pipeline.emotion_encoder = None  # "none": emotions come from labels only
    return FloatKitPipe(pipeline, _comfy.patchers(pipeline.networks(), load_device, offload_device), ckpt)


def _choices(extra: list[str]) -> list[str]:
    return _comfy.model_folder_names() + extra


class LoadModels(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        from ..float_models.devices import DEVICES, PRECISIONS

        checkpoints = _comfy.checkpoint_names()
        folders = _comfy.model_folder_names()
        return io.Schema(
            node_id="FloatKitLoadModels", display_name="Load FLOAT Models", category=sockets.CATEGORY,
            description="Loads FLOAT: the checkpoint from models/float (float.pth, or a single FLOAT.safetensors "
                        "that also holds both audio towers), the wav2vec2 audio encoder and the optional "
                        "speech-emotion classifier (HuggingFace folders in models/float or models/audio). "
                        "Loaded models are reused between runs.",
            inputs=[
                io.Combo.Input("checkpoint", options=checkpoints, default=_prefer(checkpoints, "float.pth"),
                               tooltip="FLOAT checkpoint in models/float: float.pth (HuggingFace yuvraj108c/float) "
                                       "or FLOAT.safetensors (set-soft/float)."),
                io.Combo.Input("audio_encoder", options=_choices([INSIDE]),
                               default=_prefer(folders, "wav2vec2-base-960h", INSIDE),
                               tooltip="Folder of facebook/wav2vec2-base-960h (models/float or models/audio), or "
                                       f"'{INSIDE}' when the checkpoint holds it."),
                io.Combo.Input("emotion_encoder", options=_choices([INSIDE, NONE]),
                               default=_prefer(folders, "wav2vec-english-speech-emotion-recognition", INSIDE),
                               tooltip="Folder of r-f/wav2vec-english-speech-emotion-recognition, "
                                       f"'{INSIDE}', or '{NONE}' (then emotions must be chosen as labels)."),
                io.Combo.Input("device", options=list(DEVICES), default="auto",
                               tooltip="Where the networks run; auto follows ComfyUI (and its --cpu flag)."),
                io.Combo.Input("precision", options=list(PRECISIONS), default="auto",
                               tooltip="Network precision; auto = fp16 on CUDA GPUs that do it well (else bf16 or "
                                       "fp32). The warp and other rounding-sensitive steps always run in fp32; "
                                       "the CPU always uses fp32."),
            ],
            outputs=[sockets.Pipe.Output("pipe", display_name="pipe", tooltip="The loaded FLOAT networks, for the other FLOAT nodes.")],
        )

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
