"""Loading: the accepted layouts load; broken or unsafe files fail with a message naming the file."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from float_models import CheckpointError, load_pipeline
from float_models.nets.checkpoint import load_float_model, read_tensors
from tiny_weights import fixture, float_state_dict, tiny_config_json


@pytest.fixture(scope="module")
def tiny_sd():
    return float_state_dict()


def save(sd, path: Path) -> Path:
    torch.save(sd, path)
    path.with_suffix(".json").write_text(json.dumps(tiny_config_json(fixture())))
    return path


def test_loads_plain_nested_and_prefixed(tiny_sd, tmp_path):
    reference, _ = load_float_model(save(tiny_sd, tmp_path / "plain.pth"))
    for name, wrapped in [("nested", {"state_dict": tiny_sd}),
                          ("prefixed", {"module." + k: v for k, v in tiny_sd.items()})]:
        model, _ = load_float_model(save(wrapped, tmp_path / f"{name}.pth"))
        for (k, a), b in zip(reference.state_dict().items(), model.state_dict().values()):
            assert torch.equal(a, b), k


def test_official_buffers_in_the_file_are_ignored(tiny_sd, tmp_path):
    extra = dict(tiny_sd)
    extra["fmt.alignment_mask"] = torch.ones(60, 60, dtype=torch.bool)
    extra["motion_autoencoder.dec.to_rgbs.0.upsample.kernel"] = torch.ones(4, 4)
    load_float_model(save(extra, tmp_path / "with_buffers.pth"))


def test_missing_key_is_named(tiny_sd, tmp_path):
    broken = dict(tiny_sd)
    del broken["fmt.blocks.1.mlp.fc2.bias"]
    with pytest.raises(CheckpointError, match=r"missing_key\.pth.*1 missing key.*fmt\.blocks\.1\.mlp\.fc2\.bias"):
        load_float_model(save(broken, tmp_path / "missing_key.pth"))


def test_wrong_shape_is_named(tiny_sd, tmp_path):
    broken = dict(tiny_sd)
    broken["fmt.c_embedder.bias"] = torch.zeros(65)
    with pytest.raises(CheckpointError, match=r"shape mismatch.*fmt\.c_embedder\.bias \(file \(65,\), model \(64,\)\)"):
        load_float_model(save(broken, tmp_path / "wrong_shape.pth"))


@pytest.mark.parametrize("dtype", [torch.int8, torch.int64, torch.bool, torch.complex64])
def test_weights_of_the_wrong_type_are_named_before_loading(dtype, tiny_sd, tmp_path):
    # Issue 25 #9: right names and shapes, integer/bool numbers: a 178-line RuntimeError (complex: loaded).
    cast = {k: v.to(dtype) for k, v in tiny_sd.items()}
    name = str(dtype).removeprefix("torch.")
    with pytest.raises(CheckpointError) as caught:
        load_float_model(save(cast, tmp_path / f"cast_{name}.pth"))
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / f'cast_{name}.pth'}: ") and "\n" not in message and len(message) < 700
    assert f"tensor(s) of the wrong type: motion_autoencoder." in message and f"(file {name}, model float32)" in message
    assert "download the original file again" in message


def test_half_precision_weights_still_load(tiny_sd, tmp_path):
    half = {k: v.to(torch.bfloat16) for k, v in tiny_sd.items()}
    model, _ = load_float_model(save(half, tmp_path / "half.pth"))
    assert next(model.parameters()).dtype == torch.float32


class Payload:
    """A pickle that would run code (write a marker file) if it were ever unpickled unsafely."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_with_code_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"fmt.x": torch.zeros(1), "payload": Payload(str(marker))}, path)
    with pytest.raises(CheckpointError, match=r"evil\.pth: refused: this pickle needs more than tensors"):
        read_tensors(path)
    assert not marker.exists()


def test_truncated_files(tiny_sd, tmp_path):
    path = save(tiny_sd, tmp_path / "cut.pth")
    path.write_bytes(path.read_bytes()[:4096])
    with pytest.raises(CheckpointError, match=r"cut\.pth: cannot be read.*corrupt"):
        read_tensors(path)
    st = tmp_path / "cut.safetensors"
    save_file({"a": torch.zeros(1000)}, str(st))
    st.write_bytes(st.read_bytes()[:200])
    with pytest.raises(CheckpointError, match=r"cut\.safetensors: not a readable safetensors"):
        read_tensors(st)


def test_other_model_is_recognised(tmp_path):
    path = tmp_path / "sd15.safetensors"
    save_file({"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(4, 4)}, str(path))
    with pytest.raises(CheckpointError, match=r"sd15\.safetensors: not a FLOAT checkpoint"):
        load_float_model(path)


def test_folder_without_config(tiny_files, tmp_path):
    folder = tmp_path / "w2v"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes((tiny_files.audio_encoder / "model.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match=r"w2v: no config\.json"):
        load_pipeline(tiny_files.checkpoint, folder, device="cpu")


def test_unified_file_needs_no_folders(tiny_sd, tiny_files, tmp_path, golden):
    """One safetensors with both towers under the official module names (set-soft's layout)."""
    from safetensors.torch import load_file

    unified = dict(tiny_sd)
    for k, v in load_file(str(tiny_files.audio_encoder / "model.safetensors")).items():
        if k.startswith("wav2vec2."):
            unified["audio_encoder." + k] = v
    for k, v in torch.load(tiny_files.emotion_encoder / "pytorch_model.bin", weights_only=True).items():
        unified["emotion_encoder.wav2vec2_for_emotion." + k] = v
    path = tmp_path / "FLOAT.safetensors"
    save_file(unified, str(path), metadata={"float_config": json.dumps(tiny_config_json(fixture()))})
    # The shipped tower configs are full size, so the tiny emotion tower comes from its folder (a named
    # folder wins over the checkpoint's copy, see test_pipeline.py); the audio tower from inside the file.
    pipe = load_pipeline(path, None, tiny_files.emotion_encoder, device="cpu")
    audio = pipe.encode_audio(golden["in.waveform_16k"], 16000)
    assert (audio.features - golden["audio.wa"]).abs().max() < 1e-3
    emotion = pipe.encode_emotion(golden["in.waveform_16k"], 16000)
    assert (emotion.probabilities - golden["emotion.we_predicted"]).abs().max() < 1e-5


def test_safetensors_checkpoint_with_metadata(tiny_sd, tmp_path):
    path = tmp_path / "float.safetensors"
    save_file(tiny_sd, str(path), metadata={"float_config": json.dumps(tiny_config_json(fixture()))})
    model, _ = load_float_model(path)
    assert model.config.num_heads == 4 and model.config.input_size == 64
