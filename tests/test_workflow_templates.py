"""The shipped workflows as ComfyUI serves them from the Templates browser and as newer frontends read them.

* Template folders. ComfyUI looks for a pack's templates under these folder names, in this order. 0.3.64
  mounts every one that exists as a static folder on the same URL, /api/workflow_templates/<pack>/, so
  the first one found answers every request (an `examples/` media folder used to hide `workflows/`: every
  click gave a 404). The newest sources list the JSON files of all of them and serve only `.json`.
* Model metadata. Core templates carry `properties.models` ({name, url, directory}) on their loader
  nodes; frontend 1.58 matches an entry to a widget value by name and shows its URL and folder in the
  missing-models dialog, and offers the download only for allowlisted hosts and model suffixes.
* Save Video. 0.3.64 has two flat choices (format, codec); the newest has a nested choice (container,
  then its codec, the old `codec` input kept hidden for saved workflows). The saved values must be
  valid in both.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import comfy_stubs
from float_models.app.download import MIRROR_REPO, MODEL_FILES
from test_nodes import import_pack

ROOT = Path(__file__).resolve().parent.parent
# app/custom_node_manager.py, 0.3.64 and the newest sources read (0.38): the same names, same order.
TEMPLATE_FOLDERS = ("example_workflows", "example", "examples", "workflow", "workflows")
TEMPLATES = sorted((ROOT / "workflows").glob("*.json"))
# Frontend 1.58.1: a widget value is checked as a model when it ends so (missingModelScan), and its
# download is offered when the URL starts with an allowlisted host and the name ends so (missingModelMetadata).
MODEL_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".sft", ".onnx", ".gguf")
DOWNLOAD_HOSTS = ("https://huggingface.co/", "https://civitai.com/")
DOWNLOAD_SUFFIXES = (".safetensors", ".sft", ".ckpt", ".pth", ".pt")
# Save Video's choices: 0.3.64 (flat) and the newest comfy_extras/nodes_video.py (container -> codecs).
SAVE_VIDEO_FLAT = {"format": ("auto", "mp4"), "codec": ("auto", "h264")}
SAVE_VIDEO_NESTED = {"auto": ("auto", "h264", "av1"), "mp4": ("auto", "h264", "av1"),
                     "mkv": ("auto", "h264", "av1"), "webm": ("auto", "av1")}


def template_folders(pack: Path) -> list[str]:
    return [name for name in TEMPLATE_FOLDERS if (pack / name).is_dir()]


def served_by_0_3_64(pack: Path, filename: str) -> Path | None:
    """The file a GET /api/workflow_templates/<pack>/<filename> returns on 0.3.64: the first folder mounted."""
    folders = template_folders(pack)
    path = pack / folders[0] / filename if folders else None
    return path if path is not None and path.is_file() else None


def listed_by_newest(pack: Path) -> list[str]:
    """What GET /api/workflow_templates lists for the pack on the newest sources: JSON of every folder."""
    return [p.stem for name in template_folders(pack) for p in sorted((pack / name).glob("*.json"))]


def test_no_pack_folder_hides_the_template_folder():
    assert template_folders(ROOT) == ["workflows"], (
        "only workflows/ may carry a template-folder name; move other folders (media: assets/)")


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_every_listed_template_and_thumbnail_is_served_on_0_3_64(path):
    assert served_by_0_3_64(ROOT, path.name) == path
    assert served_by_0_3_64(ROOT, path.stem + ".jpg") == path.with_suffix(".jpg")  # the card's picture


def test_the_newest_listing_is_the_shipped_workflows_once_each():
    assert listed_by_newest(ROOT) == [p.stem for p in TEMPLATES]


def test_the_mirror_sees_a_media_folder_named_examples(tmp_path):
    """The mirror itself: the layout before the move gave 404 for every template on 0.3.64."""
    for name in ("examples", "workflows"):
        (tmp_path / name).mkdir()
    (tmp_path / "workflows" / "floatkit_basic.json").write_text("{}")
    assert served_by_0_3_64(tmp_path, "floatkit_basic.json") is None


def _loaders(path: Path) -> list[dict]:
    return [n for n in json.loads(path.read_text())["nodes"] if n["type"] == "FloatKitLoadModels"]


def _url(file) -> str:
    return f"https://huggingface.co/{MIRROR_REPO}/resolve/main/{file.mirror_file}"


@pytest.fixture(scope="module")
def models_folder(tmp_path_factory) -> str:
    comfy_stubs.install(tmp_path_factory.mktemp("comfy-home"))
    import_pack()
    from comfyui_floatkit.nodes import _comfy

    return _comfy.FOLDER


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_every_loader_names_its_model_file_url_and_folder(path, models_folder):
    by_target = {f.target: f for f in MODEL_FILES}
    loaders = _loaders(path)
    assert loaders, f"{path.name}: no Load FLOAT Models node"
    for node in loaders:
        models = node["properties"].get("models")
        assert models, f"{path.name}: Load FLOAT Models carries no properties.models"
        files = [v for v in node["widgets_values"] if isinstance(v, str) and v.lower().endswith(MODEL_SUFFIXES)]
        assert files and {m["name"] for m in models} == set(files)  # every entry matched, every file described
        for entry in models:
            assert set(entry) == {"name", "url", "directory"}
            assert entry == {"name": entry["name"], "url": _url(by_target[entry["name"]]),
                             "directory": models_folder}
            assert entry["url"].startswith(DOWNLOAD_HOSTS) and entry["name"].endswith(DOWNLOAD_SUFFIXES)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_the_note_says_where_the_two_folders_come_from(path):
    """The model list takes single files; the wav2vec2 folders are a widget value each, so the Note names them."""
    note = next(n for n in json.loads(path.read_text())["nodes"] if n["type"] == "Note")["widgets_values"][0]
    assert "wav2vec2-base-960h/" in note and "wav2vec-english-speech-emotion-recognition/" in note
    assert MIRROR_REPO in note and "single files only" in note


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_save_video_values_are_valid_in_the_flat_and_the_nested_form(path):
    saves = [n for n in json.loads(path.read_text())["nodes"] if n["type"] == "SaveVideo"]
    for node in saves:
        prefix, container, codec = node["widgets_values"]
        assert prefix and container in SAVE_VIDEO_FLAT["format"] and codec in SAVE_VIDEO_FLAT["codec"]
        assert codec in SAVE_VIDEO_NESTED[container]  # the nested codec widget follows its container
