"""The official decoder's sequence of operations, on this pack's decoder parameters: the speed baseline.

The speed targets compare against "what the official inference does". The official decoder
(`Synthesis` in the FLOAT repository, see /work/shared/notes/official.md section 2.6) differs
from this pack's default path in how it computes, not in what it computes:

* frames are decoded one at a time (batch 1) and stacked at the end;
* modulated convolutions scale the weights per frame (one grouped convolution per frame);
* every FIR filter (the blur after each upsampling convolution and the 2x upsampling of the
  RGB and flow skips) is the "native" upfirdn2d: zero insertion and padding on a reshaped
  view, then a convolution of every channel as a separate single-channel image;
* bias + leaky ReLU + gain is three separate tensor operations;
* each flow head rebuilds its identity sampling grid with NumPy and copies it to the device,
  and mixes the warped features as `warped + x * (1 - mask)`.

This module repeats that sequence, written independently from the description above, reading
the parameters of a `float_models.nets.motion_decoder.MotionDecoder` (its names are float.pth's).
It is the reference path of bench/gpu.py; tests/test_decoder_formulations.py checks that it gives the recorded
official frames of the float-tiny fixture and the library's frames.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from float_models.nets.motion_decoder import MotionDecoder
from float_models.nets.stylegan2_layers import BLUR_TAPS

GAIN = math.sqrt(2.0)


def _kernel(gain: float) -> torch.Tensor:
    taps = torch.tensor(BLUR_TAPS)
    kernel = taps[:, None] * taps[None, :]
    return kernel / kernel.sum() * gain


def native_upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int, pad: tuple[int, int]) -> torch.Tensor:
    """Zero-insert by `up`, pad, and filter each channel as its own 1-channel image."""
    _, channels, height, width = x.shape
    out = x.reshape(-1, channels, height, 1, width, 1)
    out = F.pad(out, [0, up - 1, 0, 0, 0, up - 1, 0, 0]).reshape(-1, channels, height * up, width * up)
    out = F.pad(out, [pad[0], pad[1], pad[0], pad[1]])
    rows, cols = out.shape[2:]
    out = F.conv2d(out.reshape(-1, 1, rows, cols), torch.flip(kernel, [0, 1]).view(1, 1, *kernel.shape))
    return out.reshape(-1, channels, out.shape[2], out.shape[3])


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x + bias, 0.2) * GAIN


def modulated_conv(layer, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
    """Weight modulation and one grouped convolution (groups = batch), blur after upsampling."""
    batch, in_channel, height, width = x.shape
    k = layer.kernel_size
    weight = layer.scale * layer.weight * layer.modulation(style).view(batch, 1, in_channel, 1, 1)
    if layer.demodulate:
        weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8).view(batch, layer.out_channel, 1, 1, 1)
    x = x.view(1, batch * in_channel, height, width)
    if layer.upsample:
        weight = weight.transpose(1, 2).reshape(batch * in_channel, layer.out_channel, k, k)
        out = F.conv_transpose2d(x, weight, padding=0, stride=2, groups=batch)
        out = out.view(batch, layer.out_channel, *out.shape[2:])
        return native_upfirdn2d(out, _kernel(4.0).to(out), 1, layer.blur.pad)
    weight = weight.view(batch * layer.out_channel, in_channel, k, k)
    out = F.conv2d(x, weight, padding=k // 2, groups=batch)
    return out.view(batch, layer.out_channel, *out.shape[2:])


def to_rgb(layer, x: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:  # noqa: ANN001
    conv, activate = layer.conv[0], layer.conv[1]
    out = fused_leaky_relu(F.conv2d(x, conv.weight * conv.scale), activate.bias) + layer.bias
    if skip is not None:
        out = out + native_upfirdn2d(skip, _kernel(4.0).to(skip), 2, (2, 1))
    return out


def to_flow(layer, x: torch.Tensor, style: torch.Tensor, feature: torch.Tensor,  # noqa: ANN001
            skip: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    out = modulated_conv(layer.conv, x, style) + layer.bias
    axis = np.linspace(-1, 1, x.shape[2])
    grid = torch.tensor(np.stack(np.meshgrid(axis, axis), 2)).float().unsqueeze(0).repeat(x.shape[0], 1, 1, 1)
    grid = grid.to(x.device)  # the official code copies the NumPy grid to the device on every call
    if skip is not None:
        out = out + native_upfirdn2d(skip, _kernel(4.0).to(skip), 2, (2, 1))
    mask = torch.sigmoid(out[:, 2:3])
    warped = F.grid_sample(feature, torch.tanh(out[:, 0:2]).permute(0, 2, 3, 1) + grid, align_corners=False) * mask
    return warped, warped + x * (1.0 - mask), out


def decode_frame(dec: MotionDecoder, latent: torch.Tensor, features: list[torch.Tensor]) -> torch.Tensor:
    """One frame: latent (1, D) = s_r + r, the encoder pyramid -> image (1, 3, S, S)."""
    styles = latent.unsqueeze(1).repeat(1, 2 * int(math.log2(features[-1].shape[-1])) - 2, 1)
    x = dec.input.input.repeat(latent.shape[0], 1, 1, 1)
    x = fused_leaky_relu(modulated_conv(dec.conv1.conv, x, styles[:, 0]), dec.conv1.activate.bias)
    skip = flow = None
    for k, feature in enumerate(features):
        up, conv = dec.convs[2 * k], dec.convs[2 * k + 1]
        x = fused_leaky_relu(modulated_conv(up.conv, x, styles[:, 2 * k + 1]), up.activate.bias)
        x = fused_leaky_relu(modulated_conv(conv.conv, x, styles[:, 2 * k + 2]), conv.activate.bias)
        warped, x, flow = to_flow(dec.to_flows[k], x, styles[:, 2 * k + 3], feature, flow)
        skip = to_rgb(dec.to_rgbs[k], warped, skip)
    return skip


@torch.inference_mode()
def decode(dec: MotionDecoder, identity, motion: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
    """motion (T, D) for one identity -> frames (T, 3, S, S), one frame at a time, stacked at the end."""
    frames = [decode_frame(dec, identity.latent + motion[t:t + 1], list(identity.features))
              for t in range(motion.shape[0])]
    return torch.stack(frames, dim=1)[0]
