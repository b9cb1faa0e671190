"""Preparing inputs the way FLOAT expects them: audio at 16 kHz normalised per utterance,
portraits as (B, 3, S, S) in [-1, 1]. Plain torch; no ComfyUI layouts here.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

# Windowed-sinc resampling with the parameters of resampy's "kaiser_best" filter, which
# librosa (the official audio loader) used by default before it moved to soxr.
_LOWPASS_ZEROS = 64
_ROLLOFF = 0.9475937167399596
_KAISER_BETA = 14.769656459379492


# Long clips are resampled and normalised in blocks so that preparing speech holds the clip, its
# result and block-sized temporaries, never whole-clip copies (a 3 h clip peaked at 5.5 GB with five).
BLOCK_STEPS = 1 << 20  # output phases per resampling block; shorter clips take one block, as before
BLOCK_SAMPLES = 1 << 20  # samples per normalisation block (8 MB of float64 temporaries)


def resample(waveform: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Band-limited resampling of (..., N) samples; output length ceil(N * new / orig).

    Computed in blocks of BLOCK_STEPS output steps, each from its own zero-padded slice of the input,
    so the memory above input and output is one block's worth (the whole-clip padding and transposed
    copy were each as large as the clip)."""
    orig_rate, new_rate = int(orig_rate), int(new_rate)
    if orig_rate == new_rate:
        return waveform
    g = math.gcd(orig_rate, new_rate)
    orig, new = orig_rate // g, new_rate // g
    kernel, width = _sinc_kernel(orig, new, waveform.device, waveform.dtype)
    shape = waveform.shape
    rows = waveform.reshape(-1, shape[-1])
    length = math.ceil(new * shape[-1] / orig)
    steps = (shape[-1] + 2 * width + orig - kernel.shape[-1]) // orig + 1  # of the whole padded clip
    out = torch.empty(rows.shape[0], steps * new, dtype=waveform.dtype, device=waveform.device)
    for first in range(0, steps, BLOCK_STEPS):
        last = min(steps, first + BLOCK_STEPS)
        # padded-clip samples [first*orig, (last-1)*orig + K) are original samples shifted by -width
        begin, end = first * orig - width, (last - 1) * orig + kernel.shape[-1] - width
        piece = rows[:, max(0, begin):min(shape[-1], end)]
        piece = F.pad(piece[:, None], (max(0, -begin), max(0, end - shape[-1])))
        y = F.conv1d(piece, kernel, stride=orig)  # (rows, new, steps): one output phase per channel
        out[:, first * new:last * new] = y.transpose(1, 2).reshape(rows.shape[0], -1)
    return out[:, :length].reshape(*shape[:-1], length)


@functools.lru_cache(maxsize=8)
def _sinc_kernel(orig: int, new: int, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, int]:
    cutoff = min(orig, new) * _ROLLOFF  # in units of the reduced rates
    width = math.ceil(_LOWPASS_ZEROS * orig / cutoff)
    offsets = torch.arange(-width, width + orig, dtype=torch.float64) / orig
    phases = -torch.arange(new, dtype=torch.float64)[:, None] / new
    t = ((phases + offsets[None]) * cutoff).clamp(-_LOWPASS_ZEROS, _LOWPASS_ZEROS)
    window = torch.special.i0(_KAISER_BETA * torch.sqrt(1 - (t / _LOWPASS_ZEROS) ** 2)) / torch.special.i0(
        torch.tensor(_KAISER_BETA, dtype=torch.float64))
    sinc = torch.where(t == 0, torch.ones_like(t), torch.sin(math.pi * t) / (math.pi * t))
    kernel = sinc * window * (cutoff / orig)
    return kernel[:, None].to(device=device, dtype=dtype), width


def normalize_speech(waveform: torch.Tensor, in_place: bool = False) -> torch.Tensor:
    """Zero mean, unit variance per utterance, as Wav2Vec2FeatureExtractor(do_normalize=True).

    Statistics and the scaling run in float64 over blocks of BLOCK_SAMPLES, so the memory above the
    clip is its result (none with `in_place`) and one block, not several float64 copies of the clip.
    """
    rows = waveform.reshape(-1, waveform.shape[-1])
    total = rows.shape[-1]
    blocks = range(0, total, BLOCK_SAMPLES)
    mean = sum(rows[:, i:i + BLOCK_SAMPLES].double().sum(dim=-1) for i in blocks) / total
    var = sum((rows[:, i:i + BLOCK_SAMPLES].double() - mean[:, None]).pow(2).sum(dim=-1) for i in blocks) / total
    scale = torch.sqrt(var + 1e-7)[:, None]
    out = rows if in_place else torch.empty_like(rows)
    for i in blocks:
        out[:, i:i + BLOCK_SAMPLES] = (rows[:, i:i + BLOCK_SAMPLES].double() - mean[:, None]) / scale
    return out.reshape(waveform.shape)


# wav2vec2's convolution stack needs 400 samples (25 ms) for its first output frame.
MIN_SPEECH_SAMPLES = 400


class AudioInputError(ValueError):
    """Speech that cannot be used as it is, with what to do about it."""


def check_speech(waveform: torch.Tensor) -> torch.Tensor:
    """Validate mono speech (B, N) or (N,) and return it as float32 (B, N).

    Integer PCM is scaled to [-1, 1]; non-finite samples and empty clips are refused.
    """
    waveform = pcm_to_float(waveform).float()
    if waveform.dim() == 1:
        waveform = waveform[None]
    if waveform.dim() != 2:
        raise AudioInputError(f"expected mono speech as (batch, samples), got shape {tuple(waveform.shape)}; "
                              "mix the channels down first")
    if waveform.shape[-1] == 0:
        raise AudioInputError("the audio is empty (0 samples): give a clip with speech in it")
    bad = sum(int((~torch.isfinite(waveform[:, i:i + BLOCK_SAMPLES])).sum())  # blocks: no clip-sized mask
              for i in range(0, waveform.shape[-1], BLOCK_SAMPLES))
    if bad:
        raise AudioInputError(f"the audio has {bad} non-finite samples (NaN or infinity): the file or the node "
                              "that made it is broken; re-export or clean the audio")
    return waveform


def prepare_speech(waveform: torch.Tensor, sample_rate: int, target_rate: int = 16000) -> torch.Tensor:
    """Raw mono (B, N) or (N,) at any rate -> normalised (B, N16k) float32.

    Memory above a float32 clip: at most its result plus block-sized temporaries (README: Troubleshooting).

    Normalising per utterance makes the result independent of the loudness, so int16-range
    floats (a common mistake) give the same features as [-1, 1] floats.
    """
    if int(sample_rate) <= 0:
        raise AudioInputError(f"sample rate {sample_rate} is not a valid rate; expected e.g. 16000 or 44100")
    waveform = check_speech(waveform).cpu()
    resampled = resample(waveform, int(sample_rate), target_rate)
    # Normalised in place only in a tensor of our own (never the caller's clip).
    return normalize_speech(resampled, in_place=resampled is not waveform and resampled.is_contiguous())


def pad_to_min_length(speech: torch.Tensor, length: int = MIN_SPEECH_SAMPLES) -> torch.Tensor:
    """Repeat the last sample up to `length` (clips shorter than one wav2vec2 frame)."""
    if speech.shape[-1] >= length:
        return speech
    return F.pad(speech[:, None], (0, length - speech.shape[-1]), mode="replicate")[:, 0]


def resize_portrait(image: torch.Tensor, size: int) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 3, size, size): area averaging to shrink, bicubic to enlarge.

    Like the official `--no_crop` path, a non-square image is squashed, not cropped.
    """
    if image.shape[-2:] == (size, size):
        return image
    if image.shape[-2] >= size and image.shape[-1] >= size:
        return F.interpolate(image, size=(size, size), mode="area")
    return F.interpolate(image, size=(size, size), mode="bicubic", align_corners=False)


# ----------------------------------------------------------------------------- one conversion each
# The command line and the nodes both call these, so a portrait or a clip means the same numbers
# whichever way it came in.

# Decoded-size bounds. A few hundred KB of PNG or FLAC can expand to gigabytes; these are refused
# (or reduced while reading) before the expansion happens.
MAX_IMAGE_PIXELS = 64_000_000  # 8000x8000; portraits are used at 512x512
MAX_AUDIO_VALUES = 2 ** 28  # samples x channels (1 GiB as float32; 46 min of 48 kHz stereo)


def pcm_to_float(waveform: torch.Tensor) -> torch.Tensor:
    """Integer PCM -> float32 in [-1, 1] (divided by the type's largest magnitude); floats unchanged."""
    waveform = torch.as_tensor(waveform)
    if waveform.is_floating_point():
        return waveform
    info = torch.iinfo(waveform.dtype)
    return waveform.float() / float(max(abs(info.min), info.max))


def pixels_to_model(pixels: torch.Tensor) -> torch.Tensor:
    """Pixels in [0, 1] (any layout) -> FLOAT's [-1, 1], the official (x - 0.5) / 0.5, in float32."""
    return (pixels.float().clamp(0, 1) - 0.5) / 0.5


def uint8_to_portrait(image) -> torch.Tensor:
    """An RGB uint8 picture (H, W, 3), NumPy or torch -> one portrait (1, 3, H, W) in [-1, 1]."""
    pixels = torch.as_tensor(image).permute(2, 0, 1)[None]
    return pixels_to_model(pixels.float() / 255)


def check_image_size(height: int, width: int, what: str = "the image") -> None:
    """Refuse a picture whose decoded pixels exceed MAX_IMAGE_PIXELS."""
    if int(height) * int(width) > MAX_IMAGE_PIXELS:
        raise ValueError(f"{what} is {width}x{height} = {int(height) * int(width) / 1e6:.0f} megapixels, above the "
                         f"limit of {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels: scale it down (FLOAT uses 512x512)")


def check_audio_size(channels: int, samples: int, what: str = "the audio") -> None:
    """Refuse audio whose samples x channels exceed MAX_AUDIO_VALUES."""
    if int(channels) * int(samples) > MAX_AUDIO_VALUES:
        raise AudioInputError(f"{what} has {int(samples)} samples x {int(channels)} channel(s), above the limit of "
                              f"{MAX_AUDIO_VALUES} values: cut it into shorter parts, or mix it down to mono")


def emotion_condition(pipe, choice: str, waveform: torch.Tensor, sample_rate: int,
                      intensity: float = 1.0) -> "Emotion":
    """The Emotion (B, 7) for a choice: recognised from the speech ("speech" / "from speech"), or a
    label's one-hot; scaled by `intensity` either way (1 is the official vector)."""
    from .types import is_from_speech
    from .types import Emotion

    intensity = _finite(intensity, "emotion intensity")
    if not is_from_speech(choice):
        return Emotion.of_label(choice, intensity)
    return pipe.encode_emotion(waveform, sample_rate).scaled(intensity)


def _finite(value: float, what: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what} {value!r}: must be a finite number")
    return number
