"""Rebuild the float-tiny fixture's rule-made weights and write them as real model files.

The fixture (tests/fixtures/float-tiny, recorded from the official code) ships no weights:
every tensor follows from its key name by the rule in its README. Writing them out as a
checkpoint file plus two HuggingFace folders lets the tests load them through exactly the
code path that loads the real float.pth and the real folders.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


FIXTURE = Path(__file__).parent / "fixtures" / "float-tiny"
MANIFEST = Path(__file__).parent / "fixtures" / "float-full-manifest.json"


def fixture() -> dict:
    return json.loads((FIXTURE / "fixture.json").read_text())


def expected() -> dict[str, torch.Tensor]:
    return load_file(str(FIXTURE / "expected.safetensors"))


def rule_tensor(key: str, shape: list[int]) -> torch.Tensor:
    """The fixture's weight rule: the library's (`float_models.nets.rule_weights`), imported on use
    because tools/workflow_graph.py imports this module without the library on its path."""
    from float_models.nets.rule_weights import rule_tensor as rule

    return rule(key, shape)


def rule_state_dict(shapes: dict[str, list[int]], overrides: dict[str, torch.Tensor] | None = None) -> dict:
    from float_models.nets.rule_weights import rule_state_dict as rule

    return rule(shapes, overrides)


def float_state_dict(fix: dict | None = None) -> dict[str, torch.Tensor]:
    fix = fix or fixture()
    return rule_state_dict(fix["float_state_dict"], {"fmt.pos_embed": expected()["fmt.pos_embed"]})


def tiny_config_json(fix: dict) -> dict:
    """What the checkpoint's shapes cannot tell: the official options of the tiny run."""
    keys = ("num_heads", "num_prev_frames", "wav2vec_sec", "fps", "sampling_rate", "attention_window")
    return {k: fix["options"][k] for k in keys}


@dataclass
class TinyFiles:
    checkpoint: Path
    audio_encoder: Path
    emotion_encoder: Path


def write_hf_folder(folder: Path, config: dict, preprocessor: dict, tensors: dict, bin_format: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    (folder / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=1))
    if bin_format:
        torch.save(tensors, folder / "pytorch_model.bin")
    else:
        save_file(tensors, str(folder / "model.safetensors"))
    return folder


def write_tiny_files(root: Path, checkpoint_format: str = "pth") -> TinyFiles:
    """float checkpoint (+ JSON config beside it) and the two HF folders, as a user has them."""
    fix = fixture()
    root.mkdir(parents=True, exist_ok=True)
    sd = float_state_dict(fix)
    if checkpoint_format == "pth":
        checkpoint = root / "float_tiny.pth"
        torch.save(sd, checkpoint)
        checkpoint.with_suffix(".json").write_text(json.dumps(tiny_config_json(fix)))
    else:
        checkpoint = root / "float_tiny.safetensors"
        save_file(sd, str(checkpoint), metadata={"float_config": json.dumps(tiny_config_json(fix))})
    audio = write_hf_folder(root / "wav2vec2-base-960h", fix["wav2vec2_hf_config"], fix["wav2vec2_preprocessor"],
                            rule_state_dict(fix["wav2vec2_hf_state_dict"]))
    emotion = write_hf_folder(root / "wav2vec-english-speech-emotion-recognition", fix["ser_hf_config"],
                              fix["ser_preprocessor"], rule_state_dict(fix["ser_hf_state_dict"]), bin_format=True)
    return TinyFiles(checkpoint, audio, emotion)
