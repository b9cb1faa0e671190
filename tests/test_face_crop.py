"""The official FLOAT face crop (float_models.app.face_crop): arithmetic, padding, detector, image kinds."""

from __future__ import annotations

from pathlib import Path

import cv2  # a runtime dependency of the crop, so no skip: a missing OpenCV must fail here
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from float_models.app.face_crop import (
    CropBox, DetectorUnavailableError, FaceBox, HaarFaceDetector, NoFaceError, apply_crop, as_rgb_image,
    crop_box_for_face, crop_portrait, detect_faces)

PORTRAIT = Path(__file__).resolve().parents[1] / "assets" / "portrait.png"


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    image = cv2.imread(str(PORTRAIT), cv2.IMREAD_COLOR)
    assert image is not None, f"missing {PORTRAIT}"
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class FixedDetector:
    """Returns given boxes (in detection-image pixels) and records the image it was shown."""

    name = "fixed"

    def __init__(self, *faces: FaceBox) -> None:
        self.faces, self.seen = list(faces), []

    def __call__(self, image: np.ndarray) -> list[FaceBox]:
        self.seen.append(image.shape)
        return list(self.faces)


def official_crop(image: np.ndarray, box: CropBox) -> np.ndarray:
    """The official way, independently: pad by half the side with black, slice from the centre."""
    half = box.size // 2
    padded = np.pad(image, ((half, half), (half, half)) + ((0, 0),) * (image.ndim - 2))
    my, mx = box.top + half, box.left + half
    return padded[my:my + 2 * half, mx:mx + 2 * half]


# --- crop arithmetic, by hand -------------------------------------------------------------------

def test_crop_box_matches_hand_computation():
    # bsy = int(120/2) = 60, bsx = 50, my = 110, mx = 150, bs = int(60*1.6) = 96
    box = crop_box_for_face(FaceBox(100, 50, 200, 170, 0.99), 400, 300)
    assert box == CropBox(left=54, top=14, size=192, source_width=400, source_height=300)


def test_crop_box_truncates_like_the_official_code():
    # bsy = int(31/2) = 15, bsx = int(29/2) = 14, my = int(35.5) = 35, mx = int(25.5) = 25, bs = int(24.0) = 24
    box = crop_box_for_face(FaceBox(11, 20, 40, 51, 0.99), 64, 64)
    assert (box.left, box.top, box.size) == (1, 11, 48)
    # margin 2.0: bs = int(15*2) = 30
    assert crop_box_for_face(FaceBox(11, 20, 40, 51, 0.99), 64, 64, margin=2.0).size == 60
    # bs = int(13*1.6) = int(20.8) = 20, not 21
    assert crop_box_for_face(FaceBox(0, 0, 26, 26, 0.99), 64, 64) == CropBox(-7, -7, 40, 64, 64)


def test_face_at_the_border_shows_black_padding():
    image = np.full((80, 100, 3), 200, np.uint8)
    # bsy = bsx = 10, my = mx = 10, bs = 16: the square starts 6 px above and left of the image
    box = crop_box_for_face(FaceBox(0, 0, 20, 20, 0.99), 100, 80)
    assert (box.left, box.top, box.size) == (-6, -6, 32)
    assert box.visible() == (0, 0, 26, 26)
    crop = apply_crop(image, box, size=32)
    assert crop.shape == (32, 32, 3)
    assert (crop[:6] == 0).all() and (crop[:, :6] == 0).all()
    assert (crop[6:, 6:] == 200).all()


@settings(max_examples=60, deadline=None)
@given(height=st.integers(1, 40), width=st.integers(1, 40), x=st.integers(-10, 45), y=st.integers(-10, 45),
       w=st.integers(2, 30), h=st.integers(2, 30), margin=st.sampled_from([1.2, 1.6, 2.0]))
def test_apply_crop_equals_official_pad_and_slice(height, width, x, y, w, h, margin):
    rng = np.random.default_rng(height * 1000 + width)
    image = rng.integers(1, 256, (height, width, 3), dtype=np.uint8)
    box = crop_box_for_face(FaceBox(x, y, x + w, y + h, 0.99), width, height, margin)
    # The official slice is only a full square when the centre lies within the image.
    if 0 <= box.left + box.size // 2 <= width and 0 <= box.top + box.size // 2 <= height:
        np.testing.assert_array_equal(apply_crop(image, box, size=box.size), official_crop(image, box))


@pytest.mark.parametrize("height, flag", [(400, cv2.INTER_AREA), (360, cv2.INTER_CUBIC), (200, cv2.INTER_CUBIC)])
def test_resize_follows_the_original_height(height, flag):
    image = np.random.default_rng(0).integers(0, 256, (height, 300, 3), dtype=np.uint8)
    box = CropBox(left=10, top=20, size=100, source_width=300, source_height=height)
    expected = cv2.resize(image[20:120, 10:110], (64, 64), interpolation=flag)
    np.testing.assert_array_equal(apply_crop(image, box, size=64), expected)


def test_apply_crop_keeps_float_range_and_channels():
    image = np.random.default_rng(1).random((50, 60, 1)).astype(np.float32)
    out = apply_crop(image, CropBox(-5, -5, 30, 60, 50), size=97)
    assert out.shape == (97, 97, 1) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= image.max()


def test_apply_crop_refuses_an_image_of_another_size():
    with pytest.raises(ValueError, match="same size"):
        apply_crop(np.zeros((10, 10, 3), np.uint8), CropBox(0, 0, 4, 20, 10))


# --- detection scale and the pluggable detector -------------------------------------------------

def test_detection_runs_at_360_px_and_maps_back_with_int():
    detector = FixedDetector(FaceBox(50.7, 30.2, 100.9, 80.0, 0.97))
    faces = detect_faces(np.zeros((720, 1000, 3), np.uint8), detector)
    assert detector.seen == [(360, 500, 3)]  # mult = 0.5
    assert faces == [FaceBox(101, 60, 201, 160, 0.97)]  # int(50.7/0.5) = 101, int(60.4) = 60, ...


def test_huge_and_tiny_images_are_detected_at_360_px():
    for shape in [(4000, 3000, 3), (30, 90, 3), (5000, 300, 3)]:  # thin strips: test_hostile_memory.py
        detector = FixedDetector()
        detect_faces(np.zeros(shape, np.uint8), detector)
        mult = 360 / shape[0]
        assert detector.seen == [(360, max(1, round(shape[1] * mult)), 3)]


def test_no_face_raises_an_actionable_error():
    with pytest.raises(NoFaceError, match="No face found in the 300x200 image.*turn face cropping off"):
        crop_portrait(np.full((200, 300, 3), 128, np.uint8))
    with pytest.raises(NoFaceError):
        crop_portrait(np.zeros((64, 64, 3), np.uint8), detector=FixedDetector())


def test_several_faces_use_the_largest_and_say_so():
    small, large = FaceBox(10, 10, 40, 40, 0.99), FaceBox(200, 50, 300, 150, 0.96)
    crop, box, info = crop_portrait(np.zeros((360, 400, 3), np.uint8), detector=FixedDetector(large, small))
    assert info.faces_found == 2 and info.face == large and info.face_used == 1  # faces numbered left to right
    assert "2 faces found; used the largest" in info.message
    assert "face_index" not in info.message and "face_index" in info.hint  # callers choose whether to show it
    assert box == crop_box_for_face(large, 400, 360) and crop.shape == (512, 512, 3)
    _, box0, info0 = crop_portrait(np.zeros((360, 400, 3), np.uint8), face_index=0,
                                   detector=FixedDetector(large, small))
    assert info0.face == small and box0 == crop_box_for_face(small, 400, 360)
    with pytest.raises(ValueError, match="face_index 2 asked for, but 2 face"):
        crop_portrait(np.zeros((360, 400, 3), np.uint8), face_index=2, detector=FixedDetector(large, small))


def test_missing_cascade_is_reported_clearly():
    with pytest.raises(DetectorUnavailableError, match="no Haar face cascade 'no_such_cascade.xml'.*CenterFace"):
        HaarFaceDetector(cascade="no_such_cascade.xml")


# --- the real detector on the bundled portrait --------------------------------------------------

def test_detector_finds_the_face_in_the_example_portrait(portrait):
    crop, box, info = crop_portrait(portrait)
    assert info.faces_found == 1 and info.face.score > 0.8 and info.detector == "centerface"
    face = info.face
    # The example is itself a FLOAT crop: the face sits in the middle and its box is side/1.6 = 320 px.
    assert abs((face.x1 + face.x2) / 2 - 256) < 30 and abs((face.y1 + face.y2) / 2 - 256) < 40
    assert 280 < face.width < 360
    assert crop.shape == (512, 512, 3) and crop.dtype == np.uint8


def test_real_detector_picks_the_largest_of_two_faces(portrait):
    canvas = np.full((400, 700, 3), 230, np.uint8)
    canvas[50:306, 20:276] = cv2.resize(portrait, (256, 256), interpolation=cv2.INTER_AREA)
    canvas[20:380, 320:680] = cv2.resize(portrait, (360, 360), interpolation=cv2.INTER_AREA)
    _, box, info = crop_portrait(canvas)
    assert info.faces_found == 2 and info.face_used == 1
    assert 320 < box.left + box.size / 2 < 680


def test_huge_non_square_image(portrait):
    # The face (about 14% of the height) is found on the 360-px copy and located in full-size pixels.
    canvas = np.full((2400, 3600, 3), 90, np.uint8)
    canvas[1000:1512, 2500:3012] = portrait
    _, box, info = crop_portrait(canvas)
    assert info.faces_found == 1 and box.source_width == 3600
    assert 2500 < box.left + box.size / 2 < 3012 and 1000 < box.top + box.size / 2 < 1512


def test_tiny_image_still_works(portrait):
    tiny = cv2.resize(portrait, (64, 64), interpolation=cv2.INTER_AREA)
    crop, box, _ = crop_portrait(tiny, size=128)
    assert crop.shape == (128, 128, 3) and box.source_width == 64


# --- image kinds ---------------------------------------------------------------------------------

def test_grayscale_and_rgba_are_adapted(portrait):
    gray = cv2.cvtColor(portrait, cv2.COLOR_RGB2GRAY)
    assert as_rgb_image(gray).shape == (512, 512, 3)
    assert as_rgb_image(gray[:, :, None]).shape == (512, 512, 3)
    crop_gray, _, info = crop_portrait(gray)
    assert info.faces_found == 1 and crop_gray.shape == (512, 512, 3)
    assert (crop_gray[..., 0] == crop_gray[..., 2]).all()
    rgba = np.concatenate([portrait, np.zeros_like(portrait[..., :1])], axis=2)
    crop_rgba, box_rgba, _ = crop_portrait(rgba)
    crop_rgb, box_rgb, _ = crop_portrait(portrait)
    assert box_rgba == box_rgb
    np.testing.assert_array_equal(crop_rgba, crop_rgb)


def test_float_and_torch_images_give_the_same_crop(portrait):
    crop_u8, box_u8, _ = crop_portrait(portrait)
    crop_f, box_f, _ = crop_portrait(torch.from_numpy(portrait.astype(np.float32) / 255))
    assert crop_portrait(torch.from_numpy(portrait).to(torch.bfloat16) / 255)[1] == box_u8
    assert box_f == box_u8 and crop_f.dtype == np.float32
    assert 0.0 <= crop_f.min() and crop_f.max() <= 1.0
    assert np.abs(crop_f * 255 - crop_u8).max() <= 1.0


@pytest.mark.parametrize("image, message", [
    (np.full((8, 8, 3), 255.0), r"\[0, 1\].*divide 0-255 data by 255"),
    (np.zeros((8, 8, 3), np.int32), "uint8"),
    (np.zeros((2, 8, 8, 3), np.uint8), "crop each image separately"),
    (np.zeros((8, 8, 2), np.uint8), "shape"),
    (np.zeros((0, 8, 3), np.uint8), "empty"),
])
def test_bad_images_are_refused_clearly(image, message):
    with pytest.raises(ValueError, match=message):
        crop_portrait(image, detector=FixedDetector())
