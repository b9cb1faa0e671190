"""The command line end to end on the tiny rule-made weights: render, convert, errors (download: test_download.py)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile
import torch

from float_models.app import cli

from float_models.app import download
from float_models.nets.checkpoint import load_float_model, read_tensors

ROOT = Path(__file__).resolve().parent.parent
SPEECH_SAMPLES = 7000  # 0.44 s at 16 kHz -> T = ceil(7000 * 25 / 16000) = 11 frames


@pytest.fixture(scope="module")
def models(tiny_files, tmp_path_factory) -> Path:
    """The tiny files in the default layout of models/float (float.pth + the two folders)."""
    root = tmp_path_factory.mktemp("models") / "float"
    root.mkdir()
    (root / "float.pth").symlink_to(tiny_files.checkpoint)
    (root / "float.json").symlink_to(tiny_files.checkpoint.with_suffix(".json"))
    (root / "wav2vec2-base-960h").symlink_to(tiny_files.audio_encoder)
    (root / "wav2vec-english-speech-emotion-recognition").symlink_to(tiny_files.emotion_encoder)
    return root


@pytest.fixture(scope="module")
def short_speech(tmp_path_factory) -> Path:
    data, rate = soundfile.read(str(ROOT / "assets" / "speech.wav"), dtype="float32")
    path = tmp_path_factory.mktemp("audio") / "hello.wav"
    soundfile.write(str(path), data[:SPEECH_SAMPLES], rate)
    return path


@pytest.mark.integration  # the whole render on the tiny weights (~10 s on a quiet 2-core machine)
def test_render_writes_the_video_with_its_audio(models, short_speech, tmp_path, capsys):
    out = tmp_path / "clip.mp4"
    code = cli.main(["render", "--models", str(models), "--audio", str(short_speech), "--nfe", "2",
                     "--batch-size", "8", "--seed", "3", "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    frames = math.ceil(SPEECH_SAMPLES * 25 / 16000)
    with av.open(str(out)) as c:
        video, audio = c.streams.video[0], c.streams.audio[0]
        assert video.average_rate == 25 and (video.codec_context.width, video.codec_context.height) == (64, 64)
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(out)) as c:
        samples = sum(f.samples for f in c.decode(audio=0))
        rate = c.streams.audio[0].codec_context.sample_rate
    assert len(decoded) == frames
    assert rate == 16000 and abs(samples - SPEECH_SAMPLES) <= 1024  # as long as the speech, within an AAC frame
    assert np.stack(decoded).std() > 1  # a picture, not a blank
    assert f"{frames} frames of 64x64 at 25 fps" in captured.out and str(out) in captured.out
    assert "total" in captured.out and "sample" in captured.err and "decode" in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_missing_models_print_the_steps_without_traceback(tmp_path, capsys):
    code = cli.main(["render", "--models", str(tmp_path / "float"), "-o", str(tmp_path / "x.mp4")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_MODELS != 0
    assert "Traceback" not in err and "missing" in err
    for needed in ("float.pth", "wav2vec2-base-960h/model.safetensors", "yuvraj108c/float",
                   "pytorch_model.bin", "python -m float_models download"):
        assert needed in err
    assert not (tmp_path / "x.mp4").exists()


def test_module_entry_point_reports_missing_models(tmp_path):
    # Keep the caller's PYTHONPATH (shared installs may find their packages through it).
    pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": pythonpath, "COMFYUI_MODELS": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "float_models", "render", "--no-crop"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == cli.EXIT_MODELS
    assert "Traceback" not in done.stderr and str(tmp_path / "float") in done.stderr  # $COMFYUI_MODELS/float


def test_bad_inputs_are_one_line_and_exit_2(models, short_speech, tmp_path, capsys):
    cases = [["--image", str(tmp_path / "nope.png")],
             ["--audio", str(short_speech), "--nfe", "1"],
             ["--audio", str(short_speech), "--device", "cuda"] if not torch.cuda.is_available() else ["--nfe", "0"]]
    for extra in cases:
        code = cli.main(["render", "--models", str(models), "-o", str(tmp_path / "x.mp4"), *extra])
        err = capsys.readouterr().err.strip()
        assert code == cli.EXIT_INPUT and err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    (tmp_path / "blank.png").write_bytes((ROOT / "assets" / "portrait.png").read_bytes()[:100])
    code = cli.main(["render", "--models", str(models), "--image", str(tmp_path / "blank.png"),
                     "--audio", str(short_speech)])
    assert code == cli.EXIT_INPUT and "cannot be read as an image" in capsys.readouterr().err
    assert not (tmp_path / "x.mp4").exists()


def test_locate_models_accepts_the_peer_layouts(tiny_files, tmp_path):
    # Towers under ComfyUI's models/audio (set-soft's layout), checkpoint converted to safetensors.
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "wav2vec2-base-960h").symlink_to(tiny_files.audio_encoder)
    (tmp_path / "audio" / "wav2vec-english-speech-emotion-recognition").symlink_to(tiny_files.emotion_encoder)
    (tmp_path / "float").mkdir()
    (tmp_path / "float" / "float.pth").symlink_to(tiny_files.checkpoint)
    found = download.locate_models(tmp_path / "float")
    assert found.checkpoint.name == "float.pth" and found.audio_encoder == tmp_path / "audio" / "wav2vec2-base-960h"
    # A unified checkpoint with both towers inside needs no folders.
    from safetensors.torch import save_file
    tensors, _ = read_tensors(tiny_files.checkpoint)
    audio, _ = read_tensors(tiny_files.audio_encoder / "model.safetensors")
    emotion, _ = read_tensors(tiny_files.emotion_encoder / "pytorch_model.bin")
    tensors.update({f"audio_encoder.wav2vec2.{k}": v for k, v in audio.items()})
    tensors.update({f"emotion_encoder.wav2vec2_for_emotion.{k}": v for k, v in emotion.items()})
    alone = tmp_path / "alone"
    alone.mkdir()
    save_file(tensors, str(alone / "FLOAT.safetensors"))
    found = download.locate_models(alone)
    assert found.embedded == {"audio", "emotion"} and found.audio_encoder is None and found.emotion_encoder is None
    empty = tmp_path / "other" / "float"  # no models/audio beside it either
    with pytest.raises(download.ModelsMissing, match="speech-emotion"):
        download.locate_models(empty, checkpoint=tiny_files.checkpoint, audio_encoder=tiny_files.audio_encoder)
    assert download.locate_models(empty, checkpoint=tiny_files.checkpoint,
                                  audio_encoder=tiny_files.audio_encoder, need_emotion=False).emotion_encoder is None


def test_convert_round_trip(tiny_files, tmp_path, capsys):
    target = tmp_path / "converted.safetensors"
    assert cli.main(["convert", str(tiny_files.checkpoint), "-o", str(target)]) == 0
    assert str(target) in capsys.readouterr().out
    before, _ = read_tensors(tiny_files.checkpoint)
    after, metadata = read_tensors(target)
    assert before.keys() == after.keys()
    for key in before:
        assert torch.equal(before[key], after[key]), key
    # The config (here the tiny model's, from float_tiny.json) travels inside the file.
    stored = json.loads(metadata["float_config"])
    model_from_pth, _ = load_float_model(tiny_files.checkpoint, device="meta")
    model_from_st, _ = load_float_model(target, device="meta")
    assert stored["num_heads"] == 4 and model_from_st.config == model_from_pth.config
    assert sorted(p.name for p in tmp_path.iterdir()) == ["converted.safetensors"]
    assert cli.main(["convert", str(tmp_path / "missing.pth")]) == cli.EXIT_INPUT


def test_plain_progress_bar_without_tqdm(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    bar = cli.Progress("decode", "frames")
    for done in range(0, 101, 5):
        bar(done, 100)
    bar.close()
    lines = capsys.readouterr().err.strip().splitlines()  # not a terminal: about one line per tenth
    assert 5 <= len(lines) <= 12 and lines[-1].startswith("decode") and "100/100 frames" in lines[-1]


@pytest.mark.parametrize("extra, named", [(["--fps", "61"], "--fps"), (["--fps", "7"], "--fps"),
                                          (["--offset-ms", "nan"], "--offset-ms")])
def test_frame_rate_and_offset_outside_their_ranges_are_one_line(models, short_speech, tmp_path, capsys, extra, named):
    code = cli.main(["render", "--models", str(models), "--audio", str(short_speech), "-o", str(tmp_path / "x.mp4"),
                     *extra])
    err = capsys.readouterr().err.strip()
    assert code == cli.EXIT_INPUT and err.startswith(f"error: {named}") and "\n" not in err
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.integration  # a whole render on the tiny weights
def test_render_at_30_fps_with_an_offset(models, short_speech, tmp_path, capsys):
    out = tmp_path / "clip30.mp4"
    code = cli.main(["render", "--models", str(models), "--audio", str(short_speech), "--nfe", "2", "--no-crop",
                     "--fps", "30", "--offset-ms", "80", "--seed", "3", "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    frames = math.ceil(SPEECH_SAMPLES / 16000 * 30)  # 0.4375 s -> 14 frames
    with av.open(str(out)) as c:
        assert c.streams.video[0].average_rate == 30
        decoded = [f.to_ndarray(format="rgb24").astype(np.int16) for f in c.decode(video=0)]
    assert len(decoded) == frames and f"{frames} frames of 64x64 at 30 fps" in captured.out
    # 80 ms = 2 frames of the portrait's own pose: the first two frames alike (H.264 noise), the third moves
    still, moving = (float(np.abs(decoded[i] - decoded[i + 1]).mean()) for i in (0, 1))
    assert still < 1.5 and moving > 4 * still, (still, moving)
