"""Full-size FLOAT with rule-made weights, built in memory for the benchmarks.

The weights follow the float-tiny fixture's rule (tests/tiny_weights.py) applied to the key
names and shapes of the full official checkpoint (tests/fixtures/float-full-manifest.json)
and of the two wav2vec2 towers built from their shipped configs (float_models/tower_configs).
Nothing is written to disk: the speech-emotion tower alone is 316M parameters.
Timings do not depend on the values of the weights, only on the shapes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, ROOT / "tests"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from float_models.nets.checkpoint import (AUDIO_TOWER_NAME, EMOTION_TOWER_NAME,  # noqa: E402
                                     build_emotion_encoder, build_wav2vec2, shipped_tower_config)
from float_models.nets.config import FloatConfig  # noqa: E402
from float_models.nets.model import FloatModel  # noqa: E402, F401 - the type of float_model()
from float_models.pipeline import FloatPipeline  # noqa: E402
from float_models.nets.rule_weights import rule_made_model, rule_state_dict  # noqa: E402
from tiny_weights import MANIFEST  # noqa: E402


def float_model(config: FloatConfig | None = None) -> FloatModel:
    """FLOAT's own networks (full size: 206.7M parameters) with rule-made weights.

    The default config must give exactly the official checkpoint's names and shapes (the
    manifest); a smaller config (for smoke runs) takes its shapes from the model itself.
    """
    config = config or FloatConfig()
    model = rule_made_model(config)  # the library's rule, shared with `check-device`
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    if config == FloatConfig() and shapes != json.loads(MANIFEST.read_text())["parameters"]:
        raise RuntimeError("the full-size model no longer matches tests/fixtures/float-full-manifest.json")
    return model


# For --quick smoke runs: a 64 px model and a 2-layer, 32-wide wav2vec2 (the fixture's small tower).
SMALL = FloatConfig(input_size=64, dim_h=64, fmt_depth=2, num_heads=4, audio_layers=2, audio_hidden=32)


def small_tower() -> torch.nn.Module:
    from tiny_weights import fixture

    config = fixture()["ser_hf_config"]
    return build_wav2vec2(config, {k[len("wav2vec2."):]: v for k, v in rule_state_dict(_tower_shapes(config)).items()},
                          "rule-made small wav2vec2")


def _tower_shapes(config: dict) -> dict[str, list[int]]:
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    with torch.device("meta"):
        model = Wav2Vec2Model(Wav2Vec2Config(**{k: v for k, v in config.items() if not k.startswith("_")}))
    return {"wav2vec2." + k: list(v.shape) for k, v in model.state_dict().items()}


def audio_tower() -> torch.nn.Module:
    """wav2vec2-base-960h (94M parameters) with rule-made weights."""
    config = shipped_tower_config(AUDIO_TOWER_NAME)
    tensors = rule_state_dict(_tower_shapes(config))
    return build_wav2vec2(config, {k[len("wav2vec2."):]: v for k, v in tensors.items()}, "rule-made wav2vec2-base")


def emotion_tower() -> torch.nn.Module:
    """The speech-emotion classifier (wav2vec2-large, 316M parameters) with rule-made weights."""
    config = shipped_tower_config(EMOTION_TOWER_NAME)
    hidden, labels = int(config["hidden_size"]), len(config["id2label"])
    shapes = _tower_shapes(config)
    shapes.update({"classifier.dense.weight": [hidden, hidden], "classifier.dense.bias": [hidden],
                   "classifier.out_proj.weight": [labels, hidden], "classifier.out_proj.bias": [labels]})
    return build_emotion_encoder(config, rule_state_dict(shapes), "rule-made speech-emotion classifier")


def pipeline(with_emotion: bool = True) -> FloatPipeline:
    return FloatPipeline(float_model(), audio_tower(), emotion_tower() if with_emotion else None)
