"""Test stand-in for ``comfy_api.latest.ui``: ComfyUI's ``comfy_api/latest/_ui.py`` (newest copy, pyproject 0.38.1).

The preview helpers write real files where ComfyUI writes them (temp/ for previews) and return the
same UI dicts, e.g. ``PreviewVideo(...).as_dict() == {"images": [...], "animated": (True,)}`` and
``PreviewText("x").as_dict() == {"text": ("x",)}``.  PNGs are written with zlib instead of Pillow so
the stand-in needs no Pillow; FLAC previews use PyAV as ComfyUI does.
"""
from __future__ import annotations

import io
import json
import os
import random
import struct
import zlib
from typing import Any

import av
import numpy as np
import torch

from ... import folder_paths
from ._io import FolderType, _UIOutput

__comfy_stub__ = True


class SavedResult(dict):
    """``{"filename", "subfolder", "type"}``: how the frontend (and /view) finds a file."""

    def __init__(self, filename: str, subfolder: str, type: FolderType) -> None:
        super().__init__(filename=filename, subfolder=subfolder, type=type.value)

    @property
    def filename(self) -> str:
        return self["filename"]

    @property
    def subfolder(self) -> str:
        return self["subfolder"]

    @property
    def type(self) -> FolderType:
        return FolderType(self["type"])


def _directory(folder_type: FolderType) -> str:
    return {FolderType.input: folder_paths.get_input_directory(),
            FolderType.output: folder_paths.get_output_directory()}.get(folder_type, folder_paths.get_temp_directory())


def _metadata(cls: Any) -> dict[str, str]:
    """prompt / workflow text chunks, taken from the node's hidden values as ComfyUI does."""
    hidden = getattr(cls, "hidden", None) if cls is not None else None
    if hidden is None:
        return {}
    text = {"prompt": json.dumps(hidden.prompt)} if hidden.prompt else {}
    return text | {k: json.dumps(v) for k, v in (hidden.extra_pnginfo or {}).items()}


def _png_bytes(rgb: np.ndarray, text: dict[str, str]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    height, width = rgb.shape[:2]
    color_type = {1: 0, 3: 2, 4: 6}[rgb.shape[2]]  # grey, RGB, RGBA
    rows = b"".join(b"\x00" + rgb[y].tobytes() for y in range(height))  # filter type 0 on every row
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0))
            + b"".join(chunk(b"tEXt", k.encode("latin-1") + b"\0" + v.encode("latin-1")) for k, v in text.items())
            + chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b""))


def _random_prefix() -> str:
    return "ComfyUI_temp_" + "".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(5))


def save_images(images: torch.Tensor, filename_prefix: str, folder_type: FolderType,
                cls: Any = None) -> list[SavedResult]:
    """One PNG per batch item, named ``<prefix>_<counter:05>_.png`` like ComfyUI's ImageSaveHelper."""
    directory = _directory(folder_type)
    folder, filename, counter, subfolder, _ = folder_paths.get_save_image_path(
        filename_prefix, directory, images[0].shape[1], images[0].shape[0])
    results = []
    for batch_number, image in enumerate(images):
        pixels = np.clip(255.0 * image.detach().cpu().float().numpy(), 0, 255).astype(np.uint8)
        file = f"{filename.replace('%batch_num%', str(batch_number))}_{counter:05}_.png"
        with open(os.path.join(folder, file), "wb") as f:
            f.write(_png_bytes(pixels, _metadata(cls)))
        results.append(SavedResult(file, subfolder, folder_type))
        counter += 1
    return results


def save_audio_flac(audio: dict[str, Any], filename_prefix: str, folder_type: FolderType,
                    cls: Any = None) -> list[SavedResult]:
    """One FLAC per batch item, ``<prefix>_<counter:05>.flac`` (the newest naming: no trailing "_")."""
    folder, filename, counter, subfolder, _ = folder_paths.get_save_image_path(filename_prefix, _directory(folder_type))
    results = []
    for batch_number, waveform in enumerate(audio["waveform"].cpu()):
        file = f"{filename.replace('%batch_num%', str(batch_number))}_{counter:05}.flac"
        buffer = io.BytesIO()
        with av.open(buffer, mode="w", format="flac") as container:
            for key, value in _metadata(cls).items():
                container.metadata[key] = value
            layout = f"{waveform.shape[0]}c"
            stream = container.add_stream("flac", rate=audio["sample_rate"], layout=layout)
            frame = av.AudioFrame.from_ndarray(waveform.float().contiguous().numpy(), format="fltp", layout=layout)
            frame.sample_rate, frame.pts = audio["sample_rate"], 0
            container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        with open(os.path.join(folder, file), "wb") as f:
            f.write(buffer.getbuffer())
        results.append(SavedResult(file, subfolder, folder_type))
        counter += 1
    return results


class PreviewImage(_UIOutput):
    def __init__(self, image: torch.Tensor, animated: bool = False, cls: Any = None, **kwargs: Any) -> None:
        self.values = save_images(image, _random_prefix(), FolderType.temp, cls)
        self.animated = animated

    def as_dict(self) -> dict[str, Any]:
        return {"images": self.values, "animated": (self.animated,)}


class PreviewAudio(_UIOutput):
    def __init__(self, audio: dict[str, Any], cls: Any = None, **kwargs: Any) -> None:
        self.values = save_audio_flac(audio, _random_prefix(), FolderType.temp, cls)

    def as_dict(self) -> dict[str, Any]:
        return {"audio": self.values}


class PreviewVideo(_UIOutput):
    """Points the UI at video files already written (it writes nothing itself)."""

    def __init__(self, values: list[SavedResult | dict[str, Any]], **kwargs: Any) -> None:
        self.values = values

    def as_dict(self) -> dict[str, Any]:
        return {"images": self.values, "animated": (True,)}


class PreviewText(_UIOutput):
    def __init__(self, value: str, **kwargs: Any) -> None:
        self.value = value

    def as_dict(self) -> dict[str, Any]:
        return {"text": (self.value,)}
