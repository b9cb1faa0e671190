"""What an image file's header says before any pixel is decoded: its size (to refuse decompression
bombs), its EXIF orientation (phone photos are stored sideways with a tag saying so) and whether the
file ends before its picture does (a truncated download).

PNG and JPEG are read here, by their markers, in a few KB; other formats give an unknown size
(PyAV's stream header is checked instead), orientation 1 and no truncation verdict. No Pillow needed:
FloatKit reads images with PyAV only, so a result does not depend on what else is installed.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_ORIENTATION_TAG = 0x0112
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ImageHeader:
    size: tuple[int, int] | None = None  # (height, width), when the header tells
    orientation: int = 1  # EXIF orientation, 1 = stored upright
    truncated: bool = False  # the file ends before the picture's end marker


def read_header(path: str | os.PathLike) -> ImageHeader:
    path = Path(path)
    with open(path, "rb") as handle:
        start = handle.read(16)
        handle.seek(0)
        if start.startswith(_PNG_SIGNATURE):
            return _png(handle)
        if start.startswith(b"\xff\xd8"):
            return _jpeg(handle)
    return ImageHeader()


def _png(handle) -> ImageHeader:  # noqa: ANN001 - a binary file
    head = handle.read(24)
    if len(head) < 24 or head[12:16] != b"IHDR":
        return ImageHeader(truncated=True)
    width, height = struct.unpack(">II", head[16:24])
    handle.seek(0, os.SEEK_END)
    handle.seek(max(0, handle.tell() - 64))
    return ImageHeader((height, width), 1, b"IEND" not in handle.read())


def _jpeg(handle) -> ImageHeader:  # noqa: ANN001 - a binary file
    size, orientation = None, 1
    handle.seek(2)
    while True:
        marker = _next_marker(handle)
        if marker is None:
            return ImageHeader(size, orientation, True)
        if marker == 0xDA:  # start of scan: the header is over; the picture must end with EOI
            return ImageHeader(size, orientation, not _has_end_marker(handle))
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            continue
        raw = handle.read(2)
        if len(raw) < 2:
            return ImageHeader(size, orientation, True)
        body = handle.read(struct.unpack(">H", raw)[0] - 2)
        if marker in _SOF_MARKERS and len(body) >= 5:
            size = struct.unpack(">HH", body[1:5])
        elif marker == 0xE1 and body.startswith(b"Exif\x00\x00"):
            orientation = _exif_orientation(body[6:])


def _next_marker(handle) -> int | None:  # noqa: ANN001
    byte = handle.read(1)
    while byte and byte != b"\xff":  # tolerate junk between segments, as decoders do
        byte = handle.read(1)
    while byte == b"\xff":  # fill bytes
        byte = handle.read(1)
    return byte[0] if byte else None


def _has_end_marker(handle) -> bool:  # noqa: ANN001
    """Entropy-coded data never holds FF D9 (FF is stuffed), so its presence after the first scan
    means the picture ended; data appended after it (motion-photo trailers) does not matter."""
    tail = b""
    while True:
        block = handle.read(_CHUNK)
        if not block:
            return False
        if b"\xff\xd9" in tail + block:
            return True
        tail = block[-1:]


def _exif_orientation(tiff: bytes) -> int:
    """The Orientation tag of IFD0 in an EXIF (TIFF) block; 1 when absent or unreadable."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 1
    order = "<" if tiff[:2] == b"II" else ">"
    offset = struct.unpack(order + "I", tiff[4:8])[0]
    if offset + 2 > len(tiff):
        return 1
    count = struct.unpack(order + "H", tiff[offset:offset + 2])[0]
    for i in range(count):
        entry = tiff[offset + 2 + 12 * i: offset + 14 + 12 * i]
        if len(entry) < 12:
            break
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag == _ORIENTATION_TAG and kind == 3:  # SHORT, stored in the value field
            value = struct.unpack(order + "H", entry[8:10])[0]
            return value if 1 <= value <= 8 else 1
    return 1
