"""Serve the template thumbnails (`workflows/<name>.jpg`) ourselves, for ComfyUI versions that refuse them.

Why: the frontend (1.58.1 read) shows a pack's template card with the picture at
`/api/workflow_templates/<pack folder>/<name>.jpg`; it has no other thumbnail form for a pack.
- ComfyUI 0.3.64 mounts `workflows/` statically on `/api/workflow_templates/<pack>/`, so the `.jpg` is
  served there already (that mount is added before this route's `/api` copy and wins; fine).
- The newest sources read (0.38.x, `app/custom_node_manager.py`) serve template files through one route,
  `/workflow_templates/{module_name}/{filename}` (and its `/api` copy), that answers 404 to anything but
  `.json`. So there, without this route, no card shows its picture.

How it wins: a pack is imported (`nodes.init_extra_nodes`) after `PromptServer` exists and before
`PromptServer.add_routes()` adds the core routes to the same `routes` table, copies every one to `/api/...`
and registers them. aiohttp (3.10+) tries the longest matching path prefix first
(`/workflow_templates/<pack>` before `/workflow_templates`), and within a prefix the registration order,
so this route is tried first either way. It matches only `<name>.jpg`, so `.json` still falls through to
the core route, and it serves only the basename of a thumbnail that exists in `workflows/`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

# Not resolved: ComfyUI names a pack by its folder in custom_nodes/, even when that is a symlink.
PACK_DIR = Path(os.path.abspath(__file__)).parent.parent
WORKFLOWS_DIR = PACK_DIR / "workflows"


def thumbnail_file(filename: str, workflows_dir: Path = WORKFLOWS_DIR) -> Path | None:
    """The thumbnail `filename` names if it is exactly the basename of a `.jpg` in `workflows_dir`, else None."""
    for path in workflows_dir.glob("*.jpg"):
        if path.name == filename and path.is_file():
            return path
    return None


def add_thumbnail_route(routes: Any, pack_folder: str, workflows_dir: Path = WORKFLOWS_DIR) -> None:
    """Add GET /workflow_templates/<pack_folder>/{name}.jpg to an aiohttp RouteTableDef."""
    from aiohttp import web  # ComfyUI's own dependency; imported only when there is a server

    @routes.get(f"/workflow_templates/{pack_folder}/{{name}}.jpg")
    async def floatkit_template_thumbnail(request: web.Request) -> web.StreamResponse:
        path = thumbnail_file(request.match_info["name"] + ".jpg", workflows_dir)
        if path is None:
            raise web.HTTPNotFound()
        return web.FileResponse(path)


def register_thumbnail_route() -> bool:
    """Add the route to the running ComfyUI server; False (and nothing done) when there is none."""
    try:
        import server  # ComfyUI's server.py; absent in tests and plain-library use
    except ImportError:
        return False
    instance = getattr(getattr(server, "PromptServer", None), "instance", None)
    if instance is None:
        return False
    if "{" in PACK_DIR.name or "}" in PACK_DIR.name:
        logging.warning("FloatKit: folder name %r cannot be routed; template thumbnails may not show", PACK_DIR.name)
        return False
    add_thumbnail_route(instance.routes, PACK_DIR.name)
    return True
