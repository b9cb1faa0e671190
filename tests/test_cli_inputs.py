"""Hostile and careless inputs on the command line (issue 17), on the tiny rule-made weights.

Every case must end in one clear line (exit 2 for a bad input, 3 for an unusable model file), before
any model loads where the input alone shows the problem, and never leave a half-written file.
The node-side cases are in tests/test_nodes_inputs.py. Covered here:

| # | hostile input                                              | expected                                     |
|---|------------------------------------------------------------|----------------------------------------------|
| 1 | `-o` = `--audio` / `--image` (same path, hard link)        | exit 2 before work, the input untouched      |
| 3 | 10000x10000 PNG (300 KB) with `--no-crop`                  | exit 2 naming the 64-megapixel limit         |
| 3 | 5000x4000 PNG                                              | read reduced to 4096 px on the long side     |
| 3 | 60 s FLAC, 8 channels, 192 kHz                             | read as mono 48 kHz, peak memory < 100 MB    |
| 3 | audio above the samples x channels limit                   | exit 2 naming the limit                      |
| 4 | `--seed 2**64`, `--nfe 10**12`, `--nfe 1000`               | exit 2 before the models are looked up       |
| 4 | `-o` onto a folder, into an unwritable place; `convert -o DIR` | exit 2 before work                       |
| 4 | `float_config` metadata not JSON / a JSON list             | exit 3 naming the file                       |
| 4 | garbage `float.json` beside `float.pth`                    | exit 3 naming float.json                     |
| 4 | HF `config.json` a JSON list / `hidden_size: -1`           | exit 3 naming the folder's config.json       |
| 5 | `--intensity nan`, `--a-cfg inf`, `--a-cfg nan`            | exit 2 naming the flag and its range         |
| 6 | SIGTERM / SIGHUP during render; SIGTERM during convert     | exit 143 / 129, no `.part` file left         |
| 6 | VideoWriter dropped without close()                        | no `.part` file left                         |
| 7 | JPEG with EXIF Orientation 6 (phone photo)                 | read upright                                 |
| 8 | `--checkpoint` missing / a symlink loop / a folder         | exit 2 naming the path and the reason        |
| 10| `-o x.avi`                                                 | exit 2 (FloatKit writes .mp4)                |
| 10| truncated JPEG with `--no-crop`                            | renders, with a one-line warning             |
|25.1| 3000x10 and 20000x2 PNG strips with the face crop on      | exit 2 "too thin to hold a face", no GBs     |
|25.6| `float_config` fps 0.0004 / 1e-300                        | exit 3 naming the file (fps range 1-240)     |
| 25.5 | a disk too small for the video, `convert`, `download`   | exit 2 (4 for download) before sampling      |
| 25.5 | ENOSPC during the render / `convert` (SafetensorError)  | exit 2, one line, no file left               |
| 25.5 | `download --to FILE` (or a path under a file)           | exit 2 before anything, online or offline    |
| 25.9 | int8 checkpoint with the right names and shapes         | exit 3 naming the file and the first keys    |
| 25.10| 3 samples at 1 Hz, 20 samples at 22 kHz (writer)        | muxed, resampled to an AAC rate              |
| 25.12| `--audio` and `-o` names with the byte 0xFF (not UTF-8)  | renders; the summary shows the byte as xFF   |
| 25   | `-o` a FIFO, a link to a FIFO or to /dev/null           | exit 2 before work, the pipe untouched       |
| 25   | `-o` / `convert -o` a symbolic link                     | the link's target is written, the link stays |
"""

from __future__ import annotations

import io
import json
import os
import signal
import struct
import math
import subprocess
import sys
import tracemalloc
import warnings as warnings_module
import zlib
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile

from float_models.app import cli, video
from test_cli import models, short_speech  # noqa: F401  (shared fixtures)

ROOT = Path(__file__).resolve().parent.parent


def run(capsys, *argv) -> tuple[int, str]:
    code = cli.main([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    return code, err


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def png_of_zeros(path: Path, width: int, height: int) -> Path:
    """A black RGB PNG written row by row (a few hundred KB for 100 megapixels)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer, row, body = zlib.compressobj(9), b"\x00" * (1 + 3 * width), []
    for _ in range(height):
        body.append(packer.compress(row))
    body.append(packer.flush())
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", b"".join(body)) + chunk(b"IEND", b""))
    return path


def jpeg_bytes(pixels: np.ndarray, orientation: int | None = None) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="image2pipe") as container:
        stream = container.add_stream("mjpeg")
        stream.width, stream.height, stream.pix_fmt = pixels.shape[1], pixels.shape[0], "yuvj444p"
        for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    data = buffer.getvalue()
    if orientation is None:
        return data
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) \
        + b"\x00\x00\x00\x00"
    app1 = b"Exif\x00\x00" + tiff
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:]


def halves() -> np.ndarray:
    """32x48: left half red, right half blue."""
    pixels = np.zeros((32, 48, 3), np.uint8)
    pixels[:, :24] = (255, 0, 0)
    pixels[:, 24:] = (0, 0, 255)
    return pixels


# ----------------------------------------------------------------------------- 1: outputs onto inputs

def test_output_onto_the_audio_or_image_is_refused_and_the_input_kept(models, short_speech, tmp_path, capsys):
    speech = tmp_path / "me.wav"
    speech.write_bytes(short_speech.read_bytes())
    image = tmp_path / "me.png"
    image.write_bytes((ROOT / "assets" / "portrait.png").read_bytes())
    os.link(speech, tmp_path / "alias.mp4")  # a hard link to the speech, with a video's name
    before = speech.read_bytes(), image.read_bytes()
    for output in (speech, image, tmp_path / "alias.mp4"):
        code, err = run(capsys, "render", "--models", models, "--image", image, "--audio", speech, "--no-crop",
                        "-o", output)
        assert code == cli.EXIT_INPUT
        assert "destroy" in one_line(err) or ".mp4" in one_line(err)
    code, err = run(capsys, "render", "--models", models, "--image", image, "--audio", speech, "--no-crop",
                    "-o", tmp_path / "alias.mp4")
    assert code == cli.EXIT_INPUT and "is the input" in one_line(err)
    assert (speech.read_bytes(), image.read_bytes()) == before


# ----------------------------------------------------------------------------- 3: decoded size

def test_a_100_megapixel_png_is_refused_before_decoding(models, short_speech, tmp_path, capsys):
    bomb = png_of_zeros(tmp_path / "black.png", 10000, 10000)
    assert bomb.stat().st_size < 1_000_000
    tracemalloc.start()
    try:
        code, err = run(capsys, "render", "--models", models, "--image", bomb, "--audio", short_speech,
                        "--no-crop", "-o", tmp_path / "x.mp4")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == cli.EXIT_INPUT and "megapixels" in one_line(err) and "64" in one_line(err)
    assert peak < 200e6
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize("width, height", [(3000, 10), (20000, 2)])
def test_a_thin_strip_with_the_face_crop_is_one_line_not_gigabytes(width, height, models, short_speech, tmp_path,
                                                                   capsys):
    # issue 25 #1: the detector scaled the strip to 360 px high (20000x2 peaked at 16.7 GB, then a cv2 traceback)
    pytest.importorskip("cv2")
    strip = png_of_zeros(tmp_path / "strip.png", width, height)
    code, err = run(capsys, "render", "--models", models, "--image", strip, "--audio", short_speech,
                    "--emotion", "happy", "-o", tmp_path / "x.mp4")
    assert code == cli.EXIT_INPUT and "too thin to hold a face" in one_line(err) and "--no-crop" in one_line(err)
    assert not (tmp_path / "x.mp4").exists()


def test_a_large_picture_is_reduced_while_reading(tmp_path):
    picture = png_of_zeros(tmp_path / "big.png", 5000, 4000)
    pixels = video.read_image(picture)
    assert pixels.shape == (round(4000 * 4096 / 5000), 4096, 3) and pixels.dtype == np.uint8


def test_many_channels_at_a_high_rate_are_reduced_while_decoding(tmp_path):
    path = tmp_path / "wide.flac"
    rate, seconds = 192000, 60
    block = np.zeros((rate, 8), np.float32)
    block[:, 0] = 0.1 * np.sin(np.arange(rate) / 20)
    with soundfile.SoundFile(str(path), "w", samplerate=rate, channels=8, format="FLAC") as out:
        for _ in range(seconds):
            out.write(block)
    tracemalloc.start()
    try:
        data, got_rate = video.read_audio(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data.shape[0] == 1 and got_rate == video.MAX_READ_RATE
    assert abs(data.shape[1] - seconds * got_rate) < got_rate // 10
    assert peak < 100e6  # 8 channels at 192 kHz as float32 would be 368 MB
    assert abs(float(np.abs(data).max()) - 0.1 / 8) < 0.01  # the channels' mean, as mix_to_mono


def test_audio_beyond_the_limit_is_one_line(models, short_speech, tmp_path, capsys, monkeypatch):
    from float_models import media

    monkeypatch.setattr(media, "MAX_AUDIO_VALUES", 4000)
    code, err = run(capsys, "render", "--models", models, "--audio", short_speech, "--no-crop",
                    "-o", tmp_path / "x.mp4")
    assert code == cli.EXIT_INPUT and "above the limit of 4000 values" in one_line(err)


# ----------------------------------------------------------------------------- 4, 5, 10: checked first

@pytest.mark.parametrize("extra, flag", [
    (["--seed", str(2 ** 64)], "--seed"), (["--nfe", str(10 ** 12)], "--nfe"), (["--nfe", "1000"], "--nfe"),
    (["--intensity", "nan"], "--intensity"), (["--a-cfg", "inf"], "--a-cfg"), (["--a-cfg", "nan"], "--a-cfg"),
    (["--e-cfg=-inf"], "--e-cfg"), (["-o", "x.avi"], "-o x.avi")])
def test_settings_are_refused_before_the_models_are_looked_up(extra, flag, short_speech, tmp_path, capsys,
                                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = run(capsys, "render", "--models", tmp_path / "no-models", "--audio", short_speech, *extra)
    assert code == cli.EXIT_INPUT  # not EXIT_MODELS: nothing was looked up yet
    assert one_line(err).startswith(f"error: {flag}")


def test_unusable_outputs_are_refused_before_work(short_speech, tiny_files, tmp_path, capsys):
    folder = tmp_path / "already-a-folder.mp4"
    folder.mkdir()
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for output, words in ((folder, "is a folder"), (Path("/proc/floatkit/out.mp4"), "cannot write"),
                          (blocker / "out.mp4", "not a folder")):
        code, err = run(capsys, "render", "--models", tmp_path / "no-models", "--audio", short_speech, "-o", output)
        assert code == cli.EXIT_INPUT and words in one_line(err)
    code, err = run(capsys, "convert", tiny_files.checkpoint, "-o", tmp_path)
    assert code == cli.EXIT_INPUT and "is a folder" in one_line(err)


def test_bad_checkpoint_paths_are_named_with_the_reason(short_speech, tmp_path, capsys):
    loop = tmp_path / "loop.pth"
    loop.symlink_to(loop)
    for path, reason in ((tmp_path / "missing.pth", "no such file"), (loop, "loops"), (tmp_path, "is a folder")):
        code, err = run(capsys, "render", "--checkpoint", path, "--audio", short_speech, "-o", tmp_path / "x.mp4")
        line = one_line(err)
        assert code == cli.EXIT_INPUT and f"--checkpoint {path}" in line and reason in line


def _checkpoint_copy(tiny_files, folder: Path, metadata: str) -> Path:
    from safetensors.torch import save_file

    from float_models.nets.checkpoint import read_tensors

    tensors, _ = read_tensors(tiny_files.checkpoint)
    folder.mkdir(exist_ok=True)
    path = folder / "float.safetensors"
    save_file(tensors, str(path), metadata={"float_config": metadata})
    return path


@pytest.mark.parametrize("metadata", ["{not json", "[1, 2]", '{"fps": -25}', '{"fps": 0.0004}', '{"fps": 1e-300}'])
def test_bad_float_config_metadata_names_the_file(metadata, tiny_files, short_speech, tmp_path, capsys):
    checkpoint = _checkpoint_copy(tiny_files, tmp_path / "m", metadata)
    code, err = run(capsys, "render", "--checkpoint", checkpoint, "--audio-encoder", tiny_files.audio_encoder,
                    "--emotion", "happy", "--audio", short_speech, "--no-crop", "-o", tmp_path / "x.mp4")
    assert code == cli.EXIT_MODELS and str(checkpoint) in one_line(err) and "float_config" in one_line(err)


def test_garbage_float_json_is_named(tiny_files, short_speech, tmp_path, capsys):
    folder = tmp_path / "float"
    folder.mkdir()
    (folder / "float.pth").symlink_to(tiny_files.checkpoint)
    (folder / "float.json").write_text("garbage{")
    code, err = run(capsys, "render", "--checkpoint", folder / "float.pth", "--audio-encoder",
                    tiny_files.audio_encoder, "--emotion", "happy", "--audio", short_speech, "--no-crop",
                    "-o", tmp_path / "x.mp4")
    assert code == cli.EXIT_MODELS and str(folder / "float.json") in one_line(err)


@pytest.mark.parametrize("change", ["list", "negative"])
def test_bad_hf_config_json_is_named(change, tiny_files, short_speech, tmp_path, capsys):
    folder = tmp_path / "wav2vec2"
    folder.mkdir()
    for item in tiny_files.audio_encoder.iterdir():
        (folder / item.name).symlink_to(item)
    config = json.loads((tiny_files.audio_encoder / "config.json").read_text())
    (folder / "config.json").unlink()
    (folder / "config.json").write_text(json.dumps([config] if change == "list" else {**config, "hidden_size": -1}))
    code, err = run(capsys, "render", "--checkpoint", tiny_files.checkpoint, "--audio-encoder", folder,
                    "--emotion", "happy", "--audio", short_speech, "--no-crop", "-o", tmp_path / "x.mp4")
    line = one_line(err)
    assert code == cli.EXIT_MODELS and str(folder) in line and "config.json" in line


# ----------------------------------------------------------------------------- 6: signals and exits

SIGNAL_SCRIPT = """
import os, signal, sys
from float_models.app import cli, video
write = video.VideoWriter.write
def write_then_stop(self, frames):
    write(self, frames)
    os.kill(os.getpid(), signal.{signame})
video.VideoWriter.write = write_then_stop
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.integration  # a real render in a subprocess per signal: ~7 s each
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_a_render_stopped_by_a_signal_leaves_no_file(signame, models, short_speech, tmp_path):
    out = tmp_path / "talk.mp4"
    done = subprocess.run([sys.executable, "-c", SIGNAL_SCRIPT.format(signame=signame), "render", "--models",
                           str(models), "--audio", str(short_speech), "--no-crop", "--nfe", "2", "--batch-size", "2",
                           "-q", "-o", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 128 + getattr(signal, signame), done.stderr
    assert "interrupted" in done.stderr and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


CONVERT_SCRIPT = """
import os, signal, sys
import safetensors.torch
from float_models.app import cli
save = safetensors.torch.save_file
def save_then_stop(tensors, path, metadata=None):
    save(tensors, path, metadata=metadata)
    os.kill(os.getpid(), signal.SIGTERM)
safetensors.torch.save_file = save_then_stop
sys.exit(cli.main(sys.argv[1:]))
"""


def test_a_convert_stopped_by_sigterm_leaves_no_file(tiny_files, tmp_path):
    done = subprocess.run([sys.executable, "-c", CONVERT_SCRIPT, "convert", str(tiny_files.checkpoint), "-o",
                           str(tmp_path / "c.safetensors")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_writer_dropped_without_close_leaves_no_part_file(tmp_path):
    import gc

    writer = video.VideoWriter(tmp_path / "v.mp4", 25, 16, 16)
    writer.write(np.zeros((80, 16, 16, 3), np.uint8))  # past x264's look-ahead, so the file is open
    assert len(list(tmp_path.iterdir())) == 1  # the hidden part file
    del writer
    gc.collect()
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- 7, 10: pictures

@pytest.mark.parametrize("orientation, top_left, shape", [(1, "red", (32, 48)), (6, "red", (48, 32)),
                                                          (8, "blue", (48, 32)), (3, "blue", (32, 48))])
def test_exif_orientation_is_applied(orientation, top_left, shape, tmp_path):
    path = tmp_path / "phone.jpg"
    path.write_bytes(jpeg_bytes(halves(), orientation))
    pixels = video.read_image(path)
    assert pixels.shape[:2] == shape
    corner = pixels[2, 2].astype(int)
    assert (corner[0] > 200 and corner[2] < 60) if top_left == "red" else (corner[2] > 200 and corner[0] < 60)


def test_a_truncated_jpeg_renders_with_a_warning(models, short_speech, tmp_path, capsys):
    rng = np.random.default_rng(0)
    data = jpeg_bytes(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) * 2 // 3])
    code = cli.main(["render", "--models", str(models), "--image", str(cut), "--audio", str(short_speech),
                     "--no-crop", "--nfe", "2", "--emotion", "happy", "-q", "-o", str(tmp_path / "x.mp4")])
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert code == 0 and len(warnings) == 1 and "truncated" in warnings[0]
    whole = tmp_path / "whole.jpg"
    whole.write_bytes(data)
    with warnings_module.catch_warnings(record=True) as caught:
        warnings_module.simplefilter("always")
        video.read_image(whole)
    assert not [w for w in caught if issubclass(w.category, video.TruncatedImageWarning)]


# ----------------------------------------------------------------------------- issue 25: paths and disks

def test_a_name_that_is_not_utf8_is_read_and_written(models, short_speech, tmp_path, capsys):
    # Issue 25 #12: soundfile encodes names as UTF-8 and failed on b"sp\xffeech.wav" (UnicodeEncodeError).
    speech = Path(os.fsdecode(bytes(tmp_path) + b"/sp\xffeech.wav"))
    speech.write_bytes(short_speech.read_bytes())
    data, rate = video.read_audio(speech)
    assert rate == 16000 and data.shape[1] == soundfile.info(str(short_speech)).frames
    out = Path(os.fsdecode(bytes(tmp_path) + b"/t\xffalk.mp4"))
    code = cli.main(["render", "--models", str(models), "--audio", str(speech), "--no-crop", "--nfe", "2",
                     "--emotion", "happy", "-q", "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 0 and out.is_file(), captured.err
    assert "t\\xffalk.mp4" in captured.out  # printable on a strict UTF-8 stdout too
    captured.out.encode("utf-8")


def test_an_output_on_a_pipe_or_device_is_refused_before_work(short_speech, tiny_files, tmp_path, capsys):
    # Issue 25: the final rename replaced a FIFO (or a link to one) with a regular file.
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    (tmp_path / "to-pipe.mp4").symlink_to(fifo)
    (tmp_path / "null.mp4").symlink_to("/dev/null")
    (tmp_path / "null.safetensors").symlink_to("/dev/null")
    for output, kind in ((fifo, "named pipe"), (tmp_path / "to-pipe.mp4", "named pipe"),
                         (tmp_path / "null.mp4", "character device")):
        code, err = run(capsys, "render", "--models", tmp_path / "no-models", "--audio", short_speech, "-o", output)
        assert code == cli.EXIT_INPUT and kind in one_line(err) and f"-o {output}" in one_line(err)
    code, err = run(capsys, "convert", tiny_files.checkpoint, "-o", tmp_path / "null.safetensors")
    assert code == cli.EXIT_INPUT and "character device" in one_line(err)
    assert fifo.is_fifo() and (tmp_path / "to-pipe.mp4").is_symlink() and (tmp_path / "null.mp4").is_symlink()
    with pytest.raises(video.MediaError, match="named pipe"):
        video.VideoWriter(fifo, 25, 16, 16)


def test_an_output_through_a_symbolic_link_writes_its_target_and_keeps_the_link(tiny_files, tmp_path, capsys):
    real, link = tmp_path / "real.mp4", tmp_path / "link.mp4"
    real.write_bytes(b"old")
    link.symlink_to(real.name)
    with video.VideoWriter(link, 25, 16, 16) as writer:
        writer.write(np.zeros((2, 16, 16, 3), np.uint8))
    assert link.is_symlink() and os.readlink(link) == real.name and real.stat().st_size > 100
    store, alias = tmp_path / "store.safetensors", tmp_path / "alias.safetensors"
    alias.symlink_to(store)  # dangling until written
    code, err = run(capsys, "convert", tiny_files.checkpoint, "-o", alias)
    assert code == 0, err
    assert alias.is_symlink() and store.is_file() and not store.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alias.safetensors", "link.mp4", "real.mp4",
                                                          "store.safetensors"]


def _disk_with_free(monkeypatch, free: int) -> None:
    import shutil

    from float_models import partfiles

    usage = shutil.disk_usage("/")
    monkeypatch.setattr(partfiles.shutil, "disk_usage", lambda path: usage._replace(free=free))


def test_a_render_that_cannot_fit_on_the_disk_is_refused_before_sampling(models, short_speech, tmp_path, capsys,
                                                                         monkeypatch):
    # Issue 25 #5: the full disk showed only after the whole render, as a traceback.
    from float_models import FloatPipeline

    _disk_with_free(monkeypatch, 200_000)
    monkeypatch.setattr(FloatPipeline, "sample_motion", lambda *a, **k: pytest.fail("sampled anyway"))
    code, err = run(capsys, "render", "--models", models, "--audio", short_speech, "--no-crop", "--emotion", "happy",
                    "-o", tmp_path / "x.mp4")
    line = one_line(err)
    assert code == cli.EXIT_INPUT and f"-o {tmp_path / 'x.mp4'}: not enough free space for the video" in line
    assert "only 0.2 MB free" in line and "choose another folder" in line
    assert list(tmp_path.iterdir()) == []


def test_the_disk_check_counts_the_frames_at_the_output_rate(models, short_speech, tmp_path, capsys, monkeypatch):
    # At --fps 60 the video has 2.4x the model's 25 fps frames: the estimate counted the 25 fps ones.
    from float_models import FloatPipeline
    from float_models.app import video as video_module

    counted = []
    monkeypatch.setattr(video_module, "estimate_video_bytes", lambda frames, *a, **k: counted.append(frames) or 10**15)
    monkeypatch.setattr(FloatPipeline, "sample_motion", lambda *a, **k: pytest.fail("sampled anyway"))
    for fps in (25, 60):
        code, _ = run(capsys, "render", "--models", models, "--audio", short_speech, "--no-crop", "--emotion",
                      "happy", "--fps", fps, "-o", tmp_path / f"x{fps}.mp4")
        assert code == cli.EXIT_INPUT
    waveform, rate = video.read_audio(short_speech)
    assert counted[1] == math.ceil(waveform.shape[-1] / rate * 60) and counted[1] > 2 * counted[0]


def test_a_disk_that_fills_during_the_render_is_one_line_and_leaves_no_file(models, short_speech, tmp_path, capsys,
                                                                            monkeypatch):
    import errno

    def full(self, frames):
        raise OSError(errno.ENOSPC, "No space left on device", str(self._tmp))

    monkeypatch.setattr(video.VideoWriter, "write", full)
    code, err = run(capsys, "render", "--models", models, "--audio", short_speech, "--no-crop", "--emotion", "happy",
                    "--nfe", "2", "-o", tmp_path / "x.mp4")
    line = one_line(err)
    assert code == cli.EXIT_INPUT and "No space left on device; nothing was written" in line
    assert ".part" not in line and list(tmp_path.iterdir()) == []


def test_the_video_size_estimate_covers_a_real_encode(tmp_path):
    portrait = video.read_image(ROOT / "assets" / "portrait.png").astype(np.float32)
    rng = np.random.default_rng(0)
    frames = np.stack([np.clip(portrait + rng.normal(0, 3, portrait.shape), 0, 255).astype(np.uint8)
                       for _ in range(25)])
    speech = np.zeros((1, 16000), np.float32)
    for crf in (0, 18, 30):
        with video.VideoWriter(tmp_path / "v.mp4", 25, 512, 512, audio=(speech, 16000), crf=crf) as writer:
            writer.write(frames)
        size = (tmp_path / "v.mp4").stat().st_size
        assert size < video.estimate_video_bytes(25, 512, 512, crf, 1.0, 1) < 20 * size + 2_000_000, crf


def test_convert_onto_a_full_disk_is_one_line_and_leaves_no_file(tiny_files, tmp_path, capsys, monkeypatch):
    import safetensors.torch
    from safetensors import SafetensorError

    target = tmp_path / "c.safetensors"
    with monkeypatch.context() as patch:
        _disk_with_free(patch, 1_000_000)
        code, err = run(capsys, "convert", tiny_files.checkpoint, "-o", target)
    assert code == cli.EXIT_INPUT and "not enough free space for c.safetensors: about" in one_line(err)

    def full(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    code, err = run(capsys, "convert", tiny_files.checkpoint, "-o", target)
    assert code == cli.EXIT_INPUT
    assert one_line(err) == (f"error: -o {target}: No space left on device; nothing was written: free some space "
                             "or choose another folder")
    assert list(tmp_path.iterdir()) == []


def test_download_into_a_file_is_refused_before_anything(tmp_path, capsys, monkeypatch):
    from float_models.app import download

    monkeypatch.setattr(download, "check_connection", lambda *a, **k: None)  # as if the hub answered
    blocker = tmp_path / "models.txt"
    blocker.write_text("not a folder")
    for dest, words in ((blocker, "is a file, not a folder"), (blocker / "float", "is inside")):
        code, err = run(capsys, "download", "--to", dest)
        line = one_line(err)
        assert code == cli.EXIT_INPUT and line.startswith(f"error: --to {dest}: {words}") and "folder" in line
    with pytest.raises(ValueError, match="is a file, not a folder"):
        download.download_models(blocker)
    assert blocker.read_text() == "not a folder"


def test_download_checks_the_free_space_first(tmp_path, capsys, monkeypatch):
    from float_models.app import download

    monkeypatch.setattr(download, "check_connection", lambda *a, **k: None)
    monkeypatch.setattr(download, "_describe", lambda *a, **k: pytest.fail("asking the hub anyway"))
    _disk_with_free(monkeypatch, 50_000_000)
    code, err = run(capsys, "download", "--to", tmp_path / "float")
    line = one_line(err)
    assert code == cli.EXIT_DOWNLOAD and "not enough free space for the model files (7)" in line


def test_an_integer_checkpoint_is_one_line_exit_3(tiny_files, short_speech, tmp_path, capsys):
    # Issue 25 #9: int8 weights with the right names and shapes gave a RuntimeError traceback (exit 1).
    import torch

    from float_models.nets.checkpoint import read_tensors

    tensors, _ = read_tensors(tiny_files.checkpoint, ("audio_encoder.", "emotion_encoder."))
    path = tmp_path / "int8.pth"
    torch.save({k: v.to(torch.int8) for k, v in tensors.items()}, path)
    path.with_suffix(".json").write_bytes(tiny_files.checkpoint.with_suffix(".json").read_bytes())
    code, err = run(capsys, "render", "--checkpoint", path, "--audio-encoder", tiny_files.audio_encoder,
                    "--emotion", "happy", "--audio", short_speech, "--no-crop", "-o", tmp_path / "x.mp4")
    line = one_line(err)
    assert code == cli.EXIT_MODELS and str(path) in line and "(file int8, model float32)" in line
    assert not (tmp_path / "x.mp4").exists()
