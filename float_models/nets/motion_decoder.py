"""Motion decoder of FLOAT's motion latent auto-encoder (phase 1; LIA's generator).

Two pieces live under the checkpoint prefix `motion_autoencoder.dec.`:

* `MotionBasis` (official `Direction`, key `direction.weight`): dim_m learned directions in
  the D-dimensional latent space, orthonormalised by a QR decomposition. A motion is a point
  in their span: r = sum_i lambda_i q_i. FLOAT's sampler produces such motions (r->D).
* `MotionDecoder` (official `Synthesis`): a StyleGAN2-like generator driven by the latent
  s_r + r. At each resolution a `ToFlow` head predicts a flow field and a mask that warp the
  source portrait's feature map; the warped features are mixed into the generator's own
  and turned into an RGB skip image. The output is not clamped (official behaviour).
Shape legend: B frames decoded together, D = dim_w, S = image side.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from .motion_encoder import CHANNELS
from .stylegan2_layers import SQRT2, ConvLayer, FusedLeakyReLU, ModulatedConv2d, Upsample


class MotionBasis(nn.Module):
    """Orthonormal motion directions Q (D, dim_m) from the QR decomposition of `weight`."""

    def __init__(self, dim: int = 512, dim_motion: int = 20):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(dim, dim_motion))

    def basis(self) -> torch.Tensor:
        """Q with orthonormal columns. QR runs in float32 (fp16 QR is unsupported or unstable)."""
        q, _ = torch.linalg.qr(self.weight.float() + 1e-8)
        return q.to(self.weight.dtype)

    def forward(self, coefficients: torch.Tensor) -> torch.Tensor:
        """coefficients (..., dim_m) -> motion latent (..., D) = coefficients @ Q^T."""
        return coefficients @ self.basis().T


class ConstantInput(nn.Module):
    def __init__(self, channel: int, size: int = 4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.expand(batch, -1, -1, -1)


class NoiseInjection(nn.Module):
    """Kept for its checkpoint key: FLOAT never feeds noise, so this is the identity."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))


class StyledConv(nn.Module):
    def __init__(self, in_channel: int, out_channel: int, style_dim: int, upsample: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_channel, out_channel, 3, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channel)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if self.conv.reference:
            return self.activate(self.conv(x, style))
        # leaky_relu(v + b) * g == leaky_relu(g * v + g * b) for g > 0: the bias and the gain ride
        # in the convolution's one affine pass, and the activation runs in place on its output.
        out = self.conv.forward_activation_modulation(x, style, self.activate.bias.view(-1), SQRT2)
        return F.leaky_relu_(out, 0.2)


class ToRGB(nn.Module):
    """1x1 conv (with a leaky ReLU, as in the official code) plus the upsampled skip image."""

    def __init__(self, in_channel: int, upsample: bool = True):
        super().__init__()
        if upsample:
            self.upsample = Upsample()
        self.conv = ConvLayer(in_channel, 3, 1)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x) + self.bias
        return out if skip is None else out + self.upsample(skip)


@functools.lru_cache(maxsize=32)
def _identity_grid(size: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    # linspace(-1, 1) endpoints with align_corners=False sampling: a slight zoom-out that the
    # trained weights expect. Built in float64 and rounded once, as the official numpy grid.
    axis = torch.linspace(-1.0, 1.0, size, dtype=torch.float64)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([x, y], dim=-1).to(device=device, dtype=dtype)[None]  # (1, S, S, 2)


class ToFlow(nn.Module):
    """Predicts a flow field (2 channels) and a mask (1 channel) and warps the source features."""

    def __init__(self, in_channel: int, style_dim: int, upsample: bool = True):
        super().__init__()
        if upsample:
            self.upsample = Upsample()
        self.conv = ModulatedConv2d(in_channel, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, feature: torch.Tensor,
                skip: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (warped features, features mixed into x, raw flow output for the next skip)."""
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        grid = torch.tanh(out[:, 0:2]).permute(0, 2, 3, 1) + _identity_grid(x.shape[2], x.device, x.dtype)
        mask = torch.sigmoid(out[:, 2:3])
        sampled = warp(feature, grid)
        # mask * sampled + (1 - mask) * x in one pass (the official form needs three).
        return sampled * mask, torch.lerp(x, sampled, mask), out


def warp(feature: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Bilinear warp of the source features (batch 1 or B) by B sampling grids (B, S, S, 2).

    A single source image is not expanded to B copies: its B grids are stacked along the
    height into one (1, B*S, S, 2) grid, which samples every frame in one call. Each output
    pixel reads only its own grid point, so the result is the same as per-frame sampling.
    """
    frames, height, width, _ = grid.shape
    if feature.shape[0] == frames:
        return F.grid_sample(feature, grid, align_corners=False)
    if feature.shape[0] != 1:
        raise ValueError(f"{feature.shape[0]} source feature maps for {frames} frames; give 1 or {frames}")
    out = F.grid_sample(feature, grid.reshape(1, frames * height, width, 2), align_corners=False)
    # (1, C, B*S, S) -> (B, C, S, S): a view, channels-last when the source is channels-last.
    return out.view(out.shape[1], frames, height, width).transpose(0, 1)


class MotionDecoder(nn.Module):
    """The official `Synthesis` (attribute names fixed by float.pth)."""

    channels_last = True

    def __init__(self, size: int = 512, style_dim: int = 512, dim_motion: int = 20):
        super().__init__()
        self.direction = MotionBasis(style_dim, dim_motion)
        self.input = ConstantInput(CHANNELS[4])
        self.conv1 = StyledConv(CHANNELS[4], CHANNELS[4], style_dim)
        self.to_rgb1 = ToRGB(CHANNELS[4], upsample=False)  # in float.pth, unused by the forward pass
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.to_flows = nn.ModuleList()
        in_channel = CHANNELS[4]
        for level in range(3, int(math.log2(size)) + 1):
            out_channel = CHANNELS[2 ** level]
            self.convs.append(StyledConv(in_channel, out_channel, style_dim, upsample=True))
            self.convs.append(StyledConv(out_channel, out_channel, style_dim))
            self.to_rgbs.append(ToRGB(out_channel))
            self.to_flows.append(ToFlow(out_channel, style_dim))
            in_channel = out_channel

    def forward(self, latent: torch.Tensor, features: list[torch.Tensor] | tuple[torch.Tensor, ...]) -> torch.Tensor:
        """latent (B, D) = s_r + r, features: the encoder pyramid (batch 1 or B) -> image (B, 3, S, S)."""
        # Channels-last memory: the convolution kernels of CPUs (oneDNN) and GPUs (cuDNN) are
        # fastest on it; the reference path (weight modulation) keeps the official layout.
        fast = not self.conv1.conv.reference
        layout = torch.channels_last if fast and self.channels_last else torch.contiguous_format
        features = [f.contiguous(memory_format=layout) for f in features]
        x = self.conv1(self.input(latent.shape[0]).contiguous(memory_format=layout), latent)
        image = flow = None
        for k, feature in enumerate(features):
            x = self.convs[2 * k](x, latent)
            x = self.convs[2 * k + 1](x, latent)
            warped, x, flow = self.to_flows[k](x, latent, feature, flow)
            image = self.to_rgbs[k](warped, image)
        return image
