"""Test stand-in for ``comfy_api.latest``: ``ComfyExtension``, ``io``/``IO``, ``ui``/``UI``, ``Input``,
``InputImpl``, ``Types`` (ComfyUI's ``comfy_api/latest/__init__.py``).

As in ComfyUI, ``io`` and ``ui`` are attributes, not importable submodules: ``from comfy_api.latest
import io`` works, ``import comfy_api.latest.io`` does not.  ``ComfyAPI`` / ``ComfyAPISync`` are not
provided; report progress through ``comfy.utils.ProgressBar``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch

from . import _io as io
from . import _ui as ui
from ._video import VideoCodec, VideoComponents, VideoContainer, VideoFromFile, VideoInput

__comfy_stub__ = True
IO, UI = io, ui  # the newest ComfyUI's aliases


class ComfyExtension(ABC):
    """What ``comfy_entrypoint()`` returns.  ComfyUI awaits ``on_load()`` then ``get_node_list()``."""

    async def on_load(self) -> None:
        pass

    @abstractmethod
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        raise NotImplementedError


class Input:
    Image = torch.Tensor
    Mask = torch.Tensor
    Latent = dict[str, Any]
    Audio = dict[str, Any]
    Video = VideoInput


class InputImpl:
    VideoFromFile = VideoFromFile


class Types:
    VideoCodec = VideoCodec
    VideoContainer = VideoContainer
    VideoComponents = VideoComponents
