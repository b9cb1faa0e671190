"""pyproject.toml: what the Registry and ComfyUI-Manager read, and dependencies that are really used."""

from __future__ import annotations

import fnmatch
import re
import subprocess
import tomllib
from pathlib import Path

from float_models.app.download import MIRROR_REPO, MODEL_FILES

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
IMPORT_NAMES = {"opencv-python-headless": "cv2"}  # distribution -> module, where they differ


def test_registry_table_is_complete():
    comfy = PYPROJECT["tool"]["comfy"]
    assert comfy["PublisherId"] and comfy["DisplayName"] and comfy["requires-comfyui"].startswith(">=")
    icon = re.fullmatch(r"https://raw\.githubusercontent\.com/[^/]+/[^/]+/main/(.+)", comfy["Icon"])
    assert icon and (ROOT / icon.group(1)).is_file(), "the Icon URL must point at a file of this repository"


def test_registry_models_are_the_files_the_loader_reads():
    def url(f) -> str:
        repo, path = f.original or (MIRROR_REPO, f.mirror_file)
        return f"https://huggingface.co/{repo}/resolve/main/{path}"

    wanted = [{"location": f"/float/{f.target}", "model_url": url(f)} for f in MODEL_FILES]
    assert PYPROJECT["tool"]["comfy"]["Models"] == wanted


def test_dependencies_match_requirements_and_are_all_imported():
    declared = PYPROJECT["project"]["dependencies"]
    listed = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert sorted(declared) == sorted(filter(None, listed))
    sources = "\n".join(p.read_text() for d in ("float_models", "nodes") for p in (ROOT / d).rglob("*.py"))
    for requirement in declared:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)
        module = IMPORT_NAMES.get(name, name)
        assert re.search(rf"^\s*(import|from) {module}\b", sources, re.M), f"{name} is declared but never imported"



def _ignored(path: str, patterns: list[str]) -> bool:
    """The two .comfyignore forms used (comfy-cli matches them as gitignore does): "folder/" and a glob."""
    return any(path.startswith(p) if p.endswith("/") else fnmatch.fnmatch(path, p) for p in patterns)


def test_the_registry_zip_ships_the_nodes_and_leaves_development_files_out():
    lines = (ROOT / ".comfyignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert all(not any(c in p for c in "!\\[") and "**" not in p for p in patterns), "keep to the simple forms"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    shipped = [p for p in tracked if not _ignored(p, patterns)]
    for folder in ("tests/", "bench/", "tools/", ".ci/"):
        assert not [p for p in shipped if p.startswith(folder)], f"{folder} would ship"
    needed = ["__init__.py", "pyproject.toml", "requirements.txt", "LICENSE", "README.md", "assets/portrait.png",
              "assets/speech.wav", "assets/driving.mp4", "workflows/floatkit_basic.json", "workflows/floatkit_basic.jpg"]
    needed += [p for p in tracked if p.startswith(("nodes/", "float_models/", "web/"))]
    assert not [p for p in needed if p not in shipped]
    dev_import = re.compile(r"^\s*(from|import)\s+(tests|tools|bench|tiny_weights|comfy_stubs|workflow_graph)\b", re.M)
    assert not [p for p in shipped if p.endswith(".py") and dev_import.search((ROOT / p).read_text())]
