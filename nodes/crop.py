"""Crop a photo to the portrait FLOAT expects: the face centred in a square with a margin around it,
as the official preprocessing does (face box, enlarged by the margin, padded with black, resized)."""

from __future__ import annotations

import logging

import numpy as np
import torch
from comfy_api.latest import io, ui

from ..float_models.app.face_crop import (FaceIndexError, NoFaceError, apply_crop,  # OpenCV loads only to crop
                                          crop_portrait, draw_faces, whole_picture_box)
from ..float_models.edit.paste_back import paste_mask
from . import convert, sockets

FACE = "face crop"
NO_CROP = "no crop"
STOP, WHOLE = "stop", "use whole picture"  # the `on_missing_face` choices
log = logging.getLogger(__name__)


def crop_of(image, mode: str = FACE, margin: float = 1.6, size: int = 512, face: int = sockets.LARGEST_FACE):
    """IMAGE -> (IMAGE of square crops, tuple of CropBox, one per picture; None for "no crop")."""
    crops, boxes, _ = crop_pictures(image, mode, margin, size, face)
    return crops, boxes


def crop_pictures(image, mode: str = FACE, margin: float = 1.6, size: int = 512, face: int = sockets.LARGEST_FACE,
                  on_missing: str = STOP, previews: bool = False):
    """-> (IMAGE of crops, CropBox per picture (None for "no crop"), the numbered face pictures when
    `previews`, else an empty list)."""
    if mode == NO_CROP:
        return image, tuple(None for _ in range(image.shape[0])), []
    crops, boxes, drawn = [], [], []
    for index, picture in enumerate(convert.image_to_uint8(image)):
        crop, box, faces, used = _crop_one(picture, index, margin, size, face, on_missing)
        crops.append(crop)
        boxes.append(box)
        if previews:
            drawn.append(draw_faces(picture, faces, used, note="" if faces else "no face: whole picture"))
    return convert.pictures_to_image(crops), tuple(boxes), drawn


def _crop_one(picture: np.ndarray, index: int, margin: float, size: int, face: int, on_missing: str):
    """One picture -> (crop, CropBox, faces found left to right, index of the face used or None)."""
    try:
        crop, box, info = crop_portrait(picture, margin=margin, size=size,
                                        face_index="largest" if face == sockets.LARGEST_FACE else face)
    except NoFaceError as err:
        if on_missing != WHOLE:
            raise NoFaceError(f"picture {index} of the batch: {err}. If the picture is already a portrait (the "
                              f"face centred and filling the square), choose '{NO_CROP}'; for a batch with some "
                              f"pictures without a face, set on_missing_face to '{WHOLE}'.") from None
        log.warning("FLOAT Crop Portrait: picture %d of the batch: no face found; used the whole picture "
                    "(on_missing_face = '%s')", index, WHOLE)
        box = whole_picture_box(picture.shape[1], picture.shape[0])
        return apply_crop(picture, box, size), box, (), None
    except FaceIndexError as err:
        raise ValueError(f"picture {index} of the batch: face {err.asked} asked for, but {err.found} face(s) were "
                         f"found (numbered 0 to {err.found - 1} from the left). Choose one of those, or -1 for the "
                         f"largest.") from None
    if len(info.faces) > 1 and face == sockets.LARGEST_FACE:  # said, not silent: the user may have meant another
        log.warning("FLOAT Crop Portrait: picture %d of the batch: %s Set face to choose another.", index,
                    info.message)
    return crop, box, info.faces, info.face_used


def mask_of(image, boxes) -> torch.Tensor:
    """MASK (B, H, W): 1 on each picture's crop square (the whole picture where it was not cropped)."""
    height, width = image.shape[1:3]
    return torch.stack([torch.ones(height, width) if box is None else paste_mask(box) for box in boxes])


class CropPortrait(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitCropPortrait", "FLOAT Crop Portrait",
            "Finds the face and crops a square portrait around it (offline OpenCV detector), the way FLOAT was "
            "trained; the node shows the faces it found, numbered for the face input. Choose 'no crop' for "
            "pictures that already are such portraits.",
            inputs=[io.Image.Input("image", tooltip="Photo(s) with a face each; see face for photos with several."),
                    io.Combo.Input("mode", options=[FACE, NO_CROP], default=FACE,
                                   tooltip="'face crop' finds the face; 'no crop' passes the picture through."),
                    io.Float.Input("margin", default=1.6, min=1.0, max=3.0, step=0.05,
                                   tooltip="Square side as a multiple of the face size (official 1.6)."),
                    io.Int.Input("size", default=512, min=64, max=2048, step=8,
                                 tooltip="Side of the cropped square in pixels (FLOAT works at 512)."),
                    sockets.face_in(),
                    io.Combo.Input("on_missing_face", options=[STOP, WHOLE], default=STOP, optional=True,
                                   tooltip="A picture without a face found: 'stop' with an error, or 'use whole "
                                           "picture' (padded to a square, and logged), so one picture does not "
                                           "end a batch.")],
            outputs=[sockets.output(io.Image, "portrait", "The square portrait(s)."),
                     sockets.output(sockets.CropBox, "crop_box", "Where each crop came from in the photo (for "
                                                                 "pasting the animation back); None with 'no crop'."),
                     sockets.output(io.Mask, "mask", "The crop square in the photo, one mask per picture (1 inside; "
                                                     "the whole picture with 'no crop').")])

    @classmethod
    def execute(cls, image, mode: str, margin: float, size: int, face: int = sockets.LARGEST_FACE,
                on_missing_face: str = STOP) -> io.NodeOutput:
        crops, boxes, drawn = crop_pictures(image, mode, margin, size, face, on_missing_face, previews=True)
        shown = ui.PreviewImage(convert.pictures_to_image(drawn), cls=cls) if drawn else None
        return io.NodeOutput(crops, boxes, mask_of(image, boxes), ui=shown)


NODES: list[type[io.ComfyNode]] = [CropPortrait]
