"""The template cards' pictures (`workflows/<name>.jpg`) load on ComfyUI 0.3.64 and on the newest sources.

The frontend (1.58.1) asks for `/api/workflow_templates/<pack folder>/<name>.jpg`. The newest sources read
(0.38.x) answer that URL with a route that serves `.json` only, so the pack adds its own route at import
(nodes/templates.py). The apps below rebuild each version's route order with stand-ins written here:
- newest: packs are imported first (their routes go into `PromptServer.routes`), then
  `custom_node_manager.add_routes` adds `/workflow_templates/{module_name}/{filename}` (.json only) to the
  same table, then `add_routes` registers an `/api` copy of each route, then the routes, then the web root.
- 0.3.64: `custom_node_manager.add_routes` mounts `workflows/` statically on `/api/workflow_templates/<pack>`
  straight on the app, before the `/api` copies and the routes.
"""

from __future__ import annotations

import asyncio
import sys
import types
from pathlib import Path

import pytest

import comfy_stubs
from test_nodes import import_pack

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / "workflows"
TEMPLATES = sorted(p.stem for p in WORKFLOWS.glob("*.json"))
PACK = "comfyui-floatkit"


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    """nodes/templates.py as the pack's import loads it."""
    comfy_stubs.install(tmp_path_factory.mktemp("comfy-home"))
    import_pack()
    from comfyui_floatkit.nodes import templates

    return templates


def test_every_template_has_a_thumbnail():
    assert TEMPLATES and all((WORKFLOWS / f"{name}.jpg").is_file() for name in TEMPLATES)


def test_thumbnail_file_takes_only_the_basename_of_an_existing_thumbnail(templates):
    thumbnail_file = templates.thumbnail_file
    assert thumbnail_file("floatkit_basic.jpg") == WORKFLOWS / "floatkit_basic.jpg"
    for name in ("floatkit_basic.json", "nope.jpg", "../workflows/floatkit_basic.jpg", "floatkit_basic",
                 "/floatkit_basic.jpg", "FLOATKIT_BASIC.JPG", ""):
        assert thumbnail_file(name) is None, name


def test_without_a_server_nothing_is_registered(templates, monkeypatch):
    monkeypatch.setitem(sys.modules, "server", None)  # `import server` raises ImportError
    assert templates.register_thumbnail_route() is False
    monkeypatch.setitem(sys.modules, "server", types.SimpleNamespace(PromptServer=types.SimpleNamespace()))
    assert templates.register_thumbnail_route() is False  # imported but never started: no instance


# Everything below runs aiohttp, which ComfyUI brings (requirements-test.txt lists it for the tests).


@pytest.fixture
def web():
    return pytest.importorskip("aiohttp.web")


def test_import_registers_the_route_on_the_running_server(templates, web, monkeypatch):
    routes = web.RouteTableDef()
    instance = types.SimpleNamespace(routes=routes)
    monkeypatch.setitem(sys.modules, "server", types.SimpleNamespace(PromptServer=types.SimpleNamespace(
        instance=instance)))
    assert templates.register_thumbnail_route() is True
    assert [(r.method, r.path) for r in routes] == [("GET", f"/workflow_templates/{ROOT.name}/{{name}}.jpg")]


def add_core_template_route(web, routes) -> None:
    """Stand-in for the newest custom_node_manager's template file route: a listed pack's `.json` only."""

    @routes.get("/workflow_templates/{module_name}/{filename}")
    async def core_template_file(request):
        module, filename = request.match_info["module_name"], request.match_info["filename"]
        if module != PACK or not filename.endswith(".json") or filename[:-5] not in TEMPLATES:
            raise web.HTTPNotFound()
        return web.FileResponse(WORKFLOWS / filename)


def register(web, app, routes) -> None:
    """PromptServer.add_routes: an /api copy of every route first, then the routes, then the web root."""
    api = web.RouteTableDef()
    for route in routes:
        api.route(route.method, "/api" + route.path)(route.handler, **route.kwargs)
    app.add_routes(api)
    app.add_routes(routes)
    app.add_routes([web.static("/", str(ROOT / "web"))])


def newest_app(templates, web, with_pack_route: bool = True):
    routes = web.RouteTableDef()
    if with_pack_route:
        templates.add_thumbnail_route(routes, PACK)  # the pack's import
    add_core_template_route(web, routes)  # custom_node_manager.add_routes, later
    app = web.Application()
    register(web, app, routes)
    return app


def app_0_3_64(templates, web):
    routes = web.RouteTableDef()
    templates.add_thumbnail_route(routes, PACK)
    app = web.Application()
    app.add_routes([web.static(f"/api/workflow_templates/{PACK}", str(WORKFLOWS))])
    register(web, app, routes)
    return app


def fetch_all(app, paths: list[str]) -> dict[str, tuple[int, bytes]]:
    """GET each raw (still-encoded) path from a test server running `app`."""
    from aiohttp.test_utils import TestClient, TestServer
    from yarl import URL

    async def run() -> dict[str, tuple[int, bytes]]:
        async with TestClient(TestServer(app)) as client:
            answers = {}
            for path in paths:
                response = await client.get(URL(path, encoded=True))
                answers[path] = (response.status, await response.read())
            return answers

    return asyncio.run(run())


def template_paths(prefix: str) -> dict[str, Path]:
    return {f"{prefix}/workflow_templates/{PACK}/{name}{ext}": WORKFLOWS / f"{name}{ext}"
            for name in TEMPLATES for ext in (".json", ".jpg")}


def assert_served(answers: dict[str, tuple[int, bytes]], wanted: dict[str, Path]) -> None:
    assert {path: answers[path][0] for path in wanted} == {path: 200 for path in wanted}
    for path, file in wanted.items():
        assert answers[path][1] == file.read_bytes(), path


def test_newest_serves_every_template_and_thumbnail_with_and_without_api(templates, web):
    wanted = {**template_paths("/api"), **template_paths("")}
    assert_served(fetch_all(newest_app(templates, web), list(wanted)), wanted)


def test_0_3_64_serves_every_template_and_thumbnail_under_api(templates, web):
    """Its static mount exists only under /api (the frontend's URL); without /api only the pack's .jpg route answers."""
    bare = template_paths("")
    wanted = {**template_paths("/api"), **{p: f for p, f in bare.items() if p.endswith(".jpg")}}
    answers = fetch_all(app_0_3_64(templates, web), list(bare) + list(template_paths("/api")))
    assert_served(answers, wanted)
    assert {answers[p][0] for p in bare if p.endswith(".json")} == {404}


def test_without_the_pack_route_the_newest_refuses_thumbnails(templates, web):
    """The reason for the route: this is what the newest sources answer on their own."""
    paths = [f"/api/workflow_templates/{PACK}/floatkit_basic{ext}" for ext in (".jpg", ".json")]
    answers = fetch_all(newest_app(templates, web, with_pack_route=False), paths)
    assert [status for status, _ in answers.values()] == [404, 200]


@pytest.mark.parametrize("prefix", ["/api", ""])
def test_unknown_names_and_traversal_are_not_found(templates, web, prefix):
    base = f"{prefix}/workflow_templates/{PACK}/"
    paths = [base + "nope.jpg", base + "floatkit_basic.png", base + ".jpg",
             base + "..%2Fworkflows%2Ffloatkit_basic.jpg", base + "..%2F..%2F__init__.py.jpg",
             base + "%2E%2E%2Fassets%2Fportrait.jpg", base + "sub%2Ffloatkit_basic.jpg",
             f"{prefix}/workflow_templates/other-pack/floatkit_basic.jpg"]
    answers = fetch_all(newest_app(templates, web), paths)
    assert {path: status for path, (status, _) in answers.items()} == {path: 404 for path in paths}
