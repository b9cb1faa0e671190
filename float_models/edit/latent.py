"""Motion-latent editing on FLOAT's orthonormal motion basis (paper Sec. 3.1, "motion latent space").

FLOAT's motion auto-encoder spans motion with a learned orthonormal basis Q (D, M) = QR(direction
weight), D = 512, M = 20 directions; the portrait's reference motion is r_s = Q c_s. The Flow Matching
Transformer, however, outputs 512 free numbers per frame, so a sampled motion latent r->D is not
guaranteed to lie in span(Q). Every edit here therefore splits a latent into

    coefficients  c = r Q          (B, T, M)  how far it moves along each direction
    residual      e = r - c Q^T    (B, T, D)  the part outside span(Q), kept as it is

so that c Q^T + e gives r back (exact up to one float32 rounding of the sum).

Edits are pure functions: they return a new `Motion` and never change their inputs. Identity
settings (lambda = 1, gains of 1, weight 0 or 1, strength 0) return the input values exactly
(`torch.equal`), because they are special-cased or computed in a form whose float rounding vanishes
there (a + 0 * x, 1 * a + 0 * b).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

import torch

from ..settings import excerpt
from ..types import Motion

EDGE_MODES = ("keep ends", "reflect", "edge")


# ------------------------------------------------------------------ coefficients on the basis

@dataclass(frozen=True)
class MotionCoefficients:
    """A motion latent split on the basis: coefficients (..., M) and the residual (..., D) outside span(Q)."""

    coefficients: torch.Tensor
    residual: torch.Tensor


def _check_basis(latents: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    if basis.dim() != 2 or basis.shape[0] != latents.shape[-1]:
        raise ValueError(f"the motion basis Q must be (D, M) with D = {latents.shape[-1]} (the motion's width), "
                         f"got {tuple(basis.shape)}: pass pipe.basis() of the model that sampled the motion")
    return basis.to(latents.device, latents.dtype)


def project(latents: torch.Tensor, basis: torch.Tensor) -> MotionCoefficients:
    """Motion latents r (..., D) -> coefficients c = r Q and residual e = r - c Q^T."""
    basis = _check_basis(latents, basis)
    coefficients = latents @ basis
    return MotionCoefficients(coefficients, latents - coefficients @ basis.T)


def reconstruct(parts: MotionCoefficients, basis: torch.Tensor) -> torch.Tensor:
    """Coefficients and residual -> motion latents c Q^T + e (inverse of `project`)."""
    basis = _check_basis(parts.residual, basis)
    return parts.coefficients @ basis.T + parts.residual


def reference_coefficients(motion: Motion, basis: torch.Tensor) -> torch.Tensor:
    """c_s = r_s Q (B, M): the portrait's own pose on the basis."""
    return motion.reference.to(motion.latents.dtype) @ _check_basis(motion.latents, basis)


def direction_energy(motion: Motion, basis: torch.Tensor) -> torch.Tensor:
    """Per-direction motion energy (B, M): the variance over time of each coefficient.

    High values mark the directions that move most in this clip (head sway, mouth opening...).
    A clip of one frame has no motion: all zeros.
    """
    coefficients = project(motion.latents, basis).coefficients
    if coefficients.shape[1] < 2:
        return torch.zeros(coefficients.shape[0], coefficients.shape[2])
    return coefficients.var(dim=1, unbiased=False)


def energy_report(motion: Motion, basis: torch.Tensor, top: int | None = None) -> str:
    """A readable table of `direction_energy`, strongest direction first, with each one's share."""
    energy = direction_energy(motion, basis).mean(dim=0)
    total = float(energy.sum())
    order = torch.argsort(energy, descending=True).tolist()[: top or None]
    lines = [f"{motion.num_frames} frames at {motion.fps:g} fps, {motion.latents.shape[0]} clip(s); "
             f"motion energy (variance of each basis coefficient over time), strongest first:"]
    for rank, index in enumerate(order, start=1):
        share = 100.0 * float(energy[index]) / total if total > 0 else 0.0
        lines.append(f"{rank:2d}. direction {index:2d}: {float(energy[index]):.6g} ({share:5.1f}%)")
    residual = project(motion.latents, basis).residual
    lines.append(f"residual outside the basis: mean norm {float(residual.norm(dim=-1).mean()):.4g}")
    return "\n".join(lines)


# ------------------------------------------------------------------ intensity

def scale_intensity(motion: Motion, strength: float) -> Motion:
    """m' = r_s + lambda (m - r_s): lambda = 1 is the motion itself, 0 freezes it at the reference pose
    r_s, values above 1 exaggerate it."""
    if strength == 1.0:
        return replace(motion, latents=motion.latents.clone())
    if strength == 0.0:
        return replace(motion, latents=_reference_frames(motion).clone())
    reference = _reference_frames(motion)
    return replace(motion, latents=reference + strength * (motion.latents - reference))


def _reference_frames(motion: Motion) -> torch.Tensor:
    """r_s broadcast to the motion's (B, T, D)."""
    reference = motion.reference.to(motion.latents.device, motion.latents.dtype)
    return reference[:, None].expand_as(motion.latents)


def gain_vector(gains: dict[int, float] | Sequence[float] | torch.Tensor, directions: int) -> torch.Tensor:
    """{direction: gain} or a full list -> a (M,) gain tensor (missing directions keep gain 1)."""
    if isinstance(gains, dict):
        vector = torch.ones(directions)
        for index, gain in gains.items():
            if not 0 <= int(index) < directions:
                raise ValueError(f"direction {index} does not exist: the basis has directions 0 to {directions - 1}")
            vector[int(index)] = float(gain)
        return vector
    vector = torch.as_tensor(gains, dtype=torch.float32).flatten()
    if vector.numel() != directions:
        raise ValueError(f"expected {directions} gains (one per basis direction), got {vector.numel()}")
    return vector


def scale_directions(motion: Motion, basis: torch.Tensor,
                     gains: dict[int, float] | Sequence[float] | torch.Tensor) -> Motion:
    """Per-direction intensity: c' = c_s + g (c - c_s) in coefficient space, the residual untouched.

    Written as m' = m + ((g - 1)(c - c_s)) Q^T, so gains of 1 add exact zeros.
    """
    basis = _check_basis(motion.latents, basis)
    gain = gain_vector(gains, basis.shape[1]).to(motion.latents.device, motion.latents.dtype)
    if bool((gain == 1).all()):
        return replace(motion, latents=motion.latents.clone())
    offset = project(motion.latents, basis).coefficients - reference_coefficients(motion, basis)[:, None]
    return replace(motion, latents=motion.latents + ((gain - 1) * offset) @ basis.T)


# ------------------------------------------------------------------ smoothing over time

def gaussian_weights(sigma: float, radius: int) -> torch.Tensor:
    """Normalised Gaussian weights for offsets -radius..radius (frames)."""
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    weights = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return (weights / weights.sum()).float()


def _neighbour(latents: torch.Tensor, offset: int, edge: str) -> torch.Tensor:
    """Frame t + offset for every t, beyond the ends by reflection, by repeating the end frame, or by
    point reflection through the end frame (2 m_end - m_mirror, which keeps the end frames in place)."""
    frames = latents.shape[1]
    index = torch.arange(frames) + offset
    mirrored = torch.where(index < 0, -index, torch.where(index >= frames, 2 * (frames - 1) - index, index))
    if edge == "edge":
        return latents[:, index.clamp(0, frames - 1)]
    taken = latents[:, mirrored]
    if edge == "reflect":
        return taken
    end = torch.where(index < 0, 0, frames - 1)
    outside = ((index < 0) | (index >= frames))[None, :, None]
    return torch.where(outside, 2 * latents[:, end] - taken, taken)


def smooth(motion: Motion, sigma: float, edge: str = "keep ends") -> Motion:
    """Gaussian smoothing over time, sigma in frames; the length is kept.

    Computed as m_t + sum_k w_k (m_{t+k} - m_t), which equals the weighted average (the weights sum
    to 1) but leaves a constant motion exactly constant. edge: "keep ends" (point reflection, and the
    first and last frames are kept exactly, so a smoothed clip still joins its neighbours), "reflect"
    or "edge" (repeat the end frame). sigma = 0 returns the motion unchanged.
    """
    if edge not in EDGE_MODES:
        raise ValueError(f"unknown edge handling {edge!r}; choose one of {', '.join(EDGE_MODES)}")
    if sigma < 0:
        raise ValueError(f"smoothing sigma must be 0 or more frames, got {sigma}")
    latents = motion.latents
    frames = latents.shape[1]
    radius = min(int(torch.ceil(torch.tensor(3.0 * sigma))), frames - 1)
    if sigma == 0 or radius < 1:
        return replace(motion, latents=latents.clone())
    weights = gaussian_weights(sigma, radius).to(latents.dtype)
    change = torch.zeros_like(latents)
    for k in range(-radius, radius + 1):
        if k:
            change += weights[k + radius] * (_neighbour(latents, k, edge) - latents)
    out = latents + change
    if edge == "keep ends":
        out[:, 0], out[:, -1] = latents[:, 0], latents[:, -1]
    return replace(motion, latents=out)


# ------------------------------------------------------------------ blending two motions

# Motion Speed keeps a motion's fps (it changes how fast it plays), so the advice names the node that
# changes the rate itself.
FRAME_RATE_ADVICE = ("convert one to the other's rate first with FLOAT Motion Frame Rate (Motion Speed keeps the "
                     "rate and would give this error again)")


def match_lengths(first: Motion, second: Motion, trim_to_shorter: bool = False) -> tuple[Motion, Motion]:
    """Both motions with the same frame count and rate, or a clear error."""
    if first.fps != second.fps:
        raise ValueError(f"the motions have different frame rates ({first.fps:g} and {second.fps:g} fps): "
                         f"{FRAME_RATE_ADVICE}")
    if first.num_frames != second.num_frames:
        if not trim_to_shorter:
            raise ValueError(f"the motions have different lengths ({first.num_frames} and {second.num_frames} "
                             "frames): trim one (Motion Trim), or turn on trim_to_shorter")
        frames = min(first.num_frames, second.num_frames)
        first = replace(first, latents=first.latents[:, :frames])
        second = replace(second, latents=second.latents[:, :frames])
    batch = (first.latents.shape[0], second.latents.shape[0])
    if batch[0] != batch[1] and 1 not in batch:
        raise ValueError(f"the motions have {batch[0]} and {batch[1]} clips: give the same number, or one clip")
    return first, second


def _weight_curve(weight: float | torch.Tensor, frames: int, like: torch.Tensor) -> torch.Tensor:
    """A scalar or a per-frame (T,) weight -> (1, T, 1) for broadcasting."""
    curve = torch.as_tensor(weight, dtype=like.dtype, device=like.device).flatten()
    if curve.numel() == 1:
        curve = curve.expand(frames)
    if curve.numel() != frames:
        raise ValueError(f"the blend curve has {curve.numel()} values but the motions have {frames} frames")
    return curve[None, :, None]


def blend(first: Motion, second: Motion, weight: float | torch.Tensor, trim_to_shorter: bool = False) -> Motion:
    """(1 - w) first + w second, with a scalar weight or one weight per frame.

    w = 0 gives the first motion exactly, w = 1 the second exactly (1 * a + 0 * b is exact in floats).
    The reference pose is blended with the mean weight (both motions normally share one portrait).
    """
    first, second = match_lengths(first, second, trim_to_shorter)
    a, b = torch.broadcast_tensors(first.latents, second.latents.to(first.latents))
    w = _weight_curve(weight, a.shape[1], a)
    mean = float(w.mean())
    ref_a, ref_b = torch.broadcast_tensors(first.reference, second.reference.to(first.reference))
    return Motion((1 - w) * a + w * b, first.fps, (1 - mean) * ref_a + mean * ref_b)


POLL_PARTS = 4096  # direction-list parts between two calls of `should_stop`


def _direction_number(text: str, part: str, directions: int) -> int:
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"cannot read direction {excerpt(part)}: write indices and ranges like '0, 3, 5-7' "
                         f"(0 to {directions - 1})")
    if len(text) > 6 or int(text) >= directions:  # length first: int() of a megabyte of digits is slow
        raise ValueError(f"direction {excerpt(text)} does not exist: the basis has directions 0 to {directions - 1}")
    return int(text)


def parse_directions(text: str, directions: int, should_stop: Callable[[], None] | None = None) -> list[int]:
    """"0, 3, 5-7" -> [0, 3, 5, 6, 7]; every index must be a basis direction.

    As in the emotion schedule, an open end runs to the end ('15-' = 15 to the last direction) and an
    open start from 0 ('-4' = 0 to 4); a range that runs backwards ('5-3') is refused, never read as
    nothing. Linear in the text's length; `should_stop` is called every POLL_PARTS parts (a caller
    that cancels raises from it).
    """
    chosen: dict[int, None] = {}  # ordered, with O(1) membership
    for number, part in enumerate(str(text).replace(";", ",").split(","), start=1):
        if should_stop is not None and number % POLL_PARTS == 0:
            should_stop()
        part = part.strip()
        if not part:
            continue
        low, dash, high = part.partition("-")
        if dash and not (low.strip() or high.strip()):
            raise ValueError(f"cannot read direction {excerpt(part)}: write indices and ranges like '0, 3, 5-7'")
        first = _direction_number(low, part, directions) if low.strip() or not dash else 0
        last = first if not dash else (_direction_number(high, part, directions) if high.strip() else directions - 1)
        if last < first:
            raise ValueError(f"the range {excerpt(part)} runs backwards: write the lower direction first, e.g. "
                             f"'{last}-{first}'")
        chosen.update(dict.fromkeys(range(first, last + 1)))
    return list(chosen)


def mix_directions(base: Motion, donor: Motion, basis: torch.Tensor, directions: Sequence[int],
                   trim_to_shorter: bool = False) -> Motion:
    """The chosen directions' coefficients from `donor`, everything else (other directions and the
    residual) from `base`: m = base + ((c_donor - c_base) * mask) Q^T.

    E.g. lips from the speech take, head motion from another take. No direction chosen gives `base`
    exactly; choosing all directions gives donor's coefficients with base's residual.
    """
    base, donor = match_lengths(base, donor, trim_to_shorter)
    basis = _check_basis(base.latents, basis)
    mask = torch.zeros(basis.shape[1], dtype=base.latents.dtype, device=base.latents.device)
    mask[list(directions)] = 1
    a, b = torch.broadcast_tensors(base.latents, donor.latents.to(base.latents))
    if not directions:
        return Motion(a.clone(), base.fps, base.reference.clone())
    delta = (project(b, basis).coefficients - project(a, basis).coefficients) * mask
    reference = base.reference.expand(a.shape[0], -1).clone()
    return Motion(a + delta @ basis.T, base.fps, reference)
