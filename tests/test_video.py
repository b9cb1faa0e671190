"""float_models.app.video: the streaming MP4 writer and the media readers, checked by reading files back with PyAV."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile
import torch

from float_models.app.video import MediaError, VideoWriter, frames_to_uint8, read_audio, read_image, to_uint8_frames

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def probe(path: Path) -> dict:
    """Frame count, rate and size of the video, and the decoded audio samples."""
    with av.open(str(path)) as c:
        video = c.streams.video[0]
        info = {"rate": video.average_rate, "width": video.codec_context.width,
                "height": video.codec_context.height, "audio": None}
        info["frames"] = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        if c.streams.audio:
            stream = c.streams.audio[0]
            pcm = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)
            info["audio"], info["sample_rate"] = pcm, stream.codec_context.sample_rate
            info["channels"] = stream.codec_context.channels
    return info


def ramp_frames(n: int, h: int, w: int) -> np.ndarray:
    """Smooth frames (compress well, so decoded values stay close to the input)."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([np.stack([(x * 4 + i) % 256, (y * 4) % 256, np.full_like(x, 128)], -1)
                     for i in range(n)]).astype(np.uint8)


def tone(seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return np.stack([0.5 * np.sin(2 * np.pi * 440 * (c + 1) * t) for c in range(channels)]).astype(np.float32)


def test_frames_and_rate_round_trip(tmp_path):
    frames = ramp_frames(30, 48, 64)
    out = tmp_path / "v.mp4"
    with VideoWriter(out, 25, 64, 48, crf=0) as video:
        video.write(frames[:10])
        video.write(frames[10:].astype(np.float32) / 255)  # float [0, 1] batches too
    info = probe(out)
    assert len(info["frames"]) == 30 and info["rate"] == 25
    assert (info["width"], info["height"]) == (64, 48)
    # crf 0 is lossless in YUV; the RGB->yuv420p conversion itself stays within a few levels on smooth images
    err = np.abs(np.stack(info["frames"]).astype(int) - frames.astype(int))
    assert np.median(err) <= 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask  # an ordinary file, not a private temp


def test_exception_mid_write_leaves_nothing(tmp_path):
    out = tmp_path / "v.mp4"
    with pytest.raises(RuntimeError, match="stop"):
        with VideoWriter(out, 25, 32, 32, audio=(tone(2, 16000), 16000)) as video:
            video.write(ramp_frames(60, 32, 32))
            partial = [p for p in tmp_path.iterdir()]
            assert len(partial) == 1 and partial[0].name.startswith(".v.mp4.")  # the temp file, same folder
            assert partial[0].stat().st_size > 0  # frames were encoded already, not kept in memory
            raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_survives_a_failed_write(tmp_path):
    out = tmp_path / "v.mp4"
    out.write_bytes(b"old")
    with pytest.raises(MediaError, match="does not match"):
        with VideoWriter(out, 25, 32, 32) as video:
            video.write(ramp_frames(2, 32, 40))
    assert out.read_bytes() == b"old" and list(tmp_path.iterdir()) == [out]


def test_no_frames_is_an_error_and_leaves_nothing(tmp_path):
    with pytest.raises(MediaError, match="no frames"):
        with VideoWriter(tmp_path / "v.mp4", 25, 32, 32):
            pass
    assert list(tmp_path.iterdir()) == []


def test_odd_sizes_are_padded_or_refused(tmp_path):
    frames = ramp_frames(5, 33, 47)
    with VideoWriter(tmp_path / "v.mp4", 25, 47, 33) as video:
        video.write(frames)
    info = probe(tmp_path / "v.mp4")
    assert (info["width"], info["height"]) == (48, 34) and len(info["frames"]) == 5
    assert np.abs(info["frames"][0][:33, :47].astype(int) - frames[0]).mean() < 3  # the picture is kept
    with pytest.raises(MediaError, match="even"):
        VideoWriter(tmp_path / "w.mp4", 25, 47, 33, odd="error")
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]


@pytest.mark.parametrize("seconds", [3.0, 0.7])
def test_audio_is_cut_or_padded_to_the_frames(tmp_path, seconds):
    rate, frames = 16000, 40  # 1.6 s of video
    with VideoWriter(tmp_path / "v.mp4", 25, 32, 32, audio=(tone(seconds, rate), rate)) as video:
        for start in range(0, frames, 7):
            video.write(ramp_frames(min(7, frames - start), 32, 32))
    info = probe(tmp_path / "v.mp4")
    assert len(info["frames"]) == frames and info["sample_rate"] == rate
    assert abs(info["audio"].shape[1] - frames / 25 * rate) <= 1024  # one AAC frame
    if seconds < 1.6:  # silence after the speech ends
        tail = info["audio"][0, int(0.8 * rate):int(1.5 * rate)]
        assert np.abs(tail).max() < 0.01
        assert np.abs(info["audio"][0, 1000:int(0.6 * rate)]).max() > 0.3


def test_stereo_and_unusual_rates_are_muxed(tmp_path):
    audio = tone(1.0, 11111, channels=2)  # AAC cannot store 11111 Hz: resampled to the next rate up
    with VideoWriter(tmp_path / "v.mp4", 25, 32, 32, audio=(torch.from_numpy(audio), 11111)) as video:
        video.write(torch.rand(25, 32, 32, 3))  # torch tensors are accepted
    info = probe(tmp_path / "v.mp4")
    assert info["channels"] == 2 and info["sample_rate"] == 12000
    assert abs(info["audio"].shape[1] - 12000) <= 1024


@pytest.mark.parametrize("samples, rate, stored", [(3, 1, 7350), (20, 22000, 22050), (1, 7, 7350),
                                                    (2, 200000, 96000)])
def test_clips_shorter_than_the_resampling_filter_are_muxed(tmp_path, samples, rate, stored):
    # Issue 25 #10: FFmpeg's resampler returned nothing for so few samples ("need at least one array").
    speech = np.full((1, samples), 0.5, np.float32)
    with VideoWriter(tmp_path / "v.mp4", 25, 16, 16, audio=(speech, rate)) as video:
        video.write(ramp_frames(2, 16, 16))
    info = probe(tmp_path / "v.mp4")
    assert len(info["frames"]) == 2 and info["sample_rate"] == stored
    assert abs(info["audio"].shape[1] - 2 / 25 * stored) <= 1024


def test_resampling_keeps_the_length_and_the_signal():
    from float_models.app.video import _resample

    signal = tone(1.0, 22000)
    out, rate = _resample(signal, 22000, 22050)
    assert rate == 22050 and out.shape == (1, 22050)
    expected = 0.5 * np.sin(2 * np.pi * 440 * np.arange(22050) / 22050)
    assert np.abs(out[0, 200:-200] - expected[200:-200]).max() < 1e-3


def test_frames_to_uint8_is_the_official_conversion():
    raw = torch.tensor([-1.7, -1.0, -0.5, 0.0, 0.3, 0.999, 1.0, 2.5]).repeat(3, 1, 1)[None]  # (1, 3, 1, 8)
    expected = ((raw.clamp(-1, 1) + 1) / 2 * 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    out = frames_to_uint8(raw)
    assert out.dtype == np.uint8 and out.shape == (1, 1, 8, 3)
    np.testing.assert_array_equal(out, expected)
    assert out[0, 0, :, 0].tolist() == [0, 0, 63, 127, 165, 254, 255, 255]  # truncated, not rounded
    np.testing.assert_array_equal(frames_to_uint8(raw.numpy()), expected)


def test_to_uint8_frames_round_trips_uint8_through_float():
    levels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1).repeat(3, -1)
    np.testing.assert_array_equal(to_uint8_frames(levels.astype(np.float32) / 255), levels)
    with pytest.raises(MediaError, match="height, width, 3"):
        to_uint8_frames(np.zeros((2, 3, 16, 16), np.float32))


def test_read_audio_and_image(tmp_path):
    wave, rate = read_audio(ASSETS / "speech.wav")
    assert wave.dtype == np.float32 and wave.shape[0] == 1 and rate == 16000
    assert wave.shape[1] == soundfile.info(str(ASSETS / "speech.wav")).frames
    # A compressed format goes through PyAV: the AAC track of a file we write.
    with VideoWriter(tmp_path / "v.mp4", 25, 32, 32, audio=(tone(1.0, 44100, 2), 44100)) as video:
        video.write(ramp_frames(25, 32, 32))
    back, back_rate = read_audio(tmp_path / "v.mp4")
    assert back.shape[0] == 2 and back_rate == 44100 and abs(back.shape[1] - 44100) <= 1024
    image = read_image(ASSETS / "portrait.png")
    assert image.shape == (512, 512, 3) and image.dtype == np.uint8
    with pytest.raises(MediaError, match="no such"):
        read_audio(tmp_path / "missing.wav")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(MediaError, match="cannot be read as an image"):
        read_image(tmp_path / "bad.png")
