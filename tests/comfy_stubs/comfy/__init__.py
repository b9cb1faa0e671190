"""Test stand-in for ComfyUI's ``comfy`` package: only ``model_management``, ``model_patcher`` and ``utils``."""
from . import model_management, model_patcher, utils  # noqa: F401  (ComfyUI code reaches them as comfy.<name>)

__comfy_stub__ = True
