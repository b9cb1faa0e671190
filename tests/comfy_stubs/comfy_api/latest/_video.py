"""Test stand-ins for the VIDEO value types: ``Types.VideoComponents``, ``Input.Video``, ``InputImpl.VideoFromFile``.

Mimics ``comfy_api/latest/_util/video_types.py`` and ``_input_impl/video_types.py`` (0.3.64; the newest
adds ``alpha``/``bit_depth``/``color_space`` and AV1/WebM, not modelled).  ``VideoFromFile`` decodes with
PyAV lazily; its ``save_to`` (re-mux) and ``VideoFromComponents`` (the encoder) are not provided.
"""
from __future__ import annotations

import io
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from typing import Any

import av
import numpy as np
import torch


class VideoCodec(str, Enum):
    AUTO = "auto"
    H264 = "h264"

    @classmethod
    def as_input(cls) -> list[str]:
        return [m.value for m in cls]


class VideoContainer(str, Enum):
    AUTO = "auto"
    MP4 = "mp4"

    @classmethod
    def as_input(cls) -> list[str]:
        return [m.value for m in cls]

    @classmethod
    def get_extension(cls, value: str | VideoContainer) -> str:
        return "mp4" if cls(value) in (cls.MP4, cls.AUTO) else ""


@dataclass
class VideoComponents:
    images: torch.Tensor  # [T, H, W, 3] float32 0..1
    frame_rate: Fraction
    audio: dict[str, Any] | None = None  # {"waveform": [1, C, S], "sample_rate": int}
    metadata: dict[str, Any] | None = None


class VideoInput(ABC):
    """What a VIDEO socket carries."""

    @abstractmethod
    def get_components(self) -> VideoComponents: ...

    @abstractmethod  # abstract in ComfyUI too: a pack's own VIDEO class must implement it
    def save_to(self, path: str | io.BytesIO, format: VideoContainer = VideoContainer.AUTO,
                codec: VideoCodec = VideoCodec.AUTO, metadata: dict[str, Any] | None = None) -> None: ...

    def get_dimensions(self) -> tuple[int, int]:
        images = self.get_components().images
        return images.shape[2], images.shape[1]


class VideoFromFile(VideoInput):
    def __init__(self, file: str | io.BytesIO) -> None:
        self._file = file

    def get_stream_source(self) -> str | io.BytesIO:
        if isinstance(self._file, io.BytesIO):
            self._file.seek(0)
        return self._file

    def get_dimensions(self) -> tuple[int, int]:
        with av.open(self.get_stream_source(), mode="r") as container:
            stream = container.streams.video[0]
            return stream.width, stream.height

    def get_duration(self) -> float:
        with av.open(self.get_stream_source(), mode="r") as container:
            if container.duration is not None:
                return float(container.duration / av.time_base)
            stream = container.streams.video[0]
            return float(stream.frames / stream.average_rate)

    def get_components(self) -> VideoComponents:
        with av.open(self.get_stream_source(), mode="r") as container:
            frames = [torch.from_numpy(f.to_ndarray(format="rgb24")) / 255.0 for f in container.decode(video=0)]
            rate = container.streams.video[0].average_rate
            audio = None
            if container.streams.audio:
                container.seek(0)
                stream = container.streams.audio[0]
                chunks = [f.to_ndarray() for f in container.decode(stream)]  # each [C, S] (planar)
                if chunks:
                    audio = {"waveform": torch.from_numpy(np.concatenate(chunks, axis=1)).unsqueeze(0),
                             "sample_rate": int(stream.sample_rate or 1)}
            images = torch.stack(frames) if frames else torch.zeros(0, 3, 0, 0)
            return VideoComponents(images, Fraction(rate) if rate else Fraction(1), audio, dict(container.metadata))

    def save_to(self, path: str | io.BytesIO, format: VideoContainer = VideoContainer.AUTO,
                codec: VideoCodec = VideoCodec.AUTO, metadata: dict[str, Any] | None = None) -> None:
        raise NotImplementedError("VideoFromFile.save_to (a re-mux in ComfyUI) is not provided by the stand-in")
