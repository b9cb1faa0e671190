"""FLOAT's motion latent auto-encoder (phase 1): encoder + orthogonal basis + decoder.

Checkpoint prefix `motion_autoencoder.`: `enc.` (MotionEncoder), `dec.` (MotionDecoder,
which also owns the motion basis `dec.direction`).
"""

from __future__ import annotations

import torch
from torch import nn

from .motion_decoder import MotionDecoder
from .motion_encoder import MotionEncoder
from ..types import Identity


class MotionAutoencoder(nn.Module):
    def __init__(self, size: int = 512, dim: int = 512, dim_motion: int = 20):
        super().__init__()
        self.enc = MotionEncoder(size, dim, dim_motion)
        self.dec = MotionDecoder(size, dim, dim_motion)

    def encode(self, image: torch.Tensor) -> Identity:
        """Portrait (B, 3, S, S) in [-1, 1] -> identity latent, pyramid and reference motion r_s."""
        latent, coefficients, features = self.enc(image)
        return Identity(latent, tuple(features), self.dec.direction(coefficients), coefficients)

    def decode(self, identity: Identity, motion: torch.Tensor) -> torch.Tensor:
        """motion (N, D) for one identity (batch 1) or N identities -> frames (N, 3, S, S)."""
        return self.dec(identity.latent + motion, identity.features)
