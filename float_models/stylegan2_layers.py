"""StyleGAN2 building blocks shared by the motion encoder and the motion decoder.

FLOAT's motion auto-encoder is LIA's, built from rosinality-style StyleGAN2 layers with
equalised learning rate (weights stored unscaled, multiplied by 1/sqrt(fan_in) at use).
Attribute names are fixed by float.pth (`weight`, `bias`, `modulation`, Sequential indices).

The FIR blur kernels are not parameters: they follow from the fixed kernel [1, 3, 3, 1],
so they are rebuilt on the fly (and cached) instead of living in the state dict.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

BLUR_TAPS = (1.0, 3.0, 3.0, 1.0)
SQRT2 = math.sqrt(2.0)


@functools.lru_cache(maxsize=64)
def _blur_kernel(gain: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    taps = torch.tensor(BLUR_TAPS, dtype=torch.float32)
    kernel = taps[None, :] * taps[:, None]
    kernel = kernel / kernel.sum() * gain
    return kernel.to(device=device, dtype=dtype)


def blur_kernel(gain: float, like: torch.Tensor) -> torch.Tensor:
    """The normalised 4x4 binomial kernel times `gain`, on `like`'s device and dtype."""
    return _blur_kernel(float(gain), like.device, like.dtype)


def upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1,
              pad: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Upsample by zero insertion, pad, FIR-filter each channel, then decimate.

    The same operation as StyleGAN2's native upfirdn2d, written as one depthwise
    convolution so that it runs on every device and batches well.
    """
    batch, channels, height, width = x.shape
    if up > 1:
        spread = x.new_zeros(batch, channels, height * up, width * up)
        spread[:, :, ::up, ::up] = x
        x = spread
    pad0, pad1 = pad
    x = F.pad(x, [max(pad0, 0), max(pad1, 0), max(pad0, 0), max(pad1, 0)])
    if pad0 < 0 or pad1 < 0:
        x = x[:, :, max(-pad0, 0): x.shape[2] - max(-pad1, 0), max(-pad0, 0): x.shape[3] - max(-pad1, 0)]
    weight = torch.flip(kernel, [0, 1]).expand(channels, 1, *kernel.shape)
    x = F.conv2d(x, weight, groups=channels)
    return x[:, :, ::down, ::down]


class Blur(nn.Module):
    """FIR low-pass with fixed padding; `gain` = upsample factor squared after a transposed conv."""

    def __init__(self, pad: tuple[int, int], gain: float = 1.0):
        super().__init__()
        self.pad, self.gain = pad, gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, blur_kernel(self.gain, x), pad=self.pad)


class Upsample(nn.Module):
    """2x upsampling with the blur kernel (used on the RGB and flow skip connections)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, blur_kernel(4.0, x), up=2, pad=(2, 1))


class EqualConv2d(nn.Module):
    def __init__(self, in_channel: int, out_channel: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channel, in_channel, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channel)) if bias else None
        self.scale = 1 / math.sqrt(in_channel * kernel_size ** 2)
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, self.stride, self.padding)


class EqualLinear(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, bias_init: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim))
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = 1 / math.sqrt(in_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class FusedLeakyReLU(nn.Module):
    """Bias, leaky ReLU(0.2), then a sqrt(2) gain that keeps the activations' variance."""

    def __init__(self, channel: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channel, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias, 0.2) * SQRT2


class ConvLayer(nn.Sequential):
    """[Blur] + EqualConv2d + [FusedLeakyReLU]: the Sequential indices appear in float.pth keys."""

    def __init__(self, in_channel: int, out_channel: int, kernel_size: int,
                 downsample: bool = False, activate: bool = True):
        layers: list[nn.Module] = []
        if downsample:
            p = (len(BLUR_TAPS) - 2) + (kernel_size - 1)
            layers.append(Blur(pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(EqualConv2d(in_channel, out_channel, kernel_size, stride, padding, bias=False))
        if activate:
            layers.append(FusedLeakyReLU(out_channel))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with 2x downsampling, plus a 1x1 skip, averaged in variance."""

    def __init__(self, in_channel: int, out_channel: int):
        super().__init__()
        self.conv1 = ConvLayer(in_channel, in_channel, 3)
        self.conv2 = ConvLayer(in_channel, out_channel, 3, downsample=True)
        self.skip = ConvLayer(in_channel, out_channel, 1, downsample=True, activate=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / SQRT2


class ModulatedConv2d(nn.Module):
    """StyleGAN2 convolution whose weights are scaled per sample by a style vector.

    out[b] = conv(x[b], w_b) with w_b[o, i] = scale * W[o, i] * s[b, i], optionally
    demodulated so every output channel has unit expected variance. With `upsample`, a
    stride-2 transposed convolution followed by the blur kernel doubles the resolution.
    """

    def __init__(self, in_channel: int, out_channel: int, kernel_size: int, style_dim: int,
                 demodulate: bool = True, upsample: bool = False):
        super().__init__()
        self.in_channel, self.out_channel, self.kernel_size = in_channel, out_channel, kernel_size
        self.demodulate, self.upsample = demodulate, upsample
        self.scale = 1 / math.sqrt(in_channel * kernel_size ** 2)
        self.weight = nn.Parameter(torch.randn(1, out_channel, in_channel, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channel, bias_init=1.0)
        if upsample:
            p = (len(BLUR_TAPS) - 2) - (kernel_size - 1)
            self.blur = Blur(pad=((p + 1) // 2 + 1, p // 2 + 1), gain=4.0)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        batch, in_channel, height, width = x.shape
        k = self.kernel_size
        weight = self.scale * self.weight * self.modulation(style).view(batch, 1, in_channel, 1, 1)
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8).view(batch, -1, 1, 1, 1)
        # One grouped convolution applies each sample's own weights to it.
        x = x.reshape(1, batch * in_channel, height, width)
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(batch * in_channel, self.out_channel, k, k)
            out = F.conv_transpose2d(x, weight, stride=2, groups=batch)
            return self.blur(out.view(batch, self.out_channel, *out.shape[2:]))
        weight = weight.reshape(batch * self.out_channel, in_channel, k, k)
        out = F.conv2d(x, weight, padding=k // 2, groups=batch)
        return out.view(batch, self.out_channel, *out.shape[2:])
