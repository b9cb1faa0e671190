"""pyproject.toml: what the Registry and ComfyUI-Manager read, and dependencies that are really used."""

from __future__ import annotations

import re
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

