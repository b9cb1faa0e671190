"""Flow Matching Transformer (FMT): FLOAT's vector-field predictor (paper, Sec. 3.2).

Given a noisy window of motion latents x_t (B, L, D) at flow time t, it predicts the
velocity v(x_t, t | c) that carries noise (t=0) to motion (t=1). It sees the window
together with the L' motion latents and audio features that end the previous window.
Every frame gets its own condition c_i = embed([r_s, wa_i, we_i]) + embed(t), applied by
frame-wise adaptive LayerNorm (shift, scale, gate per token, as in DiT but per frame), and
attention only reaches frames within +-attention_window of each other.

Official names: wa = audio features, wr = reference motion r_s, we = emotion.
Shape legend: B batch, L = 50 window frames, L' = 10 previous frames, D = dim_w, H = dim_h.
Checkpoint prefix: `fmt.`.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..devices import DropsCachesOnMove


def sinusoid_table(positions: int, dim: int) -> torch.Tensor:
    """Transformer position table: pos / 10000^(2*(j//2)/dim), sin on even j, cos on odd j."""
    pos = torch.arange(positions, dtype=torch.float64)[:, None]
    j = torch.arange(dim, dtype=torch.float64)[None, :]
    angle = (pos / torch.pow(10000.0, 2 * torch.div(j, 2, rounding_mode="floor") / dim)).float()
    table = torch.empty_like(angle)
    table[:, 0::2] = torch.sin(angle[:, 0::2])
    table[:, 1::2] = torch.cos(angle[:, 1::2])
    return table


@functools.lru_cache(maxsize=16)
def band_mask(length: int, window: int, device: torch.device) -> torch.Tensor:
    """(length, length) bool, True where token i may attend to token j: |i - j| <= window."""
    index = torch.arange(length)
    return ((index[:, None] - index[None, :]).abs() <= window).to(device)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class TimestepEmbedder(nn.Module):
    """Flow time t in [0, 1] -> H, through cos/sin features (cos first) and a two-layer MLP."""

    def __init__(self, hidden: int, frequencies: int = 256):
        super().__init__()
        self.frequencies = frequencies
        self.mlp = nn.Sequential(nn.Linear(frequencies, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.frequencies // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
        args = t[:, None].float() * freqs[None]
        features = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        return self.mlp(features.to(self.mlp[0].weight.dtype))


class SequenceEmbed(nn.Module):
    def __init__(self, dim_in: int, hidden: int):
        super().__init__()
        self.proj = nn.Linear(dim_in, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class Attention(nn.Module):
    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        batch, tokens, hidden = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.heads, hidden // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=allowed)
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, hidden))


class Mlp(nn.Module):
    def __init__(self, hidden: int, inner: int):
        super().__init__()
        self.fc1 = nn.Linear(hidden, inner)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(inner, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class FMTBlock(nn.Module):
    """DiT block with frame-wise adaLN: each token has its own shift/scale/gate from c."""

    def __init__(self, hidden: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden, heads)
        self.norm2 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden, int(hidden * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 6 * hidden))

    def forward(self, x: torch.Tensor, c: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=-1)
        x = x + gate_msa * self.attn(modulate(self.norm1(x), shift_msa, scale_msa), allowed)
        return x + gate_mlp * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))


class FinalLayer(nn.Module):
    """The official `Decoder` of the FMT: frame-wise adaLN then a projection back to D."""

    def __init__(self, hidden: int, dim_out: int):
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden))
        self.linear = nn.Linear(hidden, dim_out)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class FlowMatchingTransformer(DropsCachesOnMove, nn.Module):
    """The FMT. Its sampling runners (input buffers, CUDA graphs) are dropped whenever it is moved."""

    def __init__(self, dim_w: int = 512, dim_a: int = 512, dim_e: int = 7, hidden: int = 1024,
                 depth: int = 8, heads: int = 8, mlp_ratio: float = 4.0, num_frames: int = 50,
                 num_prev_frames: int = 10, attention_window: int = 2):
        super().__init__()
        self.num_prev_frames, self.attention_window = num_prev_frames, attention_window
        self.x_embedder = SequenceEmbed(dim_w, hidden)
        # A fixed sinusoid table, stored in float.pth as a non-trainable parameter.
        self.pos_embed = nn.Parameter(sinusoid_table(num_frames + num_prev_frames, hidden)[None],
                                      requires_grad=False)
        self.t_embedder = TimestepEmbedder(hidden)
        self.c_embedder = nn.Linear(dim_w + dim_a + dim_e, hidden)
        self.blocks = nn.ModuleList([FMTBlock(hidden, heads, mlp_ratio) for _ in range(depth)])
        self.decoder = FinalLayer(hidden, dim_w)

    def forward(self, t: torch.Tensor, x: torch.Tensor, wa: torch.Tensor, wr: torch.Tensor,
                we: torch.Tensor, prev_x: torch.Tensor, prev_wa: torch.Tensor) -> torch.Tensor:
        """Velocity for the window and its context.

        t (B,), x (B, L, D), wa (B, L, dim_a), wr (B, D), we (B, 1 or L'+L, dim_e),
        prev_x (B, L', D), prev_wa (B, L', dim_a) -> (B, L'+L, D); callers keep [:, L':].
        """
        x = self.x_embedder(torch.cat([prev_x, x], dim=1)) + self.pos_embed  # (B, L'+L, H)
        wa = torch.cat([prev_wa, wa], dim=1)
        tokens = wa.shape[1]
        batch = x.shape[0]
        condition = torch.cat([wr[:, None].expand(batch, tokens, -1), wa.expand(batch, -1, -1),
                               we.expand(batch, tokens, -1)], dim=-1)
        c = self.c_embedder(condition) + self.t_embedder(t)[:, None]  # (B, L'+L, H)
        allowed = band_mask(tokens, self.attention_window, x.device)
        for block in self.blocks:
            x = block(x, c, allowed)
        return self.decoder(x, c)
