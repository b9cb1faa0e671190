"""What one live preview costs, and so what share of a render the previews take.

    python bench/preview_cost.py [--repeat 50] [--every 1.0] [--render-frames 30] [--paste]

A preview is made at most once every `every` seconds (nodes/_comfy.py PREVIEW_EVERY), whatever the
render's speed, so its share of the render is at most (cost of one preview) / every. The cost of
one preview is timed here as ComfyUI pays it:
  node side (the render's own thread): float_models.preview.preview_pixels on the newest frame, then
    PIL.Image.fromarray (nodes/_comfy.py);
  server side (ComfyUI's event-loop thread, in parallel with the render, which matters on a CPU-only
    machine): ImageOps.contain to the preview size and the JPEG encoding at quality 95, as
    server.py send_image does.
Frames: a 512 px decoder frame ("raw", the Decode / Animate path), a 512 px uint8 frame (Render
Video), and 1920x1080 and 3840x2160 pasted frames ("unit", Render Video with paste-back).
Prints JSON: fastest and median milliseconds per part, and the share of a render at one preview per
`every` s (node + server: an upper bound, the server's part runs beside the render).

With --render-frames N it also renders N frames of the full-size decoder (rule-made weights,
bench/full_size.py) into an MP4 on the CPU, one frame per batch, with the previews' whole cost done
inline (the node's conversion and the server's resize and JPEG encoding, in the render's thread), and
reports the time spent in the previews as a share of that render's wall time: both are measured in
the same run, so the share holds however busy the machine is. --paste pastes into a 1920x1080 photo.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from float_models.preview import DEFAULT_MAX_SIDE, preview_pixels  # noqa: E402


def _times_ms(work, repeat: int) -> tuple[float, float]:
    """(fastest, median) milliseconds: on a shared machine the fastest is the cost, the median shows the load."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times) * 1000, statistics.median(times) * 1000


def measure(repeat: int = 50, every: float = 1.0) -> dict:
    from PIL import Image, ImageOps

    generator = torch.Generator().manual_seed(0)
    frames = {
        "decode 512 raw": (torch.randn(3, 512, 512, generator=generator), "raw"),
        "render 512 uint8": (torch.randint(0, 256, (512, 512, 3), dtype=torch.uint8, generator=generator), "pixels"),
        "paste 1920x1080": (torch.rand(1080, 1920, 3, generator=generator), "unit"),
        "paste 3840x2160": (torch.rand(2160, 3840, 3, generator=generator), "unit"),
    }
    results = {}
    for name, (frame, layout) in frames.items():
        image = Image.fromarray(preview_pixels(frame, layout).numpy())

        def server_side():
            shown = ImageOps.contain(image, (DEFAULT_MAX_SIDE, DEFAULT_MAX_SIDE), Image.Resampling.BILINEAR)
            shown.save(io.BytesIO(), format="JPEG", quality=95)

        node = _times_ms(lambda: Image.fromarray(preview_pixels(frame, layout).numpy()), repeat)
        server = _times_ms(server_side, repeat)
        results[name] = {"node_ms (fastest, median)": [round(t, 2) for t in node],
                         "server_ms (fastest, median)": [round(t, 2) for t in server],
                         "share_of_render_percent (fastest, median)": [
                             round((n + s) / (every * 1000) * 100, 3) for n, s in zip(node, server)]}
    return {"every_s": every, "threads": torch.get_num_threads(), "load_average": list(os.getloadavg()),
            "previews": results}


def measure_render(frames: int, every: float, paste: bool) -> dict:
    import tempfile

    from PIL import Image, ImageOps

    sys.path.insert(0, str(ROOT / "bench"))
    import full_size

    from float_models.app.face_crop import CropBox
    from float_models.app.render import PasteInto, render_video
    from float_models.pipeline import FloatPipeline
    from float_models.preview import FramePreview
    from float_models.types import Motion

    pipe = FloatPipeline(full_size.float_model(), full_size.small_tower(), None)
    generator = torch.Generator().manual_seed(0)
    side = pipe.config.input_size
    identity = pipe.encode_image(torch.rand(1, 3, side, side, generator=generator) * 2 - 1)
    motion = Motion(identity.motion[:, None] + 0.05 * torch.randn(1, frames, identity.motion.shape[-1],
                                                                    generator=generator), 25.0, identity.motion)
    into = None
    if paste:
        into = PasteInto((torch.rand(1080, 1920, 3, generator=generator),), (CropBox(700, 200, 600, 1920, 1080),), 16)

    def show(pixels: torch.Tensor) -> None:  # nodes/_comfy.py's part, then what ComfyUI's server does with it
        image = ImageOps.contain(Image.fromarray(pixels.numpy()), (DEFAULT_MAX_SIDE, DEFAULT_MAX_SIDE),
                                 Image.Resampling.BILINEAR)
        image.save(io.BytesIO(), format="JPEG", quality=95)

    spent = [0.0]

    class Timed(FramePreview):
        def offer(self, batch: torch.Tensor, layout) -> None:
            start = time.perf_counter()
            super().offer(batch, layout)
            spent[0] += time.perf_counter() - start

    preview = Timed(show, every)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        render_video(pipe, identity, motion, Path(folder) / "x.mp4", 25.0, batch_size=1, preview=preview, paste=into)
        total = time.perf_counter() - start
    return {"frames": frames, "paste_1920x1080": paste, "render_s": round(total, 2), "previews": preview.shown,
            "preview_s": round(spent[0], 4), "share_of_render_percent": round(spent[0] / total * 100, 3),
            "offers": frames}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--every", type=float, default=1.0, help="seconds between previews (the nodes' setting)")
    parser.add_argument("--render-frames", type=int, default=0, help="also time previews inside a full-size render")
    parser.add_argument("--paste", action="store_true", help="the render pastes into a 1920x1080 photo")
    args = parser.parse_args()
    result = measure(args.repeat, args.every)
    if args.render_frames:
        result["render"] = measure_render(args.render_frames, args.every, args.paste)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
