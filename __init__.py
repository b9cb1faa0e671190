"""FloatKit: FLOAT audio-driven talking portraits for ComfyUI (entry point).

ComfyUI imports this folder as a package under a name of its own choosing, so everything below is
imported relatively; nothing here puts this folder on sys.path (its `nodes/` package would shadow
ComfyUI's own `nodes.py`). Importing loads no model and touches no device.
"""

from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
from .nodes.templates import register_thumbnail_route

# The newest ComfyUI serves a pack's templates as .json only; this serves their .jpg cards (see nodes/templates.py).
register_thumbnail_route()

WEB_DIRECTORY = "./web"

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
