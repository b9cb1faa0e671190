"""Bad or unusual IMAGE inputs at the node level: every one gets a clear answer naming the node,
or a documented adaptation (grayscale and RGBA are converted, any size is resized)."""

from __future__ import annotations

import logging
import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from test_nodes import import_pack, inputs, models_home, pack  # noqa: F401  (shared fixtures)

ARGS = ("float.pth", "wav2vec2-base-960h", "none")


class FakeDetector:
    """Returns given faces (in the 360-px detection copy's pixels) and records what it was shown."""

    name = "fake"

    def __init__(self, *faces):
        self.faces, self.seen = faces, []

    def __call__(self, image):
        from comfyui_floatkit.float_models.app.face_crop import FaceBox

        self.seen.append(image.shape)
        return [FaceBox(*f, 1.0) for f in self.faces]


@pytest.fixture
def detector(monkeypatch, pack):
    from comfyui_floatkit.float_models.app import face_crop

    def use(*faces):
        fake = FakeDetector(*faces)
        monkeypatch.setattr(face_crop, "default_detector", lambda: fake)
        return fake

    return use


def nodes(pack):
    return pack.NODE_CLASS_MAPPINGS


def pipe():
    from comfyui_floatkit.nodes import models

    return models.load(*ARGS)


def test_grayscale_and_rgba_encode_like_rgb(pack, inputs):
    encode = nodes(pack)["FloatKitEncodeImage"]
    rgb = inputs["image"]
    gray = rgb.mean(dim=-1, keepdim=True)
    rgba = torch.cat([rgb, torch.rand(*rgb.shape[:-1], 1)], dim=-1)
    base = encode.execute(pipe(), rgb)[0].latent
    assert torch.equal(encode.execute(pipe(), rgba)[0].latent, base)  # alpha is dropped
    assert torch.equal(encode.execute(pipe(), gray)[0].latent,
                       encode.execute(pipe(), gray.expand(*gray.shape[:-1], 3))[0].latent)


def test_two_channel_image_is_refused_with_the_node_name(pack, inputs):
    with pytest.raises(ValueError, match=r"^FLOAT Encode Portrait: expected an IMAGE .* 1, 3 or 4 channels"):
        nodes(pack)["FloatKitEncodeImage"].execute(pipe(), inputs["image"][..., :2])


def test_tiny_and_non_square_pictures_are_resized_and_a_batch_gives_one_identity_each(pack, inputs):
    encode = nodes(pack)["FloatKitEncodeImage"]
    tiny = torch.rand(1, 16, 16, 3, generator=torch.Generator().manual_seed(1))
    wide = torch.rand(2, 40, 90, 3, generator=torch.Generator().manual_seed(2))
    assert encode.execute(pipe(), tiny)[0].latent.shape[0] == 1
    identity = encode.execute(pipe(), wide)[0]
    assert identity.latent.shape[0] == 2 and torch.isfinite(identity.latent).all()


def test_no_face_names_the_node_and_suggests_no_crop(pack):
    flat = torch.full((1, 16, 16, 3), 0.5)  # tiny and blank: the real detector finds nothing
    with pytest.raises(ValueError, match=r"^FLOAT Crop Portrait: picture 0 of the batch: No face found.*'no crop'"):
        nodes(pack)["FloatKitCropPortrait"].execute(flat, "face crop", 1.6, 64)
    with pytest.raises(ValueError, match=r"^FLOAT Animate Portrait: picture 0 .*No face found"):
        nodes(pack)["FloatKitAnimate"].execute(pipe(), flat, {"waveform": torch.zeros(1, 1, 800),
                                                               "sample_rate": 16000},
                                               "happy", True, 2.0, 1.0, 1.0, 2, "euler", 0)


def test_several_faces_use_the_largest_and_say_so(pack, detector, caplog):
    detector((10, 10, 40, 40), (200, 100, 320, 220))  # the second is larger
    picture = torch.rand(1, 360, 480, 3, generator=torch.Generator().manual_seed(3))
    with caplog.at_level(logging.WARNING):
        crops, boxes, _ = nodes(pack)["FloatKitCropPortrait"].execute(picture, "face crop", 1.6, 64)
    assert crops.shape == (1, 64, 64, 3)
    assert boxes[0].left > 100  # around the large face (x 200-320), not the small one (x 10-40)
    assert "2 faces found; used the largest" in caplog.text and "face_index" not in caplog.text


def test_face_at_the_border_is_padded_with_black(pack, detector):
    detector((0, 100, 80, 180))  # touching the left edge: the square reaches outside the picture
    picture = torch.ones(1, 360, 360, 3)
    crops, boxes, _ = nodes(pack)["FloatKitCropPortrait"].execute(picture, "face crop", 1.6, 64)
    assert boxes[0].left < 0
    assert crops[0, :, 0].max() == 0 and crops[0, 32, 40].min() == 1  # outside black, inside the picture


def test_huge_picture_is_detected_on_a_small_copy_with_sane_memory(pack, detector):
    fake = detector((50, 100, 80, 130))
    picture = torch.rand(1, 8000, 1200, 3, generator=torch.Generator().manual_seed(4))
    tracemalloc.start()
    try:
        crops, boxes, _ = nodes(pack)["FloatKitCropPortrait"].execute(picture, "face crop", 1.6, 64)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fake.seen == [(360, 54, 3)]  # the detector never sees the 8000-px picture
    assert crops.shape == (1, 64, 64, 3) and boxes[0].source_height == 8000
    assert peak < 2.5 * picture.numel() * 4  # (numpy) working copies stay within ~2 IMAGE sizes, none upscaled


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(1, 9), st.integers(1, 9), st.sampled_from([1, 3, 4]))
def test_image_converter_shapes_and_range(batch, height, width, channels):
    from comfyui_floatkit.nodes import convert

    import_pack()
    image = torch.rand(batch, height, width, channels) * 3 - 1  # out of range on purpose
    portraits = convert.image_to_portraits(image)
    assert portraits.shape == (batch, 3, height, width)
    assert portraits.min() >= -1 and portraits.max() <= 1
    pictures = convert.image_to_uint8(image)
    assert len(pictures) == batch and pictures[0].dtype == np.uint8 and pictures[0].shape == (height, width, 3)
    assert torch.allclose(convert.pictures_to_image(pictures), (portraits.permute(0, 2, 3, 1) + 1) / 2, atol=1 / 255)
