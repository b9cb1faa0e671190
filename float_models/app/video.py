"""Writing FLOAT's talking-portrait frames to MP4, and reading the inputs (portrait, speech).

FLOAT's decoder (the motion auto-encoder's generator) produces one frame per motion latent at
25 fps; a clip of minutes is thousands of 512x512 frames, too many to hold in memory at once.
`VideoWriter` therefore encodes each batch of frames as soon as it arrives (H.264, yuv420p)
and muxes the speech as AAC alongside, so memory stays flat however long the clip is:

    with VideoWriter("out.mp4", fps=25, width=512, height=512, audio=(waveform, 16000)) as video:
        for frames in batches:          # uint8 (N, H, W, 3), or float in [0, 1]
            video.write(frames)
    # out.mp4 now exists, whole; had anything raised inside the block, it would not.

The file is written under a temporary name in the destination folder and renamed into place
only when the block ends normally; on an exception (ComfyUI's Cancel included) the temporary
file is removed and nothing half-written remains. The audio track lasts exactly as long as the
frames: longer speech is cut, shorter speech is followed by silence.

Only PyAV (FFmpeg's libraries, which the `av` wheel bundles) is used: no ffmpeg executable, no
torchvision or torchaudio. Torch tensors are accepted wherever arrays are.
"""

from __future__ import annotations

import os
import warnings
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from ..partfiles import OutputPathError, check_free_space, discard, output_target, part_path, release
from ..settings import SettingError, check_fps

__all__ = ["MediaError", "TruncatedImageWarning", "VideoWriter", "check_video_space", "estimate_video_bytes", "frames_to_uint8",
           "mix_to_mono", "read_audio", "read_image", "to_uint8_frames"]

# Sample rates the AAC encoder accepts; other rates are resampled to the next one above.
AAC_RATES = (7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)
DEFAULT_CRF = 18  # x264 constant rate factor: 0 lossless, 18 visually near-lossless, 23 x264's default
AUDIO_BIT_RATE = 128_000
_LAYOUTS = {1: "mono", 2: "stereo"}  # more channels are mixed to mono first


# Bits per pixel per frame of H.264 at crf 18, for the free-space check before a render: generous for a
# talking head (a still 512 px portrait with per-frame noise of sigma 1-3, standing in for regenerated
# frames, came out at 0.04-0.16 bpp), so a disk that passes rarely fills up late. Towards lossless the
# rate grows faster than x264's usual doubling per 6 steps (sigma 3: 0.16 bpp at crf 18, 4.3 at crf 0):
# the estimate doubles every ESTIMATE_CRF_DOUBLING steps.
ESTIMATE_BPP_CRF18 = 0.25
ESTIMATE_CRF_DOUBLING = 4
_RAW_BPP = 12.0  # yuv420p uncompressed: the ceiling, reached only by noise at crf 0


class MediaError(ValueError):
    """An input or output file that cannot be used, with what to do about it."""


# ----------------------------------------------------------------------------- frame conversion

def frames_to_uint8(raw: Any) -> np.ndarray:
    """Raw decoder frames (N, 3, H, W) or (3, H, W), torch or NumPy -> uint8 (N, H, W, 3).

    The official conversion: clamp to [-1, 1] (the decoder has no output activation), then
    (x + 1) / 2 * 255, truncated (not rounded) to uint8. Done in float32 on the tensor's own
    device, so only uint8 pixels cross to the CPU.
    """
    if hasattr(raw, "detach"):  # a torch tensor: convert where it lives
        x = raw.detach().float().clamp(-1, 1)
        pixels = ((x + 1) / 2 * 255).byte().cpu().numpy()  # .byte() truncates, like the official cast
    else:
        x = np.clip(np.asarray(raw, dtype=np.float32), -1, 1)
        pixels = ((x + np.float32(1)) / np.float32(2) * np.float32(255)).astype(np.uint8)
    if pixels.ndim == 3:
        pixels = pixels[None]
    if pixels.ndim != 4 or pixels.shape[1] != 3:
        raise MediaError(f"expected decoder frames as (frames, 3, height, width), got shape {tuple(pixels.shape)}")
    return np.ascontiguousarray(pixels.transpose(0, 2, 3, 1))


def to_uint8_frames(frames: Any) -> np.ndarray:
    """Frames (N, H, W, 3) or one frame (H, W, 3), uint8 or float in [0, 1] -> uint8 (N, H, W, 3).

    Floats are scaled by 255 and truncated, like ComfyUI's own image saving; uint8 -> float ->
    uint8 round-trips exactly, and float frames made by the official conversion keep its values.
    """
    if hasattr(frames, "detach"):
        frames = frames.detach().cpu()
        if frames.dtype.is_floating_point:
            frames = frames.float()
        frames = frames.numpy()
    array = np.asarray(frames)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] != 3:
        raise MediaError(f"expected frames as (frames, height, width, 3) RGB, got shape {tuple(array.shape)}")
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if not np.issubdtype(array.dtype, np.floating):
        raise MediaError(f"expected uint8 or float frames, got {array.dtype}")
    scaled = np.clip(array.astype(np.float32, copy=False) * np.float32(255), 0, 255)
    return np.ascontiguousarray(np.nan_to_num(scaled).astype(np.uint8))


# ----------------------------------------------------------------------------- writer

class VideoWriter:
    """Streaming MP4 writer: H.264 video (yuv420p), optional AAC audio, atomic on success.

    path:      the .mp4 to create (its folder must exist; an existing file is replaced on success; a
               symbolic link is followed and its target replaced; a pipe or device is refused).
    fps:       frame rate (FLOAT: 25). Fractional rates such as 30000/1001 are kept exact.
    width, height: size of the frames that `write` will receive. yuv420p needs even sizes:
               with odd="pad" (default) the last row/column is repeated to make them even;
               with odd="error" an odd size raises MediaError.
    audio:     None, or (waveform, sample_rate) with waveform float32 (N,) mono or (C, N),
               values in [-1, 1] (integer PCM is scaled; more than 2 channels are mixed to
               mono). It is muxed as AAC for exactly the duration of the frames written:
               cut if longer, padded with silence if shorter.
    crf:       H.264 quality, 0 (lossless) .. 51; lower is better and bigger.
    preset:    x264 speed/size trade-off ("ultrafast" .. "veryslow").

    Use it as a context manager, or call `close()` to finish and `abort()` to discard.
    """

    def __init__(self, path: str | os.PathLike, fps: float, width: int, height: int,
                 audio: tuple[Any, int] | None = None, crf: int = DEFAULT_CRF, preset: str = "medium",
                 odd: str = "pad"):
        try:
            self.path = output_target(path)  # a symbolic link's target; never a pipe or a device
        except OutputPathError as err:
            raise MediaError(str(err)) from None
        self.width, self.height = int(width), int(height)
        if self.width <= 0 or self.height <= 0:
            raise MediaError(f"video size must be positive, got {width}x{height}")
        if odd not in ("pad", "error"):
            raise ValueError(f"odd must be 'pad' or 'error', got {odd!r}")
        if odd == "error" and (self.width % 2 or self.height % 2):
            raise MediaError(f"H.264 (yuv420p) needs even sizes, got {self.width}x{self.height}: crop or pad "
                             "the frames by one pixel, or let the writer pad them (odd='pad')")
        if not 0 <= int(crf) <= 51:
            raise MediaError(f"crf must be between 0 and 51, got {crf}")
        self.fps = _frame_rate(fps)
        if not self.path.parent.is_dir():
            raise MediaError(f"{self.path.parent}: no such folder for the video; create it first")
        self.frames_written = 0
        self._closed = False
        # A hidden name beside the target (same file system, so the final rename is atomic);
        # created by FFmpeg itself, so it gets the usual permissions.
        self._tmp = part_path(self.path)  # also removed at interpreter exit if still there
        try:
            self._container = av.open(str(self._tmp), mode="w", format="mp4",
                                      options={"movflags": "+faststart"})
            self._video = _add_video_stream(self._container, self.fps, _even(self.width), _even(self.height),
                                            int(crf), preset)
            self._audio = _AudioTrack(self._container, *audio) if audio is not None else None
        except BaseException:
            self._discard()
            raise

    # -- context manager
    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    @property
    def duration(self) -> float:
        """Seconds of video written so far."""
        return float(self.frames_written / self.fps)

    def write(self, frames: Any) -> None:
        """Encode frames now: uint8 or float-in-[0, 1] (N, H, W, 3), or one (H, W, 3) frame."""
        if self._closed:
            raise RuntimeError("this VideoWriter is closed")
        pixels = to_uint8_frames(frames)
        if pixels.shape[1:3] != (self.height, self.width):
            raise MediaError(f"frame size {pixels.shape[2]}x{pixels.shape[1]} does not match the video's "
                             f"{self.width}x{self.height}")
        pixels = _pad_even(pixels)
        for image in pixels:
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = self.frames_written
            self.frames_written += 1
            self._container.mux(self._video.encode(frame))
        if self._audio is not None:  # keep the streams interleaved, so the muxer buffers nothing
            self._audio.encode_until(self._audio_samples_for(self.frames_written), final=False)

    def close(self) -> Path:
        """Finish the file and move it into place; returns its path."""
        if self._closed:
            return self.path
        if self.frames_written == 0:
            self.abort()
            raise MediaError(f"{self.path}: no frames were written, so no video was made")
        try:
            self._container.mux(self._video.encode(None))
            if self._audio is not None:
                self._audio.encode_until(self._audio_samples_for(self.frames_written), final=True)
            self._container.close()
            os.replace(self._tmp, self.path)
            release(self._tmp)
        except BaseException:
            self._discard()
            raise
        self._closed = True
        return self.path

    def abort(self) -> None:
        """Stop and delete the partial file; the destination is left untouched."""
        if not self._closed:
            self._discard()

    def _discard(self) -> None:
        self._closed = True
        container = getattr(self, "_container", None)
        if container is not None:
            try:
                container.close()
            except Exception:  # noqa: BLE001 - the file is being thrown away anyway
                pass
        discard(self._tmp)

    def __del__(self) -> None:
        # Dropped without close() or abort() (e.g. a generator that was never finished): no part file stays.
        if not getattr(self, "_closed", True):
            self._discard()

    def _audio_samples_for(self, frames: int) -> int:
        return int(round(frames * self._audio.rate / self.fps))


def estimate_video_bytes(frames: int, width: int, height: int, crf: int = DEFAULT_CRF,
                         audio_seconds: float = 0.0, audio_channels: int = 1) -> int:
    """About how large VideoWriter's MP4 of `frames` frames will be (a generous estimate, for checking
    the free disk space before a long render): H.264 by crf, AAC at its fixed bit rate, 1 MB of headers."""
    bpp = min(_RAW_BPP, ESTIMATE_BPP_CRF18 * 2 ** ((18 - int(crf)) / ESTIMATE_CRF_DOUBLING))
    video = frames * _even(width) * _even(height) * bpp / 8
    audio = audio_seconds * AUDIO_BIT_RATE * max(1, min(audio_channels, 2)) / 8
    return int(video + audio) + 1_000_000


def check_video_space(path: str | os.PathLike, frames: int, width: int, height: int, crf: int = DEFAULT_CRF,
                      audio_seconds: float = 0.0, audio_channels: int = 1) -> None:
    """Refuse with OSError(ENOSPC), before anything is made, a video the disk under `path` surely
    cannot hold (`estimate_video_bytes` against the free space)."""
    need = estimate_video_bytes(frames, width, height, crf, audio_seconds, audio_channels)
    check_free_space(path, need, f"the video ({frames} frames at crf {crf})")


def _frame_rate(fps: float) -> Fraction:
    try:
        check_fps(fps)  # settings' one range for every motion and video rate (NaN and inf included)
    except SettingError as err:
        raise MediaError(str(err)) from None
    return fps if isinstance(fps, Fraction) else Fraction(fps).limit_denominator(1001)


def _even(n: int) -> int:
    return n + (n % 2)


def _pad_even(pixels: np.ndarray) -> np.ndarray:
    """Repeat the last row/column so both sides are even (yuv420p halves them for chroma)."""
    pad_h, pad_w = pixels.shape[1] % 2, pixels.shape[2] % 2
    if not (pad_h or pad_w):
        return pixels
    return np.pad(pixels, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def _add_video_stream(container: Any, fps: Fraction, width: int, height: int, crf: int, preset: str) -> Any:
    if "libx264" in av.codecs_available:
        stream = container.add_stream("libx264", rate=fps)
        stream.options = {"crf": str(crf), "preset": preset}
    else:  # an FFmpeg build without x264 (e.g. openh264 only): no crf there, use a generous bit rate
        stream = container.add_stream("h264", rate=fps)
        stream.bit_rate = int(width * height * float(fps) * 0.3)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.codec_context.time_base = Fraction(1) / fps
    return stream


class _AudioTrack:
    """AAC encoding of an in-memory waveform, fed in frame-size pieces as the video advances."""

    def __init__(self, container: Any, waveform: Any, sample_rate: int):
        samples = _planar_float(waveform)
        rate = int(sample_rate)
        if rate <= 0:
            raise MediaError(f"audio sample rate must be positive, got {sample_rate}")
        if rate not in AAC_RATES:
            samples, rate = _resample(samples, rate, next((r for r in AAC_RATES if r >= rate), AAC_RATES[-1]))
        self.samples, self.rate = samples, rate
        self.channels = samples.shape[0]
        self.layout = _LAYOUTS[self.channels]
        self.stream = container.add_stream("aac", rate=rate)
        self.stream.layout = self.layout
        self.stream.bit_rate = AUDIO_BIT_RATE * max(1, min(self.channels, 2))
        self.frame_size = 1024  # AAC-LC's fixed frame length
        self.position = 0
        self._container = container

    def encode_until(self, end: int, final: bool) -> None:
        """Encode samples [position, end): whole AAC frames, plus the last partial one if final."""
        while end - self.position >= self.frame_size or (final and end > self.position):
            count = min(self.frame_size, end - self.position)
            self._encode(self._slice(self.position, count), self.position)
            self.position += count
        if final:
            self._container.mux(self.stream.encode(None))

    def _slice(self, start: int, count: int) -> np.ndarray:
        """Samples [start, start+count), silence past the end of the waveform."""
        chunk = np.zeros((self.channels, count), dtype=np.float32)
        have = max(0, min(count, self.samples.shape[1] - start))
        if have:
            chunk[:, :have] = self.samples[:, start:start + have]
        return chunk

    def _encode(self, chunk: np.ndarray, pts: int) -> None:
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout=self.layout)
        frame.sample_rate, frame.pts, frame.time_base = self.rate, pts, Fraction(1, self.rate)
        self._container.mux(self.stream.encode(frame))


def _planar_float(waveform: Any) -> np.ndarray:
    if hasattr(waveform, "detach"):
        waveform = waveform.detach().cpu().numpy()
    array = np.asarray(waveform)
    if array.dtype.kind in "iu":  # integer PCM: the library's one scaling, as for the model's input
        import torch

        from ..media import pcm_to_float

        array = pcm_to_float(torch.from_numpy(np.ascontiguousarray(array))).numpy()
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[0] == 0:
        raise MediaError(f"expected audio as (samples,) or (channels, samples), got shape {tuple(array.shape)}")
    if array.shape[0] > array.shape[1]:
        raise MediaError(f"audio of shape {tuple(array.shape)} has more channels than samples; expected "
                         "(channels, samples): transpose it")
    if array.shape[0] > 2:  # surround speech is rare; one mono mix avoids AAC's layout rules
        array = array.mean(axis=0, keepdims=True)
    return np.nan_to_num(np.clip(array, -1, 1))


def _resample(samples: np.ndarray, rate: int, new_rate: int) -> tuple[np.ndarray, int]:
    """Whole-waveform resampling with FFmpeg's resampler (rates AAC cannot store), to exactly
    round(N * new_rate / rate) samples (at least one).

    FFmpeg's filter holds back about its length in samples, and returns nothing at all (flush included)
    for an input shorter than that: 20 samples at 22 kHz, or 3 at 1 Hz. A tail of silence longer than
    the filter (counted at both rates) is therefore resampled too and cut off again."""
    layout = _LAYOUTS[samples.shape[0]]
    wanted = max(1, round(samples.shape[1] * new_rate / rate))
    pad = _RESAMPLE_TAIL + -(-_RESAMPLE_TAIL * rate // new_rate)
    padded = np.zeros((samples.shape[0], samples.shape[1] + pad), np.float32)
    padded[:, :samples.shape[1]] = samples
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=new_rate)
    frame = av.AudioFrame.from_ndarray(padded, format="fltp", layout=layout)
    frame.sample_rate = rate
    out = np.zeros((samples.shape[0], wanted), np.float32)
    filled = 0
    for piece in resampler.resample(frame) + resampler.resample(None):
        if filled >= wanted:
            continue  # drain the resampler, keep nothing past the wanted length
        data = piece.to_ndarray()[:, :wanted - filled]
        out[:, filled:filled + data.shape[1]] = data
        filled += data.shape[1]
    return out, new_rate


# Silence appended before resampling, in samples at each rate: longer than FFmpeg's default filter (32 taps).
_RESAMPLE_TAIL = 64


# ----------------------------------------------------------------------------- readers

# Audio is read at most at this rate and with at most two channels: more is mixed down (the channels'
# mean, as mix_to_mono) and resampled block by block while decoding, so a small FLAC of 8 channels at
# 192 kHz never expands to gigabytes. FLOAT itself listens at 16 kHz, mono.
MAX_READ_RATE = 48000
# Pictures larger than this on their long side are reduced (area averaging) while reading: the
# face crop and the model work at 512 px, and full-size float copies of a 100-megapixel photo are GBs.
MAX_READ_SIDE = 4096


class TruncatedImageWarning(UserWarning):
    """The image file ends before its picture does: the missing rows decode as grey or garbage."""


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Any common audio file (wav, flac, mp3, ogg, m4a, the audio of a video...) ->
    (waveform (C, N) float32 in [-1, 1], sample rate), with C <= 2 and rate <= MAX_READ_RATE.
    WAV/FLAC within those bounds go through soundfile when it is installed (exact PCM scaling),
    everything else through PyAV, mixed down and resampled in blocks. More than
    media.MAX_AUDIO_VALUES samples x channels is refused."""
    path = _existing(path, "audio")
    if path.suffix.lower() in (".wav", ".flac"):
        read = _read_audio_soundfile(path)
        if read is not None:
            return read
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError(f"{path}: has no audio stream; give a speech recording (wav, mp3, flac, ...)")
            data, rate = _decode_audio(container, container.streams.audio[0], path)
    except av.FFmpegError as err:
        raise MediaError(f"{path}: cannot be read as audio ({err}); convert it to WAV or MP3") from None
    return _checked_audio(data, rate, path)


def _read_audio_soundfile(path: Path) -> tuple[np.ndarray, int] | None:
    """Plain PCM within the bounds through libsndfile; None to let FFmpeg read (and reduce) it."""
    try:
        import soundfile
    except ImportError:
        return None
    try:
        # Through a file object: soundfile encodes a name as UTF-8, which a name with a byte that is not
        # UTF-8 (os.fsdecode's surrogate escapes, b"sp\xffeech.wav") cannot be.
        with open(path, "rb") as file, soundfile.SoundFile(file) as sound:
            if sound.channels > 2 or sound.samplerate > MAX_READ_RATE:
                return None
            _check_audio_size(sound.channels, sound.frames, path)
            data, rate = sound.read(dtype="float32", always_2d=True), sound.samplerate
    except RuntimeError:
        return None  # a WAV flavour libsndfile does not know: let FFmpeg try
    return _checked_audio(np.ascontiguousarray(data.T), int(rate), path)


def _decode_audio(container: Any, stream: Any, path: Path) -> tuple[np.ndarray, int]:
    rate = min(int(stream.codec_context.sample_rate), MAX_READ_RATE)
    channels = max(int(stream.codec_context.channels), 1)
    kept = channels if channels <= 2 else 1
    if stream.duration and stream.time_base:  # refuse early when the header says so
        _check_audio_size(kept, int(float(stream.duration * stream.time_base) * rate), path)
    # Packed float (PyAV's planar to_ndarray crashes on 8-channel frames), layout kept, rate capped.
    resampler = av.AudioResampler(format="flt", rate=rate)
    pieces, total = [], 0
    for frame in container.decode(stream):
        for piece in _reduced(resampler.resample(frame), kept):
            pieces.append(piece)
            total += piece.shape[1]
        _check_audio_size(kept, total, path)
    pieces += _reduced(resampler.resample(None), kept)
    data = np.concatenate(pieces, axis=1) if pieces else np.zeros((kept, 0), np.float32)
    return data.astype(np.float32, copy=False), rate


def _reduced(frames: list, kept: int) -> list[np.ndarray]:
    """Decoded blocks as (channels, n) float32, the channels averaged when there are more than two."""
    blocks = [f.to_ndarray().reshape(-1, len(f.layout.channels)).T.astype(np.float32) for f in frames]
    return [b.mean(axis=0, keepdims=True) if b.shape[0] > kept else b for b in blocks]


def _check_audio_size(channels: int, samples: int, path: Path) -> None:
    from ..media import AudioInputError, check_audio_size

    try:
        check_audio_size(channels, samples, str(path))
    except AudioInputError as err:
        raise MediaError(str(err)) from None


def _checked_audio(data: np.ndarray, rate: int, path: Path) -> tuple[np.ndarray, int]:
    if data.shape[-1] == 0:
        raise MediaError(f"{path}: the audio is empty (0 samples)")
    return data, rate


def read_image(path: str | os.PathLike) -> np.ndarray:
    """PNG, JPEG, WebP, ... -> RGB uint8 (H, W, 3), through PyAV's image decoders.

    The EXIF orientation of JPEGs (phone photos) is applied, as ComfyUI's Load Image does. Pictures
    above media.MAX_IMAGE_PIXELS are refused before decoding; above MAX_READ_SIDE on the long side
    they are reduced while reading. A file that ends before its picture does gets a
    TruncatedImageWarning. Alpha is dropped, grey is repeated to three channels.
    """
    from .image_header import read_header

    path = _existing(path, "image")
    header = read_header(path)
    if header.size is not None:
        _check_image_size(*header.size, path)
    if header.truncated:
        warnings.warn(f"{path}: the file ends before the picture does (truncated download or copy?); the "
                      "missing part shows as grey or garbage: use a complete copy", TruncatedImageWarning,
                      stacklevel=2)
    return orient(_read_image_av(path), header.orientation)


def _read_image_av(path: Path) -> np.ndarray:
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{path}: not an image; give a PNG or JPEG")
            context = container.streams.video[0].codec_context
            _check_image_size(context.height, context.width, path)
            frame = next(container.decode(video=0))
            return _reduce(frame).to_ndarray(format="rgb24")
    except (av.FFmpegError, StopIteration) as err:
        raise MediaError(f"{path}: cannot be read as an image ({err}); give a PNG or JPEG") from None


def _reduce(frame: Any) -> Any:
    """The frame itself, or an area-averaged copy whose long side is MAX_READ_SIDE."""
    long_side = max(frame.width, frame.height)
    if long_side <= MAX_READ_SIDE:
        return frame
    scale = MAX_READ_SIDE / long_side
    width, height = max(1, round(frame.width * scale)), max(1, round(frame.height * scale))
    return frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA")


def _check_image_size(height: int, width: int, path: Path) -> None:
    from ..media import check_image_size

    try:
        check_image_size(height, width, str(path))
    except ValueError as err:
        raise MediaError(str(err)) from None


def orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to (H, W, C) pixels, so the picture shows upright."""
    ops = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
           5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, -1),
           7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1], 8: lambda a: np.rot90(a, 1)}
    op = ops.get(int(orientation))
    return pixels if op is None else np.ascontiguousarray(op(pixels))


def _existing(path: str | os.PathLike, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such {what} file")
    return path


def mix_to_mono(waveform: np.ndarray) -> np.ndarray:
    """(C, N) -> (N,): the mean of the channels (FLOAT's encoders take mono speech)."""
    return waveform.mean(axis=0) if waveform.ndim == 2 else waveform

