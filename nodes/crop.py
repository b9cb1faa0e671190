"""Crop a photo to the portrait FLOAT expects: the face centred in a square with a margin around it,
as the official preprocessing does (face box, enlarged by the margin, padded with black, resized)."""

from __future__ import annotations

import logging

from comfy_api.latest import io

from ..float_models.app.face_crop import NoFaceError, crop_portrait  # loads OpenCV only when it crops
from . import convert, sockets

FACE = "face crop"
NO_CROP = "no crop"
log = logging.getLogger(__name__)


def crop_of(image, mode: str = FACE, margin: float = 1.6, size: int = 512):
    """IMAGE -> (IMAGE of square crops, tuple of CropBox, one per picture; None for "no crop")."""
    if mode == NO_CROP:
        return image, tuple(None for _ in range(image.shape[0]))
    crops, boxes = [], []
    for index, picture in enumerate(convert.image_to_uint8(image)):
        try:
            crop, box, info = crop_portrait(picture, margin=margin, size=size)
        except NoFaceError as err:
            raise NoFaceError(f"picture {index} of the batch: {err}. If the picture is already a portrait "
                              f"(the face centred and filling the square), choose '{NO_CROP}'.") from None
        if len(info.faces) > 1:  # said, not silent: the user may have meant another face
            log.warning("FLOAT Crop Portrait: picture %d of the batch: %s", index, info.message)
        crops.append(crop)
        boxes.append(box)
    return convert.pictures_to_image(crops), tuple(boxes)


class CropPortrait(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitCropPortrait", "FLOAT Crop Portrait",
            "Finds the face and crops a square portrait around it (offline OpenCV detector), the way FLOAT was "
            "trained. Choose 'no crop' for pictures that already are such portraits.",
            inputs=[io.Image.Input("image", tooltip="Photo(s) with one face each; the largest face is used."),
                    io.Combo.Input("mode", options=[FACE, NO_CROP], default=FACE,
                                   tooltip="'face crop' finds the face; 'no crop' passes the picture through."),
                    io.Float.Input("margin", default=1.6, min=1.0, max=3.0, step=0.05,
                                   tooltip="Square side as a multiple of the face size (official 1.6)."),
                    io.Int.Input("size", default=512, min=64, max=2048, step=8,
                                 tooltip="Side of the cropped square in pixels (FLOAT works at 512).")],
            outputs=[sockets.output(io.Image, "portrait", "The square portrait(s)."),
                     sockets.output(sockets.CropBox, "crop_box", "Where each crop came from in the photo (for "
                                                                 "pasting the animation back); None with 'no crop'.")])

    @classmethod
    def execute(cls, image, mode: str, margin: float, size: int) -> io.NodeOutput:
        crops, boxes = crop_of(image, mode, margin, size)
        return io.NodeOutput(crops, boxes)


NODES: list[type[io.ComfyNode]] = [CropPortrait]
