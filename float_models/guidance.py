"""Classifier-free vector field (CFV), FLOAT's incremental classifier-free guidance.

Three branches share one batched FMT call: unconditional (no audio, no emotion),
audio only, and audio + emotion. The guided velocity adds the audio direction, then the
emotion direction on top of it:

    v = v_u + a_cfg * (v_a - v_u) + e_cfg * (v_ae - v_a)

The reference motion and the previous-window context are never dropped. The official
`r_cfg_scale` does not appear in the formula; any scale other than 1 only switches the
three-branch path on, which is kept here so results match the official ones.
"""

from __future__ import annotations

from typing import Callable

import torch

Velocity = Callable[..., torch.Tensor]


def uses_guidance(a_cfg_scale: float, e_cfg_scale: float, r_cfg_scale: float = 1.0) -> bool:
    return a_cfg_scale != 1.0 or e_cfg_scale != 1.0 or r_cfg_scale != 1.0


def combine(uncond: torch.Tensor, audio: torch.Tensor, audio_emotion: torch.Tensor,
            a_cfg_scale: float, e_cfg_scale: float) -> torch.Tensor:
    """The CFV formula on the three branch outputs, in float32 whatever their dtype.

    The guidance directions are differences of nearly equal velocities, scaled up (a_cfg = 2
    by default). In bfloat16 each of the five operations would round again, by up to 2^-9 of
    a velocity, and the scaled difference would carry its rounding times the scale. The
    branches are rounded once (by the FMT); the combination adds no further rounding.
    """
    uncond, audio, audio_emotion = uncond.float(), audio.float(), audio_emotion.float()
    return uncond + a_cfg_scale * (audio - uncond) + e_cfg_scale * (audio_emotion - audio)


def guided_velocity(fmt: Velocity, t: torch.Tensor, x: torch.Tensor, wa: torch.Tensor, wr: torch.Tensor,
                    we: torch.Tensor, prev_x: torch.Tensor, prev_wa: torch.Tensor,
                    a_cfg_scale: float | torch.Tensor, e_cfg_scale: float | torch.Tensor,
                    r_cfg_scale: float | torch.Tensor = 1.0, guided: bool | None = None) -> torch.Tensor:
    """FMT output (B, L'+L, D) with CFV applied when any scale differs from 1 (then in float32).

    guided: whether to apply CFV, decided by the caller (then the scales may be tensors, e.g.
    the inputs of a captured graph, whose values are not read on the host); None decides here."""
    if guided is None:
        guided = uses_guidance(a_cfg_scale, e_cfg_scale, r_cfg_scale)
    if not guided:
        return fmt(t, x, wa, wr, we, prev_x, prev_wa)
    we = we.expand(x.shape[0], -1, -1)
    no_wa, no_we = torch.zeros_like(wa), torch.zeros_like(we)
    # Batch order of the official code: [unconditional, audio + emotion, audio only].
    out = fmt(t.repeat(3), x.repeat(3, 1, 1), torch.cat([no_wa, wa, wa]), wr.repeat(3, 1),
              torch.cat([no_we, we, no_we]), prev_x.repeat(3, 1, 1), prev_wa.repeat(3, 1, 1))
    uncond, audio_emotion, audio = out.chunk(3, dim=0)
    return combine(uncond, audio, audio_emotion, a_cfg_scale, e_cfg_scale)
