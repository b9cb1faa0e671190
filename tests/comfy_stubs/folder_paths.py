"""Test stand-in for ComfyUI's top-level ``folder_paths`` module.

Mimics ``folder_paths.py`` of ComfyUI 0.3.64 and of the newest copy read (pyproject 0.38.1); the public
functions kept their signatures between the two, and where behaviour changed (path-traversal checks,
the save-counter parser) the newest behaviour is copied.  Directories are not fixed at import time:
``_reset(base_dir)`` puts models/, input/, output/, temp/ and user/ under ``base_dir`` so each test can
own a tree.  Written from ComfyUI's documented behaviour; no ComfyUI code is copied.
"""
from __future__ import annotations

import logging
import mimetypes
import os
import time
from collections.abc import Collection

__comfy_stub__ = True

supported_pt_extensions: set[str] = {".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"}
# name -> ([dirs...], extensions).  An empty extension set means "list every file", as in ComfyUI.
folder_names_and_paths: dict[str, tuple[list[str], set[str]]] = {}

base_path = models_dir = output_directory = temp_directory = input_directory = user_directory = ""

# A subset of the folders core registers, with the same shape (two dirs for the renamed ones).
_CORE_FOLDERS: dict[str, tuple[str, ...]] = {
    "checkpoints": ("checkpoints",), "loras": ("loras",), "vae": ("vae",),
    "text_encoders": ("text_encoders", "clip"), "diffusion_models": ("unet", "diffusion_models"),
    "clip_vision": ("clip_vision",), "upscale_models": ("upscale_models",), "audio_encoders": ("audio_encoders",),
}
_LEGACY_NAMES = {"unet": "diffusion_models", "clip": "text_encoders"}


def _reset(base_dir: str | os.PathLike[str]) -> None:
    """Point every directory at ``base_dir`` (test helper; ComfyUI does this once from --base-directory)."""
    global base_path, models_dir, output_directory, temp_directory, input_directory, user_directory
    base_path = os.path.abspath(os.fspath(base_dir))
    models_dir = os.path.join(base_path, "models")
    output_directory = os.path.join(base_path, "output")
    temp_directory = os.path.join(base_path, "temp")
    input_directory = os.path.join(base_path, "input")
    user_directory = os.path.join(base_path, "user")
    # Mutate in place: packs may hold a reference to this dict from `from folder_paths import ...`.
    folder_names_and_paths.clear()
    for name, subdirs in _CORE_FOLDERS.items():
        folder_names_and_paths[name] = ([os.path.join(models_dir, d) for d in subdirs], supported_pt_extensions)
    folder_names_and_paths["configs"] = ([os.path.join(models_dir, "configs")], {".yaml"})
    folder_names_and_paths["custom_nodes"] = ([os.path.join(base_path, "custom_nodes")], set())
    os.makedirs(input_directory, exist_ok=True)  # ComfyUI creates input/ at import time


def map_legacy(folder_name: str) -> str:
    return _LEGACY_NAMES.get(folder_name, folder_name)


def get_output_directory() -> str:
    return output_directory


def get_input_directory() -> str:
    return input_directory


def get_temp_directory() -> str:
    return temp_directory


def get_user_directory() -> str:
    return user_directory


def set_output_directory(output_dir: str) -> None:
    global output_directory
    output_directory = output_dir


def set_input_directory(input_dir: str) -> None:
    global input_directory
    input_directory = input_dir


def set_temp_directory(temp_dir: str) -> None:
    global temp_directory
    temp_directory = temp_dir


def get_directory_by_type(type_name: str) -> str | None:
    return {"output": output_directory, "input": input_directory, "temp": temp_directory}.get(type_name)


def add_model_folder_path(folder_name: str, full_folder_path: str, is_default: bool = False) -> None:
    """Add a directory; a NEW name gets an empty extension set (= every file is listed)."""
    folder_name = map_legacy(folder_name)
    if folder_name not in folder_names_and_paths:
        folder_names_and_paths[folder_name] = ([full_folder_path], set())
        return
    paths = folder_names_and_paths[folder_name][0]
    if full_folder_path in paths:
        if is_default and paths[0] != full_folder_path:
            paths.remove(full_folder_path)
            paths.insert(0, full_folder_path)
    elif is_default:
        paths.insert(0, full_folder_path)
    else:
        paths.append(full_folder_path)


def get_folder_paths(folder_name: str) -> list[str]:
    """A copy of the directory list; KeyError for an unknown name, as in ComfyUI."""
    return list(folder_names_and_paths[map_legacy(folder_name)][0])


def _walk(directory: str) -> list[str]:
    found: list[str] = []
    for dirpath, subdirs, filenames in os.walk(directory, followlinks=True):
        subdirs[:] = [d for d in subdirs if d != ".git"]
        found.extend(os.path.relpath(os.path.join(dirpath, f), directory) for f in filenames)
    return found


def filter_files_extensions(files: Collection[str], extensions: Collection[str]) -> list[str]:
    return sorted(f for f in files if len(extensions) == 0 or os.path.splitext(f)[-1].lower() in extensions)


def get_filename_list(folder_name: str) -> list[str]:
    """Sorted relative paths of matching files in every directory of ``folder_name`` (recursive).

    ComfyUI caches this by directory mtime; the stand-in rescans each time, which gives the same answers.
    """
    dirs, extensions = folder_names_and_paths[map_legacy(folder_name)]
    found: set[str] = set()
    for directory in dirs:
        if os.path.isdir(directory):
            found.update(filter_files_extensions(_walk(directory), extensions))
    return sorted(found)


def get_full_path(folder_name: str, filename: str) -> str | None:
    folder_name = map_legacy(folder_name)
    if folder_name not in folder_names_and_paths:
        return None
    # Re-rooting at "/" strips any "../" so a combo value cannot escape the model folder.
    filename = os.path.relpath(os.path.join("/", filename), "/")
    for directory in folder_names_and_paths[folder_name][0]:
        full_path = os.path.join(directory, filename)
        if os.path.isfile(full_path):
            return full_path
    return None


def get_full_path_or_raise(folder_name: str, filename: str) -> str:
    full_path = get_full_path(folder_name, filename)
    if full_path is None:
        raise FileNotFoundError(f"Model in folder '{folder_name}' with filename '{filename}' not found.")
    return full_path


def filter_files_content_types(files: list[str], content_types: list[str]) -> list[str]:
    """Keep files whose MIME major type ("image", "video", "audio", "model") is wanted."""
    known = {"webp": "image", "fbx": "model"}
    kept = []
    for name in files:
        ext = name.split(".")[-1]
        kind = known.get(ext) or (mimetypes.guess_type(name, strict=False)[0] or "/").split("/")[0]
        if kind in content_types:
            kept.append(name)
    return kept


def annotated_filepath(name: str) -> tuple[str, str | None]:
    for suffix, directory in (("[output]", output_directory), ("[input]", input_directory), ("[temp]", temp_directory)):
        if name.endswith(suffix):
            return name[: -len(suffix) - 1], directory  # also drops the space before "[...]"
    return name, None


def is_within_directory(directory: str, target: str) -> bool:
    try:
        directory, target = os.path.realpath(directory), os.path.realpath(target)
        return os.path.commonpath((directory, target)) == directory
    except ValueError:
        return False


def get_annotated_filepath(name: str, default_dir: str | None = None) -> str:
    """``"x.png [output]"`` -> output dir; plain names go to ``default_dir`` or input/.  Traversal -> ValueError."""
    name, base_dir = annotated_filepath(name)
    base_dir = base_dir or default_dir or input_directory
    filepath = os.path.abspath(os.path.join(base_dir, name))
    if not is_within_directory(base_dir, filepath):
        raise ValueError(f"Invalid file path: {name!r}")
    return filepath


def get_save_image_path(filename_prefix: str, output_dir: str, image_width: int = 0,
                        image_height: int = 0) -> tuple[str, str, int, str, str]:
    """-> (full_output_folder, filename, counter, subfolder, filename_prefix), as ComfyUI returns it.

    ``counter`` is one more than the highest ``<filename>_<digits>`` already in the folder, so callers
    write ``f"{filename}_{counter:05}_.png"``.  %width%, %height%, %year% ... are expanded.
    """
    if "%" in filename_prefix:
        now = time.localtime()
        for key, value in (("%width%", image_width), ("%height%", image_height), ("%year%", now.tm_year),
                           ("%month%", f"{now.tm_mon:02}"), ("%day%", f"{now.tm_mday:02}"),
                           ("%hour%", f"{now.tm_hour:02}"), ("%minute%", f"{now.tm_min:02}"),
                           ("%second%", f"{now.tm_sec:02}")):
            filename_prefix = filename_prefix.replace(key, str(value))
    subfolder = os.path.dirname(os.path.normpath(filename_prefix))
    filename = os.path.basename(os.path.normpath(filename_prefix))
    full_output_folder = os.path.join(output_dir, subfolder)
    if not is_within_directory(output_dir, full_output_folder):
        logging.error("Saving image outside the output folder is not allowed: %s", full_output_folder)
        raise Exception(f"**** ERROR: Saving image outside the output folder is not allowed.\n full_output_folder: "
                        f"{os.path.abspath(full_output_folder)}\n         output_dir: {output_dir}")

    def counter_of(existing: str) -> int | None:
        head, rest = existing[: len(filename) + 1], existing[len(filename) + 1:]
        if os.path.normcase(head[:-1]) != os.path.normcase(filename) or head[-1:] != "_":
            return None
        try:
            return int(rest.split(".")[0].split("_")[0])
        except ValueError:
            return 0

    try:
        counters = [c for c in map(counter_of, os.listdir(full_output_folder)) if c is not None]
        counter = max(counters) + 1 if counters else 1
    except FileNotFoundError:
        os.makedirs(full_output_folder, exist_ok=True)
        counter = 1
    return full_output_folder, filename, counter, subfolder, filename_prefix
