"""Save and load FLOAT motion latents r->D as safetensors files.

A file holds `latents` (B, T, D) float32, `reference` r_s (B, D) and the basis weight it was made
with (`direction_weight`, the motion auto-encoder's `dec.direction.weight`, D x M), plus metadata:
format name and version, fps, frame count and a short fingerprint of that basis weight.

Motion latents only mean something with the basis they were sampled for, so loading checks the
model: the same fingerprint passes; a different fingerprint passes only when the stored basis
weight equals this model's to within half precision (the same checkpoint loaded as fp16/bf16);
anything else is refused. Files are written whole or not at all (temp file, then rename).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save

from ..partfiles import discard, output_target, part_path
from ..settings import SettingError, check_fps
from ..types import Motion

FORMAT = "floatkit-motion"
VERSION = "1"
EXTENSION = ".safetensors"
MAX_LATENT = 1e4  # sampled latents stay within a few units; 1e30 would overflow the decoder to NaN
_SAME_BASIS_TOLERANCE = 1e-2  # relative to the weight's largest magnitude: fp16/bf16 rounding is below


class MotionFileError(ValueError):
    """A motion file that cannot be used: not a FloatKit motion, damaged, or made for another model."""


def basis_fingerprint(direction_weight: torch.Tensor) -> str:
    """sha256 of the basis weight as contiguous float32 bytes, first 16 hex digits."""
    data = direction_weight.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
    return hashlib.sha256(data).hexdigest()[:16]


def save_motion(motion: Motion, path: str | os.PathLike, direction_weight: torch.Tensor) -> Path:
    """Write `motion` with the basis it belongs to; the file appears whole or not at all."""
    path = Path(path)
    _check_savable(motion)
    weight = direction_weight.detach().to("cpu", torch.float32).contiguous()
    tensors = {"latents": motion.latents.detach().to("cpu", torch.float32).contiguous(),
               "reference": motion.reference.detach().to("cpu", torch.float32).contiguous(),
               "direction_weight": weight}
    metadata = {"format": FORMAT, "version": VERSION, "fps": repr(float(motion.fps)),
                "frames": str(motion.num_frames), "clips": str(int(motion.latents.shape[0])),
                "basis_fingerprint": basis_fingerprint(weight)}
    path = output_target(path)  # a symbolic link's target is replaced, never the link; a pipe is refused
    path.parent.mkdir(parents=True, exist_ok=True)
    # Removed at interpreter exit too, if a signal stops the write.
    temp = part_path(path, ".tmp")
    try:
        save_file(tensors, temp, metadata=metadata)
        os.replace(temp, path)
    finally:
        discard(temp)
    return path



def _check_savable(motion: Motion) -> None:
    """Refuse what Load Motion would refuse (NaN or absurd latents from an upstream edit), before writing."""
    try:
        check_latents(motion.latents, motion.reference, None, "the motion")
    except MotionFileError as err:
        raise MotionFileError(str(err).replace("save the motion again", "it cannot be saved; fix the node that made "
                                               "it (NaN usually comes from NaN or absurd emotion or edit values)")
                              ) from None


def save_file(tensors: dict[str, torch.Tensor], path: str | os.PathLike, metadata: dict[str, str]) -> None:
    """safetensors' save_file through open(), so the file gets the usual mode of ComfyUI's outputs
    (0644 under umask 022) instead of the 0600 that safetensors' own writer gives."""
    with open(path, "wb") as handle:
        handle.write(save(tensors, metadata=metadata))


def read_motion_file(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and metadata of a FloatKit motion file, or MotionFileError saying what is wrong."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except FileNotFoundError:
        raise
    except Exception as err:  # safetensors raises its own error types for damaged headers
        raise MotionFileError(f"{path} is not a readable safetensors file ({err}); save the motion again "
                              "with Save Motion") from None
    if metadata.get("format") != FORMAT or not {"latents", "reference"} <= set(tensors):
        raise MotionFileError(f"{path} is not a FloatKit motion file (no '{FORMAT}' format tag or no latents): "
                              "choose a file written by Save Motion")
    if metadata.get("version") != VERSION:
        raise MotionFileError(f"{path} is motion format version {metadata.get('version')!r}; this FloatKit reads "
                              f"version {VERSION}: update FloatKit or save the motion again")
    return tensors, metadata


def check_basis(tensors: dict[str, torch.Tensor], metadata: dict[str, str], direction_weight: torch.Tensor,
                path: str | os.PathLike = "the motion file") -> None:
    """Refuse motion made for another motion basis (another checkpoint)."""
    ours = basis_fingerprint(direction_weight)
    theirs = metadata.get("basis_fingerprint")
    if theirs == ours:
        return
    stored = tensors.get("direction_weight")
    current = direction_weight.detach().to("cpu", torch.float32)
    if stored is not None and stored.shape == current.shape:
        scale = float(current.abs().max()) or 1.0
        if float((stored - current).abs().max()) <= _SAME_BASIS_TOLERANCE * scale:
            return  # the same checkpoint at another precision
    raise MotionFileError(
        f"{path} was made with a different FLOAT model (motion basis {theirs}, this model's is {ours}): motion "
        "latents only mean something with the model that made them. Load the checkpoint it was saved with, "
        "or sample the motion again with this model")


def load_motion(path: str | os.PathLike, direction_weight: torch.Tensor | None = None) -> Motion:
    """Read a motion file; with `direction_weight`, refuse a file made for a different basis."""
    tensors, metadata = read_motion_file(path)
    if direction_weight is not None:
        check_basis(tensors, metadata, direction_weight, path)
    try:
        fps = check_fps(metadata.get("fps"), "fps")
    except SettingError as err:
        raise MotionFileError(f"{path} has no valid fps in its metadata ({err}): save the motion again") from None
    latents, reference = tensors["latents"], tensors["reference"]
    if latents.dim() != 3 or reference.dim() != 2 or reference.shape[0] != latents.shape[0]:
        raise MotionFileError(f"{path} holds latents {tuple(latents.shape)} and reference {tuple(reference.shape)}, "
                              "not (clips, frames, D) and (clips, D): save the motion again")
    width = None if direction_weight is None else int(direction_weight.shape[0])
    check_latents(latents, reference, width, path)
    return Motion(latents, fps, reference)


def check_latents(latents: torch.Tensor, reference: torch.Tensor, width: int | None,
                  path: str | os.PathLike = "the motion file") -> None:
    """Finite float latents of the model's width (D), at least one frame and one clip."""
    for name, tensor in (("latents", latents), ("reference", reference)):
        if not tensor.is_floating_point():
            raise MotionFileError(f"{path}: its {name} are {tensor.dtype}, not floats: save the motion again")
        if width is not None and tensor.shape[-1] != width:
            raise MotionFileError(f"{path}: its {name} are {tensor.shape[-1]} wide, this model's motion is {width} "
                                  "wide: load the model that made it, or save the motion again")
        if tensor.numel() and not bool(torch.isfinite(tensor).all()):
            raise MotionFileError(f"{path}: its {name} hold NaN or infinite values: save the motion again")
        if tensor.numel() and float(tensor.abs().max()) > MAX_LATENT:
            raise MotionFileError(f"{path}: its {name} reach {float(tensor.abs().max()):.3g}, far beyond any motion "
                                  f"(|value| <= {MAX_LATENT:g}): the file is damaged; save the motion again")
    if latents.shape[0] < 1 or latents.shape[1] < 1:
        raise MotionFileError(f"{path} holds {latents.shape[1]} frames in {latents.shape[0]} clips: a motion needs "
                              "at least one frame; save the motion again")
