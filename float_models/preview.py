"""A look at the frames while they are made: the newest frame, now and then, for a host to show.

    preview = FramePreview(show, every=1.0)      # show(pixels): (h, w, 3) uint8 on the CPU
    pipe.decode(identity, motion, preview=preview)

The first frame offered is shown at once (the user sees the face early); after that at most one frame
every `every` seconds, by the clock, not by a frame count, so the cost stays the same share of the
work on a slow CPU and on a fast GPU. A frame is reduced to at most `max_side` pixels on its longer
side by taking every k-th pixel (a preview, not a picture to keep) before it is converted, so a
pasted 4K frame costs no more than a 512 px one; frames that are not shown are not converted at all.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Literal

import numpy as np
import torch

Layout = Literal["raw", "unit", "pixels"]
DEFAULT_EVERY = 1.0  # seconds between previews
DEFAULT_MAX_SIDE = 512  # ComfyUI shows node previews at about this size (its --preview-size default)


class FramePreview:
    """Hands `show` the newest frame offered, at most once every `every` seconds (the first at once)."""

    def __init__(self, show: Callable[[torch.Tensor], None], every: float = DEFAULT_EVERY,
                 max_side: int = DEFAULT_MAX_SIDE, clock: Callable[[], float] = time.monotonic) -> None:
        if not every >= 0:
            raise ValueError(f"every must be a number of seconds >= 0, got {every!r}")
        self.show, self.every, self.max_side, self.clock = show, float(every), int(max_side), clock
        self.last: float | None = None
        self.shown = 0

    def offer(self, frames: torch.Tensor, layout: Layout) -> None:
        """Frames of one batch, the newest last: "raw" decoder output (n, 3, H, W) in [-1, 1], "unit"
        pictures (n, H, W, 3) in [0, 1], or "pixels" (n, H, W, 3) uint8. Shows the last one when due."""
        now = self.clock()
        if self.last is not None and now - self.last < self.every:
            return
        self.last = now
        self.shown += 1
        self.show(preview_pixels(frames[-1], layout, self.max_side))


def preview_pixels(frame: torch.Tensor, layout: Layout, max_side: int = DEFAULT_MAX_SIDE) -> torch.Tensor:
    """One frame (layout as in `FramePreview.offer`, without the batch) -> (h, w, 3) uint8 on the CPU,
    its longer side at most `max_side` (every k-th pixel). Converted with NumPy in the frame's own
    layout, in place, and only the uint8 result reordered: torch spreads a small conversion over all
    its threads, which cost several times more on a busy CPU."""
    if layout not in ("raw", "unit", "pixels"):
        raise ValueError(f"layout must be 'raw', 'unit' or 'pixels', got {layout!r}")
    height, width = frame.shape[1:] if layout == "raw" else frame.shape[:2]
    step = max(1, math.ceil(max(height, width) / max_side))
    small = (frame[:, ::step, ::step] if layout == "raw" else frame[::step, ::step]).detach().to("cpu")
    if layout == "pixels":
        return small.contiguous()
    values = small.float().numpy()  # may share the frame's memory: the first step below makes a new array
    if layout == "raw":  # the display conversion: [-1, 1] to [0, 255], truncated as the video's pixels are
        scaled = values + 1.0
        scaled *= 127.5
    else:
        scaled = values * 255.0
    np.clip(scaled, 0, 255, out=scaled)
    pixels = scaled.astype(np.uint8)
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(1, 2, 0) if layout == "raw" else pixels))
