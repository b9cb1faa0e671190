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
from .stylegan2_layers import SQRT2, ConvLayer, FusedLeakyReLU, ModulatedConv2d, Upsample, prepared_weights


class MotionBasis(nn.Module):
    """Orthonormal motion directions Q (D, dim_m) from the QR decomposition of `weight`."""

    def __init__(self, dim: int = 512, dim_motion: int = 20):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(dim, dim_motion))

    def basis(self) -> torch.Tensor:
        """Q with orthonormal columns, in float32 whatever the model dtype.

        QR runs in float32: PyTorch has no half-precision QR, and columns rounded to bfloat16
        (or float16) are orthonormal only to about 4e-3 (5e-4), so the projections c = r Q of
        the motion edits would leak between directions. Q stays in float32 for the same reason
        (it is only D x dim_m numbers).
        """
        q, _ = torch.linalg.qr(self.weight.float() + 1e-8)
        return q

    def forward(self, coefficients: torch.Tensor) -> torch.Tensor:
        """coefficients (..., dim_m) -> motion latent (..., D) = coefficients @ Q^T, in float32.

        The reference motion r_s is the sampler's condition and the origin of every edit: a
        sum of dim_m terms kept in float32 rather than rounded to the model dtype.
        """
        return coefficients.float() @ self.basis().T


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
def _identity_grid(size: int, device: torch.device) -> torch.Tensor:
    # linspace(-1, 1) endpoints with align_corners=False sampling: a slight zoom-out that the
    # trained weights expect. Built in float64 and rounded once to float32, as the official
    # numpy grid. Always float32: see `flow_grid`.
    axis = torch.linspace(-1.0, 1.0, size, dtype=torch.float64)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([x, y], dim=-1).to(device=device, dtype=torch.float32)[None]  # (1, S, S, 2)


def flow_grid(flow: torch.Tensor) -> torch.Tensor:
    """Raw flow-head output (B, 2, S, S), any dtype -> sampling grid (B, S, S, 2) in float32.

    grid = identity + tanh(flow). The grid's coordinates lie in [-1, 1], where bfloat16 has a
    step of 2^-8 and float16 of 2^-11: at 512 px that is up to 1.0 px and 0.13 px of error,
    which blurs and shifts the warped face (33.5 dB and 51.8 dB PSNR against float32 on the
    astronaut test, README "Precision"). In float32 the step is 6e-8 px.
    """
    return torch.tanh(flow.float()).permute(0, 2, 3, 1) + _identity_grid(flow.shape[2], flow.device)


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
        """Returns (warped features, features mixed into x, raw flow output for the next skip).

        The flow chain runs in float32 whatever the model dtype: the head's output, the skip
        it adds (the previous levels' flow, upsampled), tanh, the grid and the sampling (see
        `flow_grid`). The warped features and the mask return to x's dtype.
        """
        out = self._head(x, style)
        if skip is not None:
            out = out + self.upsample(skip)
        mask = torch.sigmoid(out[:, 2:3]).to(x.dtype)
        sampled = warp(feature, flow_grid(out[:, 0:2])).to(x.dtype)
        # mask * sampled + (1 - mask) * x in one pass (the official form needs three).
        return sampled * mask, torch.lerp(x, sampled, mask), out

    def _head(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """The 1x1 modulated conv + bias, in float32 (B, 3, S, S).

        Rounded to bfloat16, a raw flow of about 1 carries an error of 2^-9 that tanh passes on
        to the grid: 0.2 px at 512 px. As in `ModulatedConv2d._pointwise`, one batched product
        with per-frame (B, 3, in) weights (this conv is not demodulated), here in float32: the
        cost is one conversion pass over x. The official weight modulation is kept for float32
        parity checks.
        """
        conv = self.conv
        if x.dtype == torch.float32 and conv.reference:
            return conv(x, style) + self.bias  # the official weight modulation, for parity checks
        batch, channels, height, width = x.shape
        weight = conv.weight[0, :, :, 0, 0].float() * conv.scale  # (3, in)
        frame_weight = weight[None] * conv.modulation(style).float()[:, None, :]  # (B, 3, in)
        pixels = x.float().permute(0, 2, 3, 1).reshape(batch, height * width, channels)  # a view if channels-last
        out = torch.baddbmm(self.bias.float().view(1, 1, -1), pixels, frame_weight.transpose(1, 2))
        return out.view(batch, height, width, -1).permute(0, 3, 1, 2)


def warp(feature: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Bilinear warp of the source features (batch 1 or B) by B sampling grids (B, S, S, 2).

    Runs in float32 whatever the inputs' dtypes and returns float32: reduced-precision
    sampling weights would round each output pixel once more, and PyTorch's CPU grid_sample
    returns NaN in bfloat16 and float16 (torch 2.13, larger or channels-last maps).

    A single source image is not expanded to B copies: its B grids are stacked along the
    height into one (1, B*S, S, 2) grid, which samples every frame in one call. Each output
    pixel reads only its own grid point, so the result is the same as per-frame sampling.
    """
    feature, grid = feature.float(), grid.float()
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
        with prepared_weights():  # derived weights live for this call, or for the caller's open scope
            return self._forward(latent, features)

    def _forward(self, latent: torch.Tensor, features: list[torch.Tensor] | tuple[torch.Tensor, ...]) -> torch.Tensor:
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
