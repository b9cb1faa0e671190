"""Model files through the loader node: nothing that could run code is ever unpickled (HF folders'
pytorch_model.bin goes through the weights-only reader), and broken or incomplete files give
messages that name the file. An audit checks that no other code path reads files unsafely."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch

from test_checkpoint import Payload
from test_nodes import ROOT, import_pack, models_home, pack  # noqa: F401  (shared fixtures)

AUDIO = "wav2vec2-base-960h"
EMOTION = "wav2vec-english-speech-emotion-recognition"


def copy_folder(home: Path, source: str, name: str) -> Path:
    target = home / "models" / "float" / name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(home / "models" / "float" / source, target)
    return target


def load(pack, audio=AUDIO, emotion="none"):
    return pack.NODE_CLASS_MAPPINGS["FloatKitLoadModels"].execute("float.pth", audio, emotion, "cpu", "fp32")


def test_malicious_pytorch_model_bin_in_a_folder_is_refused_and_not_run(pack, models_home, tmp_path):
    folder = copy_folder(models_home, EMOTION, "evil-emotion")
    marker = tmp_path / "pwned"
    torch.save({"wav2vec2.x": torch.zeros(1), "payload": Payload(str(marker))}, folder / "pytorch_model.bin")
    with pytest.raises(ValueError, match=r"^Load FLOAT Models: .*evil-emotion/pytorch_model\.bin: refused"):
        load(pack, emotion="evil-emotion")
    assert not marker.exists()


def test_truncated_tower_weights_name_the_file(pack, models_home):
    folder = copy_folder(models_home, AUDIO, "cut-audio")
    weights = next(f for f in folder.iterdir() if f.name in ("model.safetensors", "pytorch_model.bin"))
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ValueError, match=rf"^Load FLOAT Models: .*cut-audio/{re.escape(weights.name)}"):
        load(pack, audio="cut-audio")


def test_corrupt_tower_config_names_the_file(pack, models_home):
    folder = copy_folder(models_home, AUDIO, "bad-config-audio")
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"^Load FLOAT Models: .*bad-config-audio/config\.json: not valid JSON"):
        load(pack, audio="bad-config-audio")


def test_a_folder_without_config_json_says_so(pack, models_home):
    folder = copy_folder(models_home, AUDIO, "no-config-audio")
    (folder / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"^Load FLOAT Models: .*no-config-audio has no config\.json.*"
                                                r"download the whole folder"):
        load(pack, audio="no-config-audio")


def test_no_code_path_reads_model_files_unsafely():
    """Audit: torch.load only with weights_only=True, no pickle/joblib/from_pretrained loads."""
    sources = [p for d in ("float_models", "nodes", "tools") for p in (ROOT / d).rglob("*.py")] + [ROOT / "__init__.py"]
    for path in sources:
        text = path.read_text()
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            assert "weights_only=True" in call, f"{path}: {call}"
        assert not re.search(r"pickle\.loads?\(|joblib\.load|\.from_pretrained\(|np\.load\([^)]*allow_pickle=True",
                             text), path


def test_tower_weights_of_the_wrong_type_are_a_short_error_naming_the_file(pack, models_home):
    # Issue 25 #9: an integer copy with the right names and shapes gave a 47 KB error naming no file.
    from safetensors.torch import load_file, save_file

    folder = copy_folder(models_home, AUDIO, "int-audio")
    weights = folder / "model.safetensors"
    save_file({k: v.to(torch.int8) for k, v in load_file(str(weights)).items()}, str(weights))
    with pytest.raises(ValueError, match=r"^Load FLOAT Models: .*int-audio.*tensor\(s\) of the wrong type: .*"
                                         r"\(file int8, model float32\).*download the original file again") as caught:
        load(pack, audio="int-audio")
    assert len(str(caught.value)) < 1500
