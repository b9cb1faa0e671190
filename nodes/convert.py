"""Pure conversions between ComfyUI's value layouts and FLOAT's tensors.

No ComfyUI import here (so these can be property-tested on their own):
  AUDIO   a Mapping {"waveform": [B, C, N] float, "sample_rate": int}; VideoHelperSuite hands
          over a lazy Mapping that only decodes when a key is read.
  IMAGE   [B, H, W, C] float in [0, 1], C = 1, 3 or 4.
FLOAT wants portraits (B, 3, H, W) in [-1, 1] and mono speech (B, N); its decoder returns raw
frames (B, T, 3, S, S) that the official code clamps to [-1, 1] before display.
Inputs are never modified in place: ComfyUI shares cached node outputs between runs.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from ..float_models.media import check_audio_size, check_image_size, pcm_to_float, pixels_to_model


def audio_parts(audio: Mapping) -> tuple[torch.Tensor, int]:
    """The waveform as [B, C, N] float32 on the CPU, and its sample rate."""
    if not isinstance(audio, Mapping):
        raise TypeError(f"expected ComfyUI AUDIO (a dict with 'waveform' and 'sample_rate'), got "
                        f"{type(audio).__name__}")
    try:
        waveform, rate = audio["waveform"], audio["sample_rate"]
    except KeyError as err:
        raise ValueError(f"this AUDIO has no {err.args[0]!r}: connect the output of a Load Audio node") from None
    waveform = torch.as_tensor(waveform).detach()
    samples = waveform.shape[-1] if waveform.dim() else 0
    check_audio_size(waveform.numel() // max(samples, 1), samples, "this AUDIO")  # before any float copy is made
    waveform = pcm_to_float(waveform).to("cpu", torch.float32)  # integer PCM (raw readers) scaled to [-1, 1]
    while waveform.dim() < 3:  # [N] or [C, N] from lenient producers
        waveform = waveform.unsqueeze(0)
    if waveform.dim() != 3 or waveform.shape[-1] == 0:
        raise ValueError(f"expected an AUDIO waveform [batch, channels, samples] with samples, got shape "
                         f"{tuple(waveform.shape)}")
    if int(rate) <= 0:
        raise ValueError(f"AUDIO sample_rate must be positive, got {rate}")
    return waveform, int(rate)


def audio_to_mono(audio: Mapping) -> tuple[torch.Tensor, int]:
    """AUDIO -> (mono speech (B, N) float32, sample rate); channels are averaged."""
    waveform, rate = audio_parts(audio)
    return waveform.mean(dim=1), rate


def image_to_portraits(image: torch.Tensor) -> torch.Tensor:
    """IMAGE [B, H, W, C] in [0, 1] -> portraits (B, 3, H, W) in [-1, 1] (float32, same device)."""
    image = torch.as_tensor(image)
    if image.dim() == 3:
        image = image.unsqueeze(0)
    if image.dim() != 4 or image.shape[-1] not in (1, 3, 4):
        raise ValueError(f"expected an IMAGE [batch, height, width, channels] with 1, 3 or 4 channels, got "
                         f"shape {tuple(image.shape)}")
    check_image_size(image.shape[1], image.shape[2], "this IMAGE")
    rgb = image[..., :3] if image.shape[-1] >= 3 else image.expand(*image.shape[:-1], 3)
    return pixels_to_model(rgb.permute(0, 3, 1, 2))


def frames_to_image(frames: torch.Tensor) -> torch.Tensor:
    """Raw decoder frames (B, T, 3, H, W) -> IMAGE [B*T, H, W, 3] in [0, 1], CPU float32."""
    if frames.dim() != 5 or frames.shape[2] != 3:
        raise ValueError(f"expected frames (batch, time, 3, height, width), got {tuple(frames.shape)}")
    pixels = (frames.detach().to("cpu", torch.float32).clamp(-1, 1) + 1) / 2
    return pixels.permute(0, 1, 3, 4, 2).reshape(-1, *frames.shape[3:], 3).contiguous()


def samples_for_frames(frames: int, fps: float, sample_rate: int) -> int:
    """Audio samples that span exactly `frames` video frames."""
    return int(round(frames * sample_rate / fps))


def audio_for_frames(audio: Mapping, frames: int, fps: float, clips: int = 1) -> dict:
    """The AUDIO that goes with `clips` clips of `frames` frames each, back to back.

    Each clip's audio is cut (or padded with silence) to exactly frames / fps seconds, and the
    clips are joined in time, so the result has batch 1 and stays in sync with the frames
    FloatKit outputs as one IMAGE batch (what CreateVideo and Video Combine expect).
    """
    waveform, rate = audio_parts(audio)
    length = samples_for_frames(frames, fps, rate)
    pieces = []
    for clip in range(clips):
        one = waveform[min(clip, waveform.shape[0] - 1)]
        one = one[:, :length]
        if one.shape[-1] < length:
            one = torch.nn.functional.pad(one, (0, length - one.shape[-1]))
        pieces.append(one)
    return {"waveform": torch.cat(pieces, dim=-1).unsqueeze(0).contiguous(), "sample_rate": rate}


def image_to_uint8(image: torch.Tensor) -> list[np.ndarray]:
    """IMAGE -> one (H, W, 3) uint8 RGB array per picture (for the face detector)."""
    image = torch.as_tensor(image)
    image = image.unsqueeze(0) if image.dim() == 3 else image
    if image.dim() != 4 or image.shape[-1] not in (1, 3, 4):
        image_to_portraits(image)  # raises its one-line error about the shape
    check_image_size(image.shape[1], image.shape[2], "this IMAGE")
    # Row blocks of about 4 MB: the whole-batch expression made four float copies of a picture that may
    # be 768 MB (issue 25: the face crop must stay below 1 GB above the picture); same numbers per pixel.
    pictures = []
    rows = max(1, (1 << 20) // max(1, image.shape[2]))
    for picture in image:
        out = np.empty((picture.shape[0], picture.shape[1], 3), dtype=np.uint8)
        for top in range(0, picture.shape[0], rows):
            rgb = (image_to_portraits(picture[None, top:top + rows]) + 1) / 2
            out[top:top + rows] = (rgb[0].permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)
        pictures.append(out)
    return pictures


def pictures_to_image(pictures: list) -> torch.Tensor:
    """(H, W, 3) arrays (uint8, or float in [0, 1]) of one size -> IMAGE [B, H, W, 3] float32."""
    batch = []
    for picture in pictures:
        array = np.asarray(picture)
        scale = 255.0 if array.dtype == np.uint8 else 1.0
        batch.append(torch.from_numpy(array.astype(np.float32) / scale).clamp(0, 1))
    return torch.stack(batch)



def clip_masks(masks: list, frames: int) -> torch.Tensor:
    """One (H, W) mask per clip of `frames` frames -> MASK: (1, H, W) when every clip has the same mask
    (it holds for all frames), else one per frame (clips * frames, H, W), clips back to back."""
    first = masks[0]
    if all(torch.equal(mask, first) for mask in masks[1:]):
        return first[None].contiguous()
    return torch.cat([mask.expand(frames, -1, -1) for mask in masks])
