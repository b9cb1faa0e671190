"""The face crop's detectors (float_models.app.face_crop): the bundled CenterFace network under OpenCV 4.x and
5.x, its box geometry, the Haar fallback, and the error when no detector can run.

CI runs this file and tests/test_face_crop.py under OpenCV 4.x and again under a pinned OpenCV 5.x, so the
pinned boxes below are what both versions must give."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from float_models.app import face_crop
from float_models.app.face_crop import (
    CENTERFACE_MODEL, CenterFaceDetector, CropBox, DetectorUnavailableError, FaceBox, HaarFaceDetector,
    crop_portrait, detect_faces)

PORTRAIT = Path(__file__).resolve().parents[1] / "assets" / "portrait.png"
HAS_HAAR = hasattr(cv2, "CascadeClassifier") and hasattr(getattr(cv2, "data", None), "haarcascades")


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(PORTRAIT), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def two_faces(portrait: np.ndarray) -> np.ndarray:
    canvas = np.full((400, 700, 3), 230, np.uint8)
    canvas[50:306, 20:276] = cv2.resize(portrait, (256, 256), interpolation=cv2.INTER_AREA)
    canvas[20:380, 320:680] = cv2.resize(portrait, (360, 360), interpolation=cv2.INTER_AREA)
    return canvas


def near(box: CropBox, left: int, top: int, size: int, tolerance: int) -> bool:
    return all(abs(a - b) <= tolerance for a, b in [(box.left, left), (box.top, top), (box.size, size)])


def test_the_bundled_model_is_the_recorded_file():
    # face_models/NOTICE.md records where the file came from by this hash.
    assert hashlib.sha256(CENTERFACE_MODEL.read_bytes()).hexdigest() == (
        "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc")
    assert "09189deaaf8646c5" in (CENTERFACE_MODEL.parent / "NOTICE.md").read_text()


def test_crop_boxes_are_pinned_for_every_opencv(portrait):
    # Measured with OpenCV 4.5.5, 4.14 and 5.0 (identical there); 2 px of slack for other builds.
    _, box, info = crop_portrait(portrait)
    assert info.detector == "centerface" and near(box, -12, -22, 540, 2)
    _, box, info = crop_portrait(two_faces(portrait))
    assert info.faces_found == 2 and info.face_used == 1 and near(box, 303, 6, 392, 2)


def test_crops_stay_as_the_haar_detector_made_them(portrait):
    # The Haar detector (OpenCV 4) was fitted to the official crop; the example portrait was made with it
    # at left 5, top 0, side 514 (see assets/README.md: the portrait is its own crop, re-detected).
    # The fit keeps sides within 6% of Haar's and centres within 3% of the side.
    _, box, _ = crop_portrait(portrait)
    assert abs(box.size / 514 - 1) <= 0.06
    assert abs(box.left + box.size / 2 - (5 + 257)) <= 0.03 * 514 and abs(box.top + box.size / 2 - 257) <= 0.03 * 514


def test_a_network_keeps_one_input_shape(portrait):
    # Running one OpenCV network at several input shapes gave wrong heat maps; each shape has its own.
    detector = CenterFaceDetector()
    wide = np.zeros((360, 700, 3), np.uint8)
    wide[:, 300:660] = cv2.resize(portrait, (360, 360), interpolation=cv2.INTER_AREA)
    first = detect_faces(portrait, detector)
    detect_faces(wide, detector)
    assert detect_faces(portrait, detector) == first and len(first) == 1


def test_no_face_in_flat_or_noisy_images():
    detector = CenterFaceDetector()
    noise = np.random.default_rng(0).integers(0, 256, (360, 480, 3), dtype=np.uint8)
    for image in (np.full((360, 480, 3), 128, np.uint8), noise):
        assert detector(image) == []


def test_overlapping_boxes_keep_the_most_confident():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], np.float32)
    keep = face_crop._non_maximum_suppression(boxes, np.array([0.6, 0.9, 0.7]), max_iou=0.3)
    assert keep == [1, 2]  # box 0 overlaps box 1 with IoU 81/119


def test_a_missing_model_is_reported_clearly(tmp_path):
    with pytest.raises(DetectorUnavailableError, match="missing; reinstall FloatKit"):
        CenterFaceDetector(model=tmp_path / "centerface.onnx")
    (tmp_path / "broken.onnx").write_bytes(b"not a network")
    with pytest.raises(DetectorUnavailableError, match="cannot load the face detector broken.onnx"):
        CenterFaceDetector(model=tmp_path / "broken.onnx")


def test_no_detector_at_all_gives_one_clear_error(monkeypatch):
    def unavailable(*args, **kwargs):
        raise DetectorUnavailableError("OpenCV 9 has no DNN module, which the face detector needs.")

    monkeypatch.setattr(face_crop, "CenterFaceDetector", unavailable)
    monkeypatch.setattr(face_crop, "HaarFaceDetector", unavailable)
    face_crop.default_detector.cache_clear()
    try:
        with pytest.raises(DetectorUnavailableError, match="no DNN module"):
            crop_portrait(np.zeros((64, 64, 3), np.uint8))
    finally:
        face_crop.default_detector.cache_clear()


@pytest.mark.skipif(not HAS_HAAR, reason="this OpenCV has no Haar cascades (OpenCV 5 wheels dropped them)")
def test_haar_fallback_runs_where_opencv_has_it(portrait, monkeypatch):
    def unavailable(*args, **kwargs):
        raise DetectorUnavailableError("no DNN module")

    monkeypatch.setattr(face_crop, "CenterFaceDetector", unavailable)
    face_crop.default_detector.cache_clear()
    try:
        _, box, info = crop_portrait(portrait)
    finally:
        face_crop.default_detector.cache_clear()
    assert info.detector == HaarFaceDetector.name and near(box, 5, 0, 514, 2)


def test_a_custom_detector_still_plugs_in(portrait):
    class Fixed:
        name = "fixed"

        def __call__(self, image):
            return [FaceBox(100, 100, 200, 200, 1.0)]

    assert crop_portrait(portrait, detector=Fixed())[2].detector == "fixed"
