"""Paste FLOAT's animated square crop back into the original full-resolution picture.

The crop box (`face_crop.CropBox`) says where the square came from: columns [left, left + size) and
rows [top, top + size) of the source, possibly reaching outside it (the crop was padded with black
there). Each animated frame (S x S) is resized to size x size and blended into a copy of the original
through a feathered mask: 1 inside, falling linearly to 0 over `feather` pixels towards the square's
edges that lie inside the picture (edges at or beyond the picture's border are not feathered, there is
nothing to blend with). With feather 0 the square is replaced exactly; outside it the picture is never
touched. Works on float images (H, W, C) in [0, 1], frames in chunks so memory stays bounded on the CPU.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ..app.face_crop import CropBox


def feather_mask(box: CropBox, feather: int) -> torch.Tensor:
    """(size, size) float mask for the crop square: 1 in the middle, linear ramps of `feather` pixels
    at the edges that are inside the source picture."""
    size = box.size
    steps = torch.arange(size, dtype=torch.float32)
    if feather <= 0:
        return torch.ones(size, size)

    def ramp(inside_start: bool, inside_end: bool) -> torch.Tensor:
        near_start = (steps + 1) / feather if inside_start else torch.full_like(steps, float("inf"))
        near_end = (size - steps) / feather if inside_end else torch.full_like(steps, float("inf"))
        return torch.minimum(near_start, near_end).clamp(max=1.0)

    rows = ramp(box.top > 0, box.bottom < box.source_height)
    cols = ramp(box.left > 0, box.right < box.source_width)
    return torch.minimum(rows[:, None], cols[None, :])


def paste_mask(box: CropBox, feather: int = 0) -> torch.Tensor:
    """(H, W) float mask over the whole source picture: how much of each pixel `paste_back` takes from
    the animated frame (the feathered square, 0 outside it). With feather 0 it is the crop square itself."""
    mask = torch.zeros(box.source_height, box.source_width)
    visible = box.visible()
    if visible is not None:
        x0, y0, x1, y1 = visible
        mask[y0:y1, x0:x1] = feather_mask(box, feather)[y0 - box.top:y1 - box.top, x0 - box.left:x1 - box.left]
    return mask


def resize_frames(frames: torch.Tensor, size: int) -> torch.Tensor:
    """(N, H, W, C) -> (N, size, size, C); bilinear, antialiased when shrinking; same size: unchanged."""
    if frames.shape[1] == size and frames.shape[2] == size:
        return frames
    resized = F.interpolate(frames.permute(0, 3, 1, 2), size=(size, size), mode="bilinear", align_corners=False,
                            antialias=size < frames.shape[1])
    return resized.permute(0, 2, 3, 1)


def paste_back(frames: torch.Tensor, original: torch.Tensor, box: CropBox, feather: int = 0,
               chunk: int = 16, callback: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """Animated crops (N, S, S, C) + original picture (H, W, C) or one per frame (N, H, W, C) ->
    full pictures (N, H, W, C) float32, the crop square replaced (blended at the feathered edges)."""
    frames = frames.float()
    original = original.float()
    if original.dim() == 3:
        original = original[None]
    if frames.dim() != 4 or original.dim() != 4 or frames.shape[-1] != original.shape[-1]:
        raise ValueError(f"expected frames (N, S, S, C) and an original (H, W, C) with the same channels, got "
                         f"{tuple(frames.shape)} and {tuple(original.shape)}")
    if original.shape[0] not in (1, frames.shape[0]):
        raise ValueError(f"give one original picture, or one per frame: {original.shape[0]} originals for "
                         f"{frames.shape[0]} frames")
    height, width = original.shape[1:3]
    if (width, height) != (box.source_width, box.source_height):
        raise ValueError(f"the crop box was made on a {box.source_width}x{box.source_height} picture but the "
                         f"original is {width}x{height}: connect the picture that was cropped")
    total = frames.shape[0]
    out = original.expand(total, -1, -1, -1).clone()
    visible = box.visible()
    if visible is None:
        return out
    x0, y0, x1, y1 = visible
    mask = feather_mask(box, feather)[y0 - box.top:y1 - box.top, x0 - box.left:x1 - box.left, None]
    for start in range(0, total, chunk):
        part = resize_frames(frames[start:start + chunk], box.size)
        inside = part[:, y0 - box.top:y1 - box.top, x0 - box.left:x1 - box.left]
        region = out[start:start + chunk, y0:y1, x0:x1]
        out[start:start + chunk, y0:y1, x0:x1] = (1 - mask) * region + mask * inside
        if callback is not None:
            callback(min(start + chunk, total), total)
    return out
