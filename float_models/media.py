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


def resample(waveform: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Band-limited resampling of (..., N) samples; output length ceil(N * new / orig)."""
    orig_rate, new_rate = int(orig_rate), int(new_rate)
    if orig_rate == new_rate:
        return waveform
    g = math.gcd(orig_rate, new_rate)
    orig, new = orig_rate // g, new_rate // g
    kernel, width = _sinc_kernel(orig, new, waveform.device, waveform.dtype)
    shape = waveform.shape
    x = F.pad(waveform.reshape(-1, 1, shape[-1]), (width, width + orig))
    y = F.conv1d(x, kernel, stride=orig)  # (rows, new, steps): one output phase per channel
    y = y.transpose(1, 2).reshape(x.shape[0], -1)
    length = math.ceil(new * shape[-1] / orig)
    return y[:, :length].reshape(*shape[:-1], length)


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


def normalize_speech(waveform: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit variance per utterance, as Wav2Vec2FeatureExtractor(do_normalize=True)."""
    x = waveform.double()
    mean = x.mean(dim=-1, keepdim=True)
    var = (x - mean).pow(2).mean(dim=-1, keepdim=True)
    return ((x - mean) / torch.sqrt(var + 1e-7)).to(waveform.dtype)


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
    bad = (~torch.isfinite(waveform)).sum().item()
    if bad:
        raise AudioInputError(f"the audio has {bad} non-finite samples (NaN or infinity): the file or the node "
                              "that made it is broken; re-export or clean the audio")
    return waveform


def prepare_speech(waveform: torch.Tensor, sample_rate: int, target_rate: int = 16000) -> torch.Tensor:
    """Raw mono (B, N) or (N,) at any rate -> normalised (B, N16k) float32.

    Normalising per utterance makes the result independent of the loudness, so int16-range
    floats (a common mistake) give the same features as [-1, 1] floats.
    """
    if int(sample_rate) <= 0:
        raise AudioInputError(f"sample rate {sample_rate} is not a valid rate; expected e.g. 16000 or 44100")
    waveform = check_speech(waveform)
    return normalize_speech(resample(waveform.cpu(), int(sample_rate), target_rate))


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
                      intensity: float = 1.0) -> torch.Tensor:
    """The emotion vector (B, 7) for a choice: recognised from the speech ("speech" / "from speech"),
    or a label's one-hot; scaled by `intensity` either way (1 is the official vector)."""
    from .nets.emotion_encoder import emotion_label, is_from_speech

    intensity = _finite(intensity, "emotion intensity")
    if not is_from_speech(choice):
        return emotion_label(choice, intensity)
    probabilities = pipe.encode_emotion(waveform, sample_rate)
    probabilities = getattr(probabilities, "probabilities", probabilities)  # an Emotion or a tensor
    return probabilities.cpu() * intensity


def _finite(value: float, what: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what} {value!r}: must be a finite number")
    return number
