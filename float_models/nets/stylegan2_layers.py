"""StyleGAN2 building blocks shared by the motion encoder and the motion decoder.

FLOAT's motion auto-encoder is LIA's, built from rosinality-style StyleGAN2 layers with
equalised learning rate (weights stored unscaled, multiplied by 1/sqrt(fan_in) at use).
Attribute names are fixed by float.pth (`weight`, `bias`, `modulation`, Sequential indices).

The FIR blur kernels are not parameters: they follow from the fixed kernel [1, 3, 3, 1],
so they are rebuilt on the fly (and cached) instead of living in the state dict.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

BLUR_TAPS = (1.0, 3.0, 3.0, 1.0)
SQRT2 = math.sqrt(2.0)
# Up to this many output channels (the 512 level) the upsampling convolution runs
# as one fused 3x3 convolution + pixel shuffle: 4x the multiply-adds of the transposed
# convolution, but at high resolution with few channels the transposed convolution and the
# full-resolution blur are memory-bound and slower than that. Measured on CPU (oneDNN).
FUSED_UPSAMPLE_MAX_CHANNELS = 32
# The same choice per device type (None: every level). On CUDA the full-resolution depthwise
# blur was 38% of an H100's decode time (cuDNN's grouped direct kernel), and phase convolution
# at every level raised decode from 555 to 791 frames/s at bf16, batch 32 (notes: gpu.md). Other
# devices keep the CPU's measured choice until someone measures them.
# FLOATKIT_PHASE_UPSAMPLING=0 turns CUDA's choice off (the CPU's is kept), should
# `python -m float_models check-device` find that it disagrees with the reference on a card.
PHASE_UPSAMPLE_MAX_CHANNELS: dict[str, int | None] = {
    "cpu": FUSED_UPSAMPLE_MAX_CHANNELS,
    "cuda": None if os.environ.get("FLOATKIT_PHASE_UPSAMPLING", "1") != "0" else FUSED_UPSAMPLE_MAX_CHANNELS}


def uses_phase_upsampling(device: torch.device, out_channel: int) -> bool:
    """Whether an upsampling layer with `out_channel` outputs runs as phase convolution on `device`."""
    limit = PHASE_UPSAMPLE_MAX_CHANNELS.get(torch.device(device).type, FUSED_UPSAMPLE_MAX_CHANNELS)
    return limit is None or out_channel <= limit


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
    convolution so that it runs on every device and batches well. The input's memory
    format (channels-last or not) is kept.
    """
    batch, channels, height, width = x.shape
    memory_format = _memory_format(x)
    if up > 1:
        spread = x.new_zeros(batch, channels, height * up, width * up).to(memory_format=memory_format)
        spread[:, :, ::up, ::up] = x
        x = spread
    pad0, pad1 = pad
    weight = torch.flip(kernel, [0, 1]).expand(channels, 1, *kernel.shape)
    if pad0 == pad1 and pad0 >= 0:
        # Symmetric padding is the convolution's own (no padded copy of the input).
        x = F.conv2d(x, weight, padding=pad0, groups=channels)
    else:
        x = F.pad(x, [max(pad0, 0), max(pad1, 0), max(pad0, 0), max(pad1, 0)])
        if pad0 < 0 or pad1 < 0:
            x = x[:, :, max(-pad0, 0): x.shape[2] - max(-pad1, 0), max(-pad0, 0): x.shape[3] - max(-pad1, 0)]
        x = F.conv2d(x.contiguous(memory_format=memory_format), weight, groups=channels)
    return x[:, :, ::down, ::down]


def _is_channels_last(x: torch.Tensor) -> bool:
    return x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)


def _memory_format(x: torch.Tensor) -> torch.memory_format:
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


class Blur(nn.Module):
    """FIR low-pass with fixed padding; `gain` = upsample factor squared after a transposed conv."""

    def __init__(self, pad: tuple[int, int], gain: float = 1.0):
        super().__init__()
        self.pad, self.gain = pad, gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, blur_kernel(self.gain, x), pad=self.pad)


class Upsample(nn.Module):
    """2x upsampling with the blur kernel (used on the RGB and flow skip connections).

    Where the device's policy runs every upsampling level as phase convolution (CUDA), this
    one does too: a 3x3 convolution at the input resolution (each channel filtered on its own,
    through a block-diagonal weight, so no depthwise kernel runs) and a pixel shuffle.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if PHASE_UPSAMPLE_MAX_CHANNELS.get(x.device.type, 0) is None and x.shape[1] <= SKIP_PHASE_MAX_CHANNELS:
            weight = skip_upsampling_weight(x.shape[1], x.device, x.dtype, _is_channels_last(x))
            return shuffle_affine(F.conv2d(x, weight, padding=1))
        return upfirdn2d(x, blur_kernel(4.0, x), up=2, pad=(2, 1))


# The block-diagonal phase weight grows with channels squared: only for the 3-channel skips.
SKIP_PHASE_MAX_CHANNELS = 4


@functools.lru_cache(maxsize=16)
def skip_upsampling_weight(channels: int, device: torch.device, dtype: torch.dtype,
                           channels_last: bool = True) -> torch.Tensor:
    """(4 * channels, channels, 3, 3): `Upsample` as one convolution + pixel shuffle.

    The taps are read off `upfirdn2d` itself, applied to a unit impulse, so the two forms are
    the same operator by construction: output pixel (2m + a, 2n + b) reads input pixels
    (m + u - 1, n + v - 1) with weight w[a, b, u, v].
    """
    impulse = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    impulse[0, 0, 2, 2] = 1.0
    response = upfirdn2d(impulse, _blur_kernel(4.0, torch.device("cpu"), torch.float64), up=2, pad=(2, 1))[0, 0]
    phases = response.view(5, 2, 5, 2).permute(1, 3, 0, 2)  # [a, b, m, n]
    if phases[:, :, [0, 4]].abs().sum() or phases[:, :, :, [0, 4]].abs().sum():
        raise AssertionError("the skip upsampling reaches beyond a 3x3 neighbourhood")
    taps = phases[:, :, 1:4, 1:4].flip(2, 3).reshape(4, 3, 3)  # m = 3 - u
    weight = torch.zeros(channels, 4, channels, 3, 3, dtype=torch.float64)
    for c in range(channels):
        weight[c, :, c] = taps
    weight = weight.reshape(4 * channels, channels, 3, 3)
    layout = torch.channels_last if channels_last else torch.contiguous_format  # the output follows it
    return weight.to(device=device, dtype=dtype).contiguous(memory_format=layout)


def shuffle_affine(phases: torch.Tensor, scale: torch.Tensor | None = None,
                   bias: torch.Tensor | None = None) -> torch.Tensor:
    """pixel_shuffle(phases, 2) * scale + bias in one pass, in the input's memory format.

    phases (B, 4C, H, W), channel order (c, row phase, column phase); scale (B, C) or None;
    bias (C,) or None. The shuffle is a strided read of the phases inside the one elementwise
    op that writes the result, so it costs no pass of its own (and on a GPU pixel_shuffle
    would return a contiguous tensor and break channels-last).
    """
    batch, channels4, height, width = phases.shape
    channels = channels4 // 4
    out = torch.empty(batch, channels, 2 * height, 2 * width, dtype=phases.dtype, device=phases.device,
                      memory_format=_memory_format(phases))
    source = phases.unflatten(1, (channels, 2, 2)).permute(0, 1, 4, 2, 5, 3)  # (B, C, H, a, W, b)
    target = out.unflatten(2, (height, 2)).unflatten(4, (width, 2))
    if scale is None and bias is None:
        target.copy_(source)
    elif bias is None:
        torch.mul(source, scale.view(batch, channels, 1, 1, 1, 1), out=target)
    elif scale is None:
        torch.add(source, bias.view(1, channels, 1, 1, 1, 1), out=target)
    else:
        torch.addcmul(bias.view(1, channels, 1, 1, 1, 1), source, scale.view(batch, channels, 1, 1, 1, 1), out=target)
    return out


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
        # In place on the fresh sum: same numbers, two fewer full-size allocations.
        return F.leaky_relu_(x + self.bias, 0.2).mul_(SQRT2)

    def forward_(self, x: torch.Tensor) -> torch.Tensor:
        """The same, in place on `x` (for a fresh tensor nobody else holds, e.g. a conv output)."""
        return F.leaky_relu_(x.add_(self.bias), 0.2).mul_(SQRT2)


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

    Two formulations give the same numbers (up to float rounding):
    * weight modulation (the official algorithm, `reference=True`): build w_b for every
      sample and run one grouped convolution, one weight set per frame;
    * activation modulation (default): conv(x[b] * s[b], scale * W) * d[b], with the
      demodulation d[b, o] = rsqrt(sum_i s[b, i]^2 * sum_k (scale * W[o, i, k])^2 + 1e-8).
      The convolution is linear, so scaling its input channels by s equals scaling the
      weights' input channels, and scaling output channels by d equals demodulating the
      weights. All frames then share one weight set: a plain batched convolution that runs
      several times faster than the grouped one and works in channels-last memory.
    """

    reference = False  # class-wide default; `use_weight_modulation` sets it per module

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
        if self.reference:
            return self.forward_weight_modulation(x, style)
        return self.forward_activation_modulation(x, style)

    def demodulation(self, style_scale: torch.Tensor) -> torch.Tensor:
        """d (B, out) for the per-sample input scales s (B, in), in style_scale's dtype.

        The sum runs in float32 whatever the model dtype; only d is rounded to it. It adds
        in_channel x k x k squared weights (4608 at 512 channels): in half precision the small
        squares (below 6e-5, float16's smallest normal) lose their digits, and the 1e-8 guard
        rounds to 0 in float16, so an all-zero style would give rsqrt(0) = inf.
        """
        _, energy, _ = self._prepared()
        return torch.rsqrt(style_scale.float().square() @ energy + 1e-8).to(style_scale.dtype)

    def _prepared(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(scale * W channels-last, sum_k (scale * W)^2 transposed (in, out), fused upsampling weight).

        Derived from the parameter; kept in the open `prepared_weights` scope (one decode run)
        until the parameter changes (new storage, an in-place update, a move to another device
        or dtype), never on the module: a host neither counts nor moves nor frees such tensors
        (110 MiB for the full-size fp16 decoder on CUDA, more than its 43 MiB of weights).
        """
        # Inference tensors (a model built under torch.inference_mode, as in ComfyUI) keep no
        # version counter; for them a new storage, device or dtype still refreshes the cache.
        version = -1 if self.weight.is_inference() else self.weight._version
        phase = self.upsample and uses_phase_upsampling(self.weight.device, self.out_channel)
        key = (self.weight.data_ptr(), version, self.weight.device, self.weight.dtype, phase)
        store = _open_scope()
        cached = None if store is None else store.get(id(self))
        if cached is not None and cached[0] == key:
            return cached[1]
        with torch.no_grad():
            weight = (self.scale * self.weight[0]).contiguous(memory_format=torch.channels_last)
            energy = (self.scale * self.weight[0].float()).square().sum([2, 3]).t().contiguous()  # see demodulation
            fused = None
            if phase:
                fused = upsampling_weight(weight, self.blur.gain)
        if store is not None:
            store[id(self)] = (key, (weight, energy, fused))
        return weight, energy, fused

    def forward_activation_modulation(self, x: torch.Tensor, style: torch.Tensor,
                                      bias: torch.Tensor | None = None, gain: float = 1.0) -> torch.Tensor:
        """gain * (modulated conv(x) + bias); bias (out,) or None.

        The demodulation, the bias and the gain (the next activation's, see `StyledConv`) are
        applied in one elementwise pass, fused with the pixel shuffle on the phase path.
        """
        batch = x.shape[0]
        s = self.modulation(style)
        weight, _, fused = self._prepared()
        if self.kernel_size == 1 and not self.upsample and _is_channels_last(x):
            return self._pointwise(x, s, weight, bias, gain)
        x = x * s.view(batch, -1, 1, 1)
        scale = self.demodulation(s) if self.demodulate else None
        if gain != 1.0:
            scale = torch.full_like(s[:, :1], gain).expand(batch, self.out_channel) if scale is None else scale * gain
            bias = None if bias is None else bias * gain
        if fused is not None:
            return shuffle_affine(F.conv2d(x, fused, padding=1), scale, bias)
        if self.upsample:
            out = self.blur(F.conv_transpose2d(x, weight.transpose(0, 1), stride=2))
        else:
            out = F.conv2d(x, weight, padding=self.kernel_size // 2)
        # The convolution's output is fresh: the affine tail runs in place, in one pass.
        if scale is not None and bias is not None:
            return torch.addcmul(bias.view(1, -1, 1, 1), out, scale.view(batch, -1, 1, 1), out=out)
        if scale is not None:
            return out.mul_(scale.view(batch, -1, 1, 1))
        return out if bias is None else out.add_(bias.view(1, -1, 1, 1))

    def _pointwise(self, x: torch.Tensor, s: torch.Tensor, weight: torch.Tensor,
                   bias: torch.Tensor | None, gain: float) -> torch.Tensor:
        """A 1x1 modulated convolution as one batched matrix product with per-frame weights.

        The flow heads map many channels to 3: modulating the (B, 3, in) weights costs
        nothing, where scaling the input activations would be a full pass over them.
        Channels-last x is (B, H*W, in) in memory, and the product's output is channels-last.
        """
        batch, in_channel, height, width = x.shape
        frame_weight = weight.view(1, self.out_channel, in_channel) * s.view(batch, 1, in_channel)
        if self.demodulate:
            frame_weight = frame_weight * self.demodulation(s).view(batch, self.out_channel, 1)
        if gain != 1.0:
            frame_weight = frame_weight * gain
        pixels = x.permute(0, 2, 3, 1).reshape(batch, height * width, in_channel)
        if bias is None:
            out = torch.bmm(pixels, frame_weight.transpose(1, 2))
        else:
            out = torch.baddbmm((bias * gain).view(1, 1, -1), pixels, frame_weight.transpose(1, 2))
        return out.view(batch, height, width, self.out_channel).permute(0, 3, 1, 2)

    def forward_weight_modulation(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """The official algorithm: per-sample weights, one grouped convolution."""
        batch, in_channel, height, width = x.shape
        k = self.kernel_size
        weight = self.scale * self.weight * self.modulation(style).view(batch, 1, in_channel, 1, 1)
        if self.demodulate:  # the sum in float32, as in `demodulation`
            d = torch.rsqrt(weight.float().pow(2).sum([2, 3, 4]) + 1e-8).to(weight.dtype)
            weight = weight * d.view(batch, -1, 1, 1, 1)
        # One grouped convolution applies each sample's own weights to it.
        x = x.reshape(1, batch * in_channel, height, width)
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(batch * in_channel, self.out_channel, k, k)
            out = F.conv_transpose2d(x, weight, stride=2, groups=batch)
            return self.blur(out.view(batch, self.out_channel, *out.shape[2:]))
        weight = weight.reshape(batch * self.out_channel, in_channel, k, k)
        out = F.conv2d(x, weight, padding=k // 2, groups=batch)
        return out.view(batch, self.out_channel, *out.shape[2:])


_SCOPES = threading.local()


class _Store(dict):
    """One scope's derived weights, by layer id (compared by identity, not by contents)."""

    __eq__ = object.__eq__
    __hash__ = object.__hash__


def _open_scope() -> _Store | None:
    stack = getattr(_SCOPES, "stack", None)
    return stack[-1] if stack else None


@contextlib.contextmanager
def prepared_weights() -> Iterator[None]:
    """Keep the decoder layers' derived weights while open (a decode run: every batch reuses
    them); they are freed when it closes. Inside an open scope this adds nothing."""
    if _open_scope() is not None:
        yield
        return
    stack = _SCOPES.__dict__.setdefault("stack", [])
    store = _Store()
    stack.append(store)
    try:
        yield
    finally:
        stack.remove(store)  # by identity: generators may close their scopes out of order


@functools.lru_cache(maxsize=2)
def _phase_taps() -> torch.Tensor:
    """A[a, u, j, k] = 1 where blur tap j after transposed-conv tap k lands on output phase a
    from input offset u - 1 (one axis): the condition a + j - 1 - k == 2 * (u - 1)."""
    taps = torch.zeros(2, 3, len(BLUR_TAPS), 3)
    for a in range(2):
        for u in range(3):
            for j in range(len(BLUR_TAPS)):
                for k in range(3):
                    if a + j - 1 - k == 2 * (u - 1):
                        taps[a, u, j, k] = 1.0
    return taps


def upsampling_weight(weight: torch.Tensor, gain: float) -> torch.Tensor:
    """One 3x3 convolution (4 x out channels) + pixel shuffle = stride-2 transposed conv + blur.

    The transposed convolution (3x3, stride 2) followed by the 4x4 blur (padding 1) is one
    linear, stride-2 operator; each of the 4 output phases (row parity, column parity) is a
    plain 3x3 convolution of the input. A plain convolution at the low resolution runs much
    faster than a transposed one followed by a full-resolution depthwise blur.
    weight (out, in, 3, 3) -> (out * 4, in, 3, 3), channel order (out, row phase, col phase).
    """
    if weight.shape[-1] != 3:
        raise ValueError("the fused upsampling convolution is derived for 3x3 kernels")
    taps = _phase_taps().to(weight.device, torch.float32)
    blur = _blur_kernel(float(gain), weight.device, torch.float32)
    fused = torch.einsum("aujk,bvlm,jl,oikm->oabiuv", taps, taps, blur, weight.float())
    out, _, _, in_channel = fused.shape[:4]
    return fused.reshape(out * 4, in_channel, 3, 3).to(weight.dtype).contiguous(memory_format=torch.channels_last)


def use_weight_modulation(module: nn.Module, enabled: bool = True) -> nn.Module:
    """Switch every ModulatedConv2d inside `module` to the official weight modulation (or back)."""
    for layer in module.modules():
        if isinstance(layer, ModulatedConv2d):
            layer.reference = enabled
    return module
