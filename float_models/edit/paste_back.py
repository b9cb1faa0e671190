"""Paste FLOAT's animated square crop back into the original full-resolution picture.

The crop box (`types.CropBox`, made by the face crop) says where the square came from: columns [left, left + size) and
rows [top, top + size) of the source, possibly reaching outside it (the crop was padded with black
there). Each animated frame (S x S) is resized to size x size and blended into a copy of the original
through a feathered mask: 1 inside, falling linearly to 0 over `feather` pixels towards the square's
edges that lie inside the picture (edges at or beyond the picture's border are not feathered, there is
nothing to blend with). With feather 0 the square is replaced exactly; outside it the picture is never
touched. Works on float images (H, W, C) in [0, 1], frames in chunks sized by the box, blended in place,
so the memory beyond the output stays near CHUNK_BYTES (`paste_memory` gives the estimate).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ..types import CropBox


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


# Bytes of resized frames handled at once: the chunk shrinks for large boxes (a 2400 px box is 69 MB
# per float frame), so the working memory stays near this whatever the box size.
CHUNK_BYTES = 256 * 2**20
MAX_CHUNK = 16


def chunk_frames(box_size: int, channels: int = 3) -> int:
    """Frames resized and blended at once for a box of this size."""
    return int(max(1, min(MAX_CHUNK, CHUNK_BYTES // max(1, box_size * box_size * channels * 4))))


def paste_memory(frames: int, height: int, width: int, channels: int, box_size: int,
                 frame_size: int) -> tuple[int, int]:
    """(output bytes, working bytes) that pasting `frames` animated frames of frame_size x frame_size into
    an H x W picture with a crop box of `box_size` needs beyond its inputs: the float32 output, and per
    chunk the frames resized to the box plus the resizer's copy of its input, both counted twice: twice
    what was measured (25 frames of 512 px into 2000x1500 with a 1200 px box: 272 MB above the output,
    613 MB counted; with a 300 px box, 53 MB above it, 135 MB counted)."""
    output = frames * height * width * channels * 4
    chunk = min(frames, chunk_frames(box_size, channels))
    working = 2 * chunk * (box_size * box_size + frame_size * frame_size) * channels * 4
    return output, working


def paste_back(frames: torch.Tensor, original: torch.Tensor, box: CropBox, feather: int = 0,
               chunk: int | None = None, callback: Callable[[int, int], None] | None = None,
               out: torch.Tensor | None = None) -> torch.Tensor:
    """Animated crops (N, S, S, C) + original picture (H, W, C) or one per frame (N, H, W, C) ->
    full pictures (N, H, W, C) float32, the crop square replaced (blended at the feathered edges).

    chunk: frames resized at once (default: by the box size, see `chunk_frames`); out: an (N, H, W, C)
    float32 tensor to write into instead of a new one (a caller joining clips avoids a second copy).
    Memory beyond the inputs and the output: `paste_memory(...)[1]`."""
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
    if out is None:
        out = original.expand(total, -1, -1, -1).clone()
    else:
        out.copy_(original.expand(total, -1, -1, -1))
    visible = box.visible()
    if visible is None:
        return out
    x0, y0, x1, y1 = visible
    mask = feather_mask(box, feather)[y0 - box.top:y1 - box.top, x0 - box.left:x1 - box.left, None]
    chunk = chunk or chunk_frames(box.size, frames.shape[-1])
    for start in range(0, total, chunk):
        part = resize_frames(frames[start:start + chunk], box.size)
        region = out[start:start + chunk, y0:y1, x0:x1]  # a view of the output: blended in place
        # region + mask * (inside - region) with no temporary; exact where the mask is 0 or 1
        region.lerp_(part[:, y0 - box.top:y1 - box.top, x0 - box.left:x1 - box.left], mask)
        del part
        if callback is not None:
            callback(min(start + chunk, total), total)
    return out
