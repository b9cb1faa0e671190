"""FloatPipeline's typed API (Emotion in, Motion out, Motion into the decoder) and what it owns:
the basis fingerprint, loading without the emotion classifier, which tower copy is used."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from float_models import Emotion, Motion, load_pipeline
from float_models import pipeline as pipeline_module
from float_models.edit.files import basis_fingerprint
from float_models.nets import checkpoint
from tiny_weights import fixture, float_state_dict, tiny_config_json


@pytest.fixture(scope="module")
def unified(tiny_files, tmp_path_factory):
    """A set-soft style FLOAT.safetensors (both towers inside) whose audio tower is damaged (every weight
    negated), so features tell which copy was used."""
    tensors = dict(float_state_dict())
    for k, v in load_file(str(tiny_files.audio_encoder / "model.safetensors")).items():
        if k.startswith("wav2vec2."):
            tensors["audio_encoder." + k] = -v if v.is_floating_point() else v
    for k, v in torch.load(tiny_files.emotion_encoder / "pytorch_model.bin", weights_only=True).items():
        tensors["emotion_encoder.wav2vec2_for_emotion." + k] = v
    path = tmp_path_factory.mktemp("unified") / "FLOAT.safetensors"
    save_file(tensors, str(path), metadata={"float_config": json.dumps(tiny_config_json(fixture()))})
    return path


def test_stages_speak_emotion_and_motion(tiny_pipe, golden):
    identity = tiny_pipe.encode_image(golden["in.image"])
    speech = golden["in.waveform_16k"][:, :2400]  # 4 frames: the decoder is the slow part
    audio = tiny_pipe.encode_audio(speech, 16000)
    emotion = tiny_pipe.encode_emotion(speech, 16000)
    assert isinstance(emotion, Emotion) and emotion.probabilities.shape == (1, 7)
    motion = tiny_pipe.sample_motion(identity, audio, emotion.scaled(2.0), nfe=2)
    assert isinstance(motion, Motion) and motion.num_frames == audio.num_frames and motion.fps == audio.fps
    assert motion.latents.device.type == "cpu" and torch.equal(motion.reference, identity.motion)
    frames = tiny_pipe.decode(identity, motion, batch_size=4)
    assert frames.shape[:2] == (1, motion.num_frames)


def test_raw_tensors_are_refused_with_where_the_value_comes_from(tiny_pipe, golden):
    identity = tiny_pipe.encode_image(golden["in.image"])
    audio = tiny_pipe.encode_audio(golden["in.waveform_16k"][:, :4000], 16000)
    with pytest.raises(TypeError, match=r"emotion: expected a float_models\.Emotion \(from pipe\.encode_emotion"):
        tiny_pipe.sample_motion(identity, audio, torch.ones(1, 7) / 7, nfe=2)
    with pytest.raises(TypeError, match=r"motion: expected a float_models\.Motion"):
        tiny_pipe.decode(identity, identity.motion[:, None])


def test_emotion_of_label_is_the_scaled_one_hot():
    happy = Emotion.of_label("happy", 0.5).probabilities
    assert happy.shape == (1, 7) and happy.sum() == 0.5 and happy.max() == 0.5


def test_the_pipeline_owns_its_basis_fingerprint(tiny_pipe):
    weight = tiny_pipe.model.motion_autoencoder.dec.direction.weight
    assert tiny_pipe.direction_weight is weight
    assert tiny_pipe.basis_fingerprint() == basis_fingerprint(weight)
    assert basis_fingerprint(-weight) != tiny_pipe.basis_fingerprint()


def test_without_emotion_the_classifier_is_neither_read_nor_built(unified, tiny_files, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the emotion classifier was built")

    read = []
    original = checkpoint.read_tensors
    monkeypatch.setattr(checkpoint, "read_tensors", lambda *a, **k: read.append(original(*a, **k)) or read[-1])
    monkeypatch.setattr(pipeline_module, "build_emotion_encoder", refuse)
    pipe = load_pipeline(unified, tiny_files.audio_encoder, None, device="cpu", with_emotion=False)
    assert pipe.emotion_encoder is None and "emotion" not in pipe.networks()
    assert not any(k.startswith(checkpoint.EMOTION_PREFIX) for k in read[0][0])  # not even read from disk
    with pytest.raises(RuntimeError, match="no emotion encoder"):
        pipe.encode_emotion(torch.zeros(1, 1600), 16000)


def test_a_chosen_tower_folder_wins_over_the_copy_inside_the_checkpoint(unified, tiny_files, golden):
    chosen = load_pipeline(unified, tiny_files.audio_encoder, tiny_files.emotion_encoder, device="cpu")
    features = chosen.encode_audio(golden["in.waveform_16k"], 16000).features
    assert (features - golden["audio.wa"]).abs().max() < 1e-3  # the folder's tower, not the damaged one
    inside = load_pipeline(unified, None, tiny_files.emotion_encoder, device="cpu")
    assert (inside.encode_audio(golden["in.waveform_16k"], 16000).features - golden["audio.wa"]).abs().max() > 1e-2


def test_reading_a_folder_config_does_not_read_its_weights(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 8}))
    (tmp_path / "model.safetensors").write_bytes(b"not weights at all")
    assert checkpoint.read_hf_config(tmp_path) == {"hidden_size": 8}
    with pytest.raises(checkpoint.CheckpointError, match="not a readable safetensors"):
        checkpoint.read_hf_folder(tmp_path)
