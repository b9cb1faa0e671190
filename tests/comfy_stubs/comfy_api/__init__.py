"""Test stand-in for ComfyUI's ``comfy_api`` package; only ``latest`` exists here."""
__comfy_stub__ = True
