"""Test stand-ins for the VIDEO value types: ``Types.VideoComponents``, ``Input.Video``, ``InputImpl.VideoFromFile``.

Mimics ``comfy_api/latest/_util/video_types.py`` and ``_input_impl/video_types.py`` (0.3.64; the newest
adds ``alpha``/``bit_depth``/``color_space`` and AV1/WebM, not modelled).  ``VideoFromFile`` decodes with
PyAV lazily; its ``save_to`` re-muxes (stream copy) as ComfyUI does for an MP4/H.264 source, the
re-encoding branch and ``VideoFromComponents`` (the encoder) are not provided.
"""
from __future__ import annotations

import io
import json
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
        """Re-mux without re-encoding, as ComfyUI does when the container and codec allow it: every
        stream is copied packet by packet, the source's metadata kept and ``metadata`` laid over it
        (non-strings as JSON). ComfyUI re-encodes in the other cases; the stand-in does not."""
        with av.open(self.get_stream_source(), mode="r") as source:
            codecs = {s.codec_context.name for s in source.streams.video}
            if VideoContainer(format) not in (VideoContainer.AUTO, VideoContainer.MP4) or \
                    VideoCodec(codec) not in (VideoCodec.AUTO, VideoCodec.H264) or not codecs <= {"h264"}:
                raise NotImplementedError("re-encoding in VideoFromFile.save_to is not provided by the stand-in")
            options = {"movflags": "use_metadata_tags" + ("" if isinstance(path, io.BytesIO) else "+faststart")}
            with av.open(path, mode="w", format="mp4", options=options) as output:
                for key, value in source.metadata.items():
                    output.metadata[key] = value
                for key, value in (metadata or {}).items():
                    output.metadata[key] = value if isinstance(value, str) else json.dumps(value)
                streams = {s: output.add_stream_from_template(template=s) for s in source.streams
                           if s.type in ("video", "audio")}
                for packet in source.demux():
                    if packet.stream in streams and packet.dts is not None:
                        packet.stream = streams[packet.stream]
                        output.mux(packet)
