"""Live preview (issue 24, item 6): the newest decoded frame reaches the node through ComfyUI's progress
preview while Decode Motion, Render Video and Animate to Video run, at most once per second.

The library's throttle runs on a stand-in clock; the nodes run on the tiny weights and the ComfyUI
stand-ins, whose progress hook encodes each preview the way ComfyUI's server does.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

import comfy_stubs
from test_nodes import sample_tiny, import_pack, inputs, models_home, pack  # noqa: F401  (shared fixtures)


class Clock:
    def __init__(self, *times):
        self.times = list(times)

    def __call__(self):
        return self.times.pop(0)


def test_first_frame_at_once_then_one_per_interval_by_the_clock():
    from float_models.preview import FramePreview

    shown = []
    preview = FramePreview(shown.append, every=1.0, clock=Clock(0.0, 0.5, 0.99, 1.0, 1.2, 2.5))  # one read per offer
    for value in range(6):
        preview.offer(torch.full((1, 2, 2, 3), value, dtype=torch.uint8), "pixels")
    assert [int(frame[0, 0, 0]) for frame in shown] == [0, 3, 5] and preview.shown == 3


def test_frames_not_shown_are_not_converted():
    from float_models.preview import FramePreview

    preview = FramePreview(lambda frame: None, every=10.0, clock=Clock(0.0, 1.0))
    preview.offer(torch.zeros(1, 2, 2, 3, dtype=torch.uint8), "pixels")
    preview.offer(torch.zeros(1, 2, 2, 3), "no such layout")  # not due: never looked at
    with pytest.raises(ValueError, match="layout must be"):
        FramePreview(lambda frame: None).offer(torch.zeros(1, 2, 2, 3), "no such layout")


def test_preview_pixels_match_the_video_and_are_small():
    from float_models.app.render import _to_pixels
    from float_models.preview import preview_pixels

    raw = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 1.5
    before = raw.clone()
    shown = preview_pixels(raw[-1], "raw")
    assert torch.equal(raw, before) and shown.is_contiguous()  # the decoder's frames are left as they were
    assert (shown.int() - _to_pixels(raw)[-1].int()).abs().max() <= 1  # what the video gets (rounding aside)
    unit = torch.rand(1080, 1920, 3)
    small = preview_pixels(unit, "unit")
    assert small.shape == (270, 480, 3) and small.dtype == torch.uint8  # every 4th pixel: longer side <= 512
    assert (small.int() - (unit[::4, ::4] * 255).to(torch.uint8).int()).abs().max() <= 1
    pixels = torch.randint(0, 256, (512, 512, 3), dtype=torch.uint8)
    assert torch.equal(preview_pixels(pixels, "pixels"), pixels)


@pytest.fixture(scope="module")
def made(models_home, inputs):
    comfy_stubs.install(models_home)
    import_pack()
    pipe, identity, _, motion = sample_tiny(inputs)
    return pipe, identity, motion


@pytest.fixture
def events(pack, monkeypatch):
    """The progress messages the node sends (every one: ComfyUI's update throttle off), with one preview
    per hour: however slow this machine, a run shows only its first frame unless a test says otherwise."""
    import comfy.utils
    from comfyui_floatkit.nodes import _comfy

    monkeypatch.setattr(_comfy, "PREVIEW_EVERY", 3600.0)
    monkeypatch.setattr(comfy.utils, "PROGRESS_THROTTLE_MIN_INTERVAL", 0)
    monkeypatch.setattr(comfy.utils, "PROGRESS_THROTTLE_MIN_PERCENT", 0)
    comfy_stubs.progress_events.clear()
    return comfy_stubs.progress_events


def previews(events):
    from PIL import Image

    return [Image.open(io.BytesIO(e["preview_bytes"])) for e in events if e["preview"] is not None]


def test_decode_shows_the_newest_frame_once_per_interval(pack, made, events, monkeypatch):
    from comfyui_floatkit.nodes import _comfy

    pipe, identity, motion = made
    decode = pack.NODE_CLASS_MAPPINGS["FloatKitDecode"]
    frames = decode.execute(pipe, identity, motion, 1)[0]  # 8 batches of one frame
    assert len(events) == 8 and events[0]["preview"] is not None  # the first frame shows at once
    shown = previews(events)
    assert len(shown) == 1 and shown[0].format == "JPEG" and shown[0].size == (64, 64)
    assert events[0]["preview"][0] == "JPEG" and events[0]["preview"][2] == 512
    first = (frames[0] * 255).to(torch.uint8).float()
    got = torch.tensor(np.asarray(shown[0].convert("RGB"))).float()
    assert (got - first).abs().mean() < 8  # the decoded frame, through JPEG

    events.clear()
    monkeypatch.setattr(_comfy, "PREVIEW_EVERY", 0.0)  # due at every batch: one preview per progress update
    decode.execute(pipe, identity, motion, 1)
    assert [e["preview"] is not None for e in events] == [True] * 8


def test_render_video_previews_the_pasted_frame(pack, made, events):
    from comfyui_floatkit.float_models.app.face_crop import CropBox

    pipe, identity, motion = made
    box = CropBox(left=30, top=10, size=70, source_width=600, source_height=450)
    pack.NODE_CLASS_MAPPINGS["FloatKitRenderVideo"].execute(
        pipe, identity, motion, crf=18, batch_size=4, original=torch.rand(1, 450, 600, 3), crop_box=(box,))
    shown = previews(events)
    assert len(shown) == 1 and events[0]["preview"] is not None
    assert shown[0].size == (300, 225)  # the full pasted frame, every 2nd pixel (longer side <= 512)


def test_animate_to_video_previews_too(pack, inputs, events):
    from comfyui_floatkit.nodes import models

    pack.NODE_CLASS_MAPPINGS["FloatKitAnimateToVideo"].execute(
        models.load("float.pth", "wav2vec2-base-960h", "none"), inputs["image"], inputs["audio"], emotion="neutral",
        face_crop=False, paste_back=False, a_cfg_scale=2.0, e_cfg_scale=1.0, r_cfg_scale=1.0, nfe=2, solver="euler",
        seed=1, crf=18, batch_size=2)
    shown = previews(events)
    assert len(shown) == 1 and shown[0].size == (64, 64)
