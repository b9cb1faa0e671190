"""The single door through which weights enter: safe formats, strict names, clear errors.

* Only safetensors, or `torch.load(weights_only=True)` for .pth/.bin files: a pickle that
  needs anything but tensors is refused, never executed.
* Accepted wrappers: a nested `state_dict` (or a dict holding one dict), a `module.` prefix.
* FLOAT files: the official float.pth (FLOAT networks only), or a unified file that also
  holds both wav2vec2 towers under the official module names (`audio_encoder.wav2vec2.`,
  `emotion_encoder.wav2vec2_for_emotion.`), such as set-soft's FLOAT.safetensors. Buffers
  saved by the official code (blur kernels, the attention mask) are recomputed and ignored.
* HuggingFace folders: `config.json` plus `model.safetensors` or `pytorch_model.bin`
  (possibly sharded). When only weights are at hand, the configs shipped in
  `tower_configs/` describe the two official towers. A tower folder given explicitly is used
  even when the FLOAT file holds that tower too (see `tower_sources`).
Every failure names the file and the problem, and says what to do.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
import zipfile
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors import SafetensorError, safe_open

from ..settings import SettingError, check_fps
from .config import FloatConfig, config_from_state_dict
from .emotion_encoder import EmotionEncoder
from .model import FloatModel

AUDIO_TOWER_PREFIX = "audio_encoder.wav2vec2."
EMOTION_PREFIX = "emotion_encoder.wav2vec2_for_emotion."
TOWER_CONFIGS = Path(__file__).parent / "tower_configs"
AUDIO_TOWER_NAME = "wav2vec2-base-960h"
EMOTION_TOWER_NAME = "wav2vec-english-speech-emotion-recognition"
SAFETENSORS_SUFFIXES = (".safetensors", ".sft")
# Official buffers that float.pth may carry: rebuilt from the configuration instead.
_BUFFER_SUFFIXES = (".kernel", "fmt.alignment_mask")
_WEIGHT_NORM_ALIASES = {".weight_g": ".parametrizations.weight.original0",
                        ".weight_v": ".parametrizations.weight.original1"}


class CheckpointError(ValueError):
    """A model file that cannot be used, with the reason and the fix in the message."""


@dataclasses.dataclass
class FloatWeights:
    """A FLOAT file split by network."""

    float: dict[str, torch.Tensor]
    audio_tower: dict[str, torch.Tensor]
    emotion: dict[str, torch.Tensor]
    metadata: dict[str, str]


def read_tensors(path: str | Path, skip: tuple[str, ...] = ()) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """All tensors of a weights file (and safetensors metadata), unwrapped and de-prefixed.

    skip: name prefixes not to read, where the format allows it (safetensors reads tensor by
    tensor; a pickle is read whole and the skipped tensors are dropped after)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if path.suffix.lower() in SAFETENSORS_SUFFIXES:
        tensors, metadata = _read_safetensors(path, skip)
    else:
        tensors, metadata = _read_pickle(path), {}
    tensors = _strip_module_prefix(tensors)
    return {k: v for k, v in tensors.items() if not k.startswith(skip)} if skip else tensors, metadata


def _read_safetensors(path: Path, skip: tuple[str, ...] = ()) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    def wanted(key: str) -> bool:
        return not skip or not key.removeprefix("module.").startswith(skip)

    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys() if wanted(k)}, dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path}: not a readable safetensors file ({err}); it is probably truncated "
                              "or corrupt: download it again") from None


def _read_pickle(path: Path) -> dict[str, torch.Tensor]:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        reason = str(err).strip().splitlines()[-1][:300]
        raise CheckpointError(
            f"{path}: refused: this pickle needs more than tensors to load ({reason}). Only weights are "
            "ever loaded; get the file from its official source, or a .safetensors version") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as err:
        raise CheckpointError(f"{path}: cannot be read as a PyTorch weights file ({str(err)[:200]}); it is "
                              "probably truncated or corrupt: download it again") from None
    return _unwrap(obj, path)


def _unwrap(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    for _ in range(3):  # {"state_dict": {...}} or {"model": {...}}, possibly nested
        if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
            obj = obj["state_dict"]
        elif isinstance(obj, Mapping) and len(obj) == 1 and isinstance(next(iter(obj.values())), Mapping):
            obj = next(iter(obj.values()))
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: not a state dict of tensors (found {type(obj).__name__}); "
                              "is this the right file?")
    return dict(obj)


def _strip_module_prefix(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if tensors and all(k.startswith("module.") for k in tensors):
        return {k[len("module."):]: v for k, v in tensors.items()}
    return tensors


def split_float_weights(tensors: Mapping[str, torch.Tensor], metadata: dict[str, str]) -> FloatWeights:
    own, audio, emotion = {}, {}, {}
    for key, value in tensors.items():
        if key.startswith(AUDIO_TOWER_PREFIX):
            audio[key[len(AUDIO_TOWER_PREFIX):]] = value
        elif key.startswith(EMOTION_PREFIX):
            emotion[key[len(EMOTION_PREFIX):]] = value
        elif not key.endswith(_BUFFER_SUFFIXES):
            own[key] = value
    return FloatWeights(own, audio, emotion, metadata)


def resolve_config(weights: FloatWeights, path: Path, config: FloatConfig | None = None) -> FloatConfig:
    """Explicit config, else safetensors metadata, else `<file>.json` beside it, else defaults;
    then every size the tensor shapes reveal."""
    if config is None:
        config = FloatConfig()
        stored = weights.metadata.get("float_config")
        beside = path.with_suffix(".json")
        if stored:
            config = _float_config(_json_object(stored, f"{path} (its 'float_config' metadata)"),
                                   f"{path} (its 'float_config' metadata)")
        elif beside.is_file():
            config = _float_config(_json_object(_read_text(beside), str(beside)), str(beside))
    try:
        config = config_from_state_dict(weights.float, config)
    except ValueError as err:
        raise CheckpointError(f"{path}: not a FLOAT checkpoint ({err}); expected keys such as "
                              "motion_autoencoder.*, fmt.* and audio_encoder.audio_projection.*") from None
    pos = weights.float.get("fmt.pos_embed")
    if pos is not None and pos.shape[1] != config.num_frames + config.num_prev_frames:
        raise CheckpointError(
            f"{path}: fmt.pos_embed has {pos.shape[1]} positions, but fps={config.fps} and "
            f"wav2vec_sec={config.wav2vec_sec} give {config.num_frames} + {config.num_prev_frames}; "
            "FLOAT's checkpoint fixes 25 fps")
    return config


def check_state_dict(model: torch.nn.Module, tensors: Mapping[str, torch.Tensor], source: str) -> None:
    """Strict comparison of names and shapes, reported as one readable error."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in tensors]
    unexpected = [k for k in tensors if k not in expected]
    wrong = [f"{k} (file {tuple(tensors[k].shape)}, model {tuple(v.shape)})"
             for k, v in expected.items() if k in tensors and tensors[k].shape != v.shape]
    typed = [f"{k} (file {_dtype_name(tensors[k])}, model {_dtype_name(v)})"
             for k, v in expected.items() if k in tensors and not _dtype_fits(tensors[k], v)]
    if typed and not (missing or unexpected or wrong):  # names and shapes right: only the numbers' type is wrong
        raise CheckpointError(
            f"{source}: {len(typed)} tensor(s) of the wrong type: {_first(typed, 3)}. The weights must be "
            "floating-point (float32, float16 or bfloat16); this file was converted, quantised or damaged: "
            "download the original file again")
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s): {_first(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): {_first(unexpected)}")
    if wrong:
        problems.append(f"{len(wrong)} shape mismatch(es): {_first(wrong)}")
    if typed:
        problems.append(f"{len(typed)} tensor(s) of the wrong type: {_first(typed, 3)}")
    if problems:
        raise CheckpointError(f"{source}: does not fit the model: " + "; ".join(problems) +
                              ". Is this the right file, complete and unmodified?")


def _dtype_fits(stored: torch.Tensor, wanted: torch.Tensor) -> bool:
    """A floating-point weight must be stored as floating point (any width: it is cast on loading);
    an integer buffer as a real number. Integers, bools and complex numbers in place of weights load
    without complaint and fail deep inside the first forward pass, or give complex frames."""
    if stored.is_complex():
        return False
    if wanted.is_floating_point():
        return stored.is_floating_point()
    return stored.dtype != torch.bool or wanted.dtype == torch.bool


def _dtype_name(tensor: torch.Tensor) -> str:
    return str(tensor.dtype).removeprefix("torch.")


def _first(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (", ..." if len(items) > n else "")


def assign_weights(model: torch.nn.Module, tensors: Mapping[str, torch.Tensor], source: str,
                   device: torch.device, dtype: torch.dtype,
                   prefix_dtypes: Mapping[str, torch.dtype] | None = None) -> torch.nn.Module:
    """Load into a model built on the meta device: tensors are taken, not copied twice.
    prefix_dtypes: another dtype for the keys under a prefix (e.g. {"fmt.": torch.float32})."""
    check_state_dict(model, tensors, source)

    def dtype_of(key: str, value: torch.Tensor) -> torch.dtype:
        if not value.is_floating_point():
            return value.dtype
        return next((d for p, d in (prefix_dtypes or {}).items() if key.startswith(p)), dtype)

    state = {k: v.to(device=device, dtype=dtype_of(k, v)) for k, v in tensors.items()}
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval().requires_grad_(False)


def load_float_model(path: str | Path, config: FloatConfig | None = None, device: torch.device | str = "cpu",
                     dtype: torch.dtype = torch.float32, skip_towers: tuple[str, ...] = (),
                     fmt_dtype: torch.dtype | None = None) -> tuple[FloatModel, FloatWeights]:
    """Build FLOAT's own networks from a checkpoint; also returns the tower weights it holds,
    except those of `skip_towers` ("audio", "emotion"), which are not read. fmt_dtype: the
    motion sampler's dtype when it differs from `dtype` (read from the file, not re-rounded)."""
    path = Path(path)
    prefixes = {"audio": AUDIO_TOWER_PREFIX, "emotion": EMOTION_PREFIX}
    weights = split_float_weights(*read_tensors(path, tuple(prefixes[t] for t in skip_towers)))
    config = resolve_config(weights, path, config)
    with torch.device("meta"):
        model = FloatModel(config)
    assign_weights(model, weights.float, str(path), torch.device(device), dtype,
                   {"fmt.": fmt_dtype} if fmt_dtype is not None else None)
    return model, weights


# ---------------------------------------------------------------- HuggingFace towers

def read_hf_config(folder: str | Path) -> dict[str, Any]:
    """config.json of a HuggingFace model folder (the weights are not touched)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such folder")
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{folder}: no config.json; a HuggingFace model folder needs its config.json "
                              "beside the weights (download the whole folder)")
    return _json_object(_read_text(config_file), str(config_file))


def read_hf_folder(folder: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """config.json and the weights of a HuggingFace model folder."""
    config = read_hf_config(folder)
    return config, _read_hf_weights(Path(folder))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: cannot be read as a JSON text file ({err})") from None


def _json_object(text: str, source: str) -> dict[str, Any]:
    """A JSON object (dict) from `text`, or CheckpointError naming `source`."""
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, TypeError) as err:
        raise CheckpointError(f"{source}: not valid JSON ({err}); restore or delete it") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{source}: expected a JSON object of settings, found a JSON "
                              f"{type(value).__name__}; restore or delete it")
    return value


def _float_config(values: dict[str, Any], source: str) -> FloatConfig:
    """A FloatConfig whose settings (all sizes, rates or ratios) are positive finite numbers."""
    try:
        config = FloatConfig.from_mapping(values)
    except TypeError as err:
        raise CheckpointError(f"{source}: settings that do not make a FLOAT config ({err})") from None
    for name, value in dataclasses.asdict(config).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
            raise CheckpointError(f"{source}: {name} = {value!r} must be a positive number; restore or delete it")
    try:
        check_fps(config.fps, "fps")
    except SettingError as err:
        raise CheckpointError(f"{source}: {err}; restore or delete it") from None
    return config


# Sizes of a HuggingFace wav2vec2 config.json that must be positive integers.
_HF_SIZES = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
             "num_feat_extract_layers", "num_conv_pos_embeddings", "num_conv_pos_embedding_groups")


def _check_hf_sizes(config: Mapping[str, Any], source: str) -> None:
    for name in _HF_SIZES:
        value = config.get(name, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise CheckpointError(f"{source}: config.json has {name} = {value!r}; it must be a positive whole "
                                  "number: download the folder again")
    for name in ("conv_dim", "conv_kernel", "conv_stride"):
        values = config.get(name, [1])
        if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                                   for v in values):
            raise CheckpointError(f"{source}: config.json has {name} = {values!r}; it must be a list of positive "
                                  "whole numbers: download the folder again")


def _read_hf_weights(folder: Path) -> dict[str, torch.Tensor]:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return read_tensors(folder / name)[0]
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (folder / index).is_file():
            shards = sorted(set(json.loads((folder / index).read_text())["weight_map"].values()))
            tensors: dict[str, torch.Tensor] = {}
            for shard in shards:
                tensors.update(read_tensors(folder / shard)[0])
            return tensors
    raise CheckpointError(f"{folder}: no weights (model.safetensors or pytorch_model.bin) in this folder")


def shipped_tower_config(name: str) -> dict[str, Any]:
    return json.loads((TOWER_CONFIGS / name / "config.json").read_text())


def tower_state(tensors: Mapping[str, torch.Tensor], prefix: str = "wav2vec2.") -> dict[str, torch.Tensor]:
    """The wav2vec2 backbone's tensors, without their prefix, weight-norm names normalised."""
    if any(k.startswith(prefix) for k in tensors):
        tensors = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    return {_weight_norm_name(k): v for k, v in tensors.items()}


def _weight_norm_name(key: str) -> str:
    for old, new in _WEIGHT_NORM_ALIASES.items():
        if key.endswith(old):
            return key[: -len(old)] + new
    return key


def build_wav2vec2(config: Mapping[str, Any], tensors: Mapping[str, torch.Tensor], source: str,
                   device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    """A HuggingFace Wav2Vec2Model with exactly these weights (strictly checked)."""
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    _check_hf_sizes(config, source)
    try:
        hf_config = Wav2Vec2Config(**{k: v for k, v in config.items() if not k.startswith("_")})
        with torch.device("meta"):
            model = Wav2Vec2Model(hf_config)
    except (TypeError, ValueError, RuntimeError, AttributeError) as err:
        raise CheckpointError(f"{source}: config.json does not describe a wav2vec2 model ({err}); download the "
                              "folder again") from None
    tensors = dict(tensors)
    if "masked_spec_embed" not in tensors and "masked_spec_embed" in model.state_dict():
        # Only used for training-time masking; some exports drop it.
        tensors["masked_spec_embed"] = torch.zeros(model.state_dict()["masked_spec_embed"].shape)
    return assign_weights(model, tensors, source, torch.device(device), dtype)


def build_emotion_encoder(config: Mapping[str, Any], tensors: Mapping[str, torch.Tensor], source: str,
                          device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> EmotionEncoder:
    head = {k[len("classifier."):]: v for k, v in tensors.items() if k.startswith("classifier.")}
    if not head:
        raise CheckpointError(f"{source}: no classifier.* weights: this is not the speech-emotion classifier "
                              f"({EMOTION_TOWER_NAME})")
    tower = build_wav2vec2(config, tower_state({k: v for k, v in tensors.items()
                                                if not k.startswith("classifier.")}), source, device, dtype)
    labels = int(config.get("num_labels") or len(config.get("id2label") or {}) or 7)
    with torch.device("meta"):
        encoder = EmotionEncoder(tower, int(config["hidden_size"]), labels)
    assign_weights(encoder.classifier, head, source + " (classifier)", torch.device(device), dtype)
    return encoder.eval()


def tower_sources(folder: str | Path | None, embedded: Mapping[str, torch.Tensor], default_config: str,
                  what: str) -> tuple[dict[str, Any], dict[str, torch.Tensor], str]:
    """Config, weights and a description of where they came from, for one tower.

    A folder the caller names wins: it is an explicit choice, while towers inside the FLOAT
    file are only what that file happens to hold (`load_pipeline` does not even read them then).
    Without a folder the checkpoint's own tower is used, with the shipped config.
    """
    if folder is not None:
        config, tensors = read_hf_folder(folder)
        return config, tensors, str(folder)
    if embedded:
        return shipped_tower_config(default_config), dict(embedded), f"{what} (inside the FLOAT checkpoint)"
    raise CheckpointError(f"no {what}: give its HuggingFace folder ({default_config}) or use a FLOAT "
                          "checkpoint that contains it")
