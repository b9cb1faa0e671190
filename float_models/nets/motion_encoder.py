"""Motion encoder of FLOAT's motion latent auto-encoder (phase 1; LIA's encoder).

A portrait x (B, 3, S, S) in [-1, 1] goes through a ResBlock pyramid down to 4x4 and a
final 4x4 convolution, giving the identity latent s_r (B, D). The intermediate feature maps
form the pyramid the decoder warps. A linear head `fc` maps s_r to the reference motion's
coefficients on the motion basis (the official `r_s_lambda`, B x dim_m).

Checkpoint prefix: `motion_autoencoder.enc.` (`net_app.convs.N`, `fc.N`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .stylegan2_layers import ConvLayer, EqualConv2d, EqualLinear, ResBlock

# Channels of the feature map at each resolution (StyleGAN2 with channel multiplier 1).
CHANNELS = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}


class AppearanceEncoder(nn.Module):
    """The official `EncoderApp`: returns s_r and the feature pyramid, coarsest first."""

    def __init__(self, size: int, dim: int):
        super().__init__()
        log_size = int(math.log2(size))
        self.convs = nn.ModuleList([ConvLayer(3, CHANNELS[size], 1)])
        in_channel = CHANNELS[size]
        for level in range(log_size, 2, -1):
            out_channel = CHANNELS[2 ** (level - 1)]
            self.convs.append(ResBlock(in_channel, out_channel))
            in_channel = out_channel
        self.convs.append(EqualConv2d(in_channel, dim, 4, padding=0, bias=False))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        maps = []
        for conv in self.convs:
            x = conv(x)
            maps.append(x)
        # Drop the 1x1 latent and the 4x4 map: the decoder warps the 8x8 .. SxS maps.
        return x.flatten(1), maps[::-1][2:]


class MotionEncoder(nn.Module):
    """The official `Encoder` (attribute names `net_app` and `fc` fixed by float.pth)."""

    def __init__(self, size: int, dim: int = 512, dim_motion: int = 20):
        super().__init__()
        self.net_app = AppearanceEncoder(size, dim)
        # Five linear layers with no activation between them: a linear map s_r -> coefficients.
        self.fc = nn.Sequential(*[EqualLinear(dim, dim) for _ in range(4)], EqualLinear(dim, dim_motion))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """image (B, 3, S, S) -> (s_r (B, D), coefficients (B, dim_m), feature pyramid)."""
        latent, features = self.net_app(image)
        return latent, self.fc(latent), features
