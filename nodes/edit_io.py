"""Motion in and out of files and videos: Motion From Video (the motion encoder reads each frame's
pose), Save Motion (output folder) and Load Motion (input folder, or output files marked [output]).
Saved motion carries a fingerprint of the model's motion basis; another model's motion is refused."""

from __future__ import annotations

import os

from comfy_api.latest import io, ui

import folder_paths

from ..float_models.edit.files import load_motion, save_motion
from ..float_models.edit.from_video import MODES, motion_from_video
from . import _comfy, convert, sockets

CATEGORY = sockets.EDIT_CATEGORY

MOTION_SUBFOLDER = "motion"
EXTENSION = ".safetensors"
# Always listed first, so a workflow can name it before any motion is saved (it is resolved at run time).
LATEST = "(latest saved motion)"


def direction_weight(pipe):
    """The loaded model's motion basis weight, which motion files record and are checked against."""
    return pipe.pipeline.direction_weight


def motion_of_video(pipe, images, identity=None, mode: str = "relative", fps: float = 25.0, batch_size: int = 8):
    frames = convert.image_to_portraits(images)
    reference = None if identity is None else identity.motion
    return motion_from_video(pipe.ready("float"), frames, reference, fps, mode, batch_size, _comfy.progress())


class MotionFromVideo(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitMotionFromVideo", "FLOAT Motion From Video",
            "Reads the head and face motion of a driving video, frame by frame, with FLOAT's motion encoder, so the "
            "portrait can copy it (instead of motion sampled from speech). Crop the video's face like the "
            "portrait's for best results.",
            inputs=[sockets.pipe_in(),
                    io.Image.Input("images", tooltip="Frames of the driving video (e.g. from Load Video)."),
                    sockets.identity_in("From FLOAT Encode Portrait: the portrait to drive; 'relative' starts from "
                                        "its pose. Without it, the first frame's pose.", optional=True),
                    io.Combo.Input("mode", options=list(MODES), default="relative",
                                   tooltip="'relative': the portrait keeps its own pose and follows the video's "
                                           "changes; 'absolute': it takes the video's poses as they are."),
                    io.Float.Input("fps", default=25.0, min=1.0, max=120.0, step=1.0,
                                   tooltip="Frame rate of the video (FLOAT works at 25; FLOAT Motion Frame Rate "
                                           "converts the motion to another rate; Motion Speed keeps the rate)."),
                    io.Int.Input("batch_size", default=8, min=1, max=256,
                                 tooltip="Frames encoded at once; lower it if memory runs out.")],
            outputs=[sockets.output(sockets.Motion, "motion", "One motion latent per video frame, for Decode or the "
                                                              "edits.")], category=CATEGORY)

    @classmethod
    def execute(cls, pipe, images, mode: str, fps: float, batch_size: int, identity=None) -> io.NodeOutput:
        return io.NodeOutput(motion_of_video(pipe, images, identity, mode, fps, batch_size))


def save_to_output(pipe, motion, filename_prefix: str) -> tuple[str, str]:
    """Write the motion under ComfyUI's output/motion -> (file name, subfolder)."""
    folder, name, counter, subfolder, _ = folder_paths.get_save_image_path(
        motion_prefix(filename_prefix), folder_paths.get_output_directory())
    filename = f"{name}_{counter:05}_{EXTENSION}"
    save_motion(motion, os.path.join(folder, filename), direction_weight(pipe))
    return filename, subfolder


def motion_prefix(prefix: str) -> str:
    """Where Save Motion writes: always under output/motion, the one output folder Load Motion lists and
    '(latest saved motion)' searches, so every saved file can be loaded again. 'takes/hero' becomes
    'motion/takes/hero' ('motion/...' stays as it is); an empty or dot-led file name, which would make a
    hidden file, becomes 'FloatKit' (or loses its dots); '..' is refused rather than leaving the folder."""
    text = str(prefix).strip().replace("\\", "/")
    folder, _, name = text.rpartition("/")
    folders = [part.strip() for part in folder.split("/") if part.strip() not in ("", ".")]
    if ".." in folders:
        raise ValueError(f"filename_prefix {prefix!r}: '..' cannot be used, motion files stay inside "
                         f"output/{MOTION_SUBFOLDER}; give a name such as '{MOTION_SUBFOLDER}/takes/hero'")
    if folders[:1] == [MOTION_SUBFOLDER]:
        folders = folders[1:]
    return "/".join([MOTION_SUBFOLDER, *folders, name.strip().lstrip(".") or "FloatKit"])


class SaveMotion(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitSaveMotion", "FLOAT Save Motion",
            "Saves the motion to ComfyUI's output/motion folder (safetensors with fps, frame count and the "
            "model's basis fingerprint), to reuse later with Load Motion.",
            inputs=[sockets.pipe_in("The model that made the motion (its basis is recorded)."),
                    sockets.motion_in(tooltip="The motion to keep."),
                    io.String.Input("filename_prefix", default=f"{MOTION_SUBFOLDER}/FloatKit",
                                    tooltip="File name start, may include subfolders. Files always go under "
                                            "output/motion, where Load Motion finds them: 'takes/hero' is "
                                            "saved as output/motion/takes/hero_00001_.safetensors.")],
            outputs=[], category=CATEGORY, is_output_node=True)

    @classmethod
    def execute(cls, pipe, motion, filename_prefix: str) -> io.NodeOutput:
        filename, subfolder = save_to_output(pipe, motion, filename_prefix)
        shown = f"{subfolder}/{filename}" if subfolder else filename
        return io.NodeOutput(ui=ui.PreviewText(f"saved {motion.num_frames} frames at {motion.fps:g} fps to "
                                               f"output/{shown}; load it with Load Motion as '{shown} [output]'"))


def _motion_files(directory: str) -> list[str]:
    """Motion files under `directory`, following links only to folders inside it and not seen yet,
    so a link loop (`-> .`) cannot make the walk endless, and only files Load Motion would open."""
    root = os.path.realpath(directory)
    seen: set[str] = set()
    found = []
    for here, dirs, files in os.walk(directory, followlinks=True):
        real = os.path.realpath(here)
        if real in seen or not _inside(real, root):
            dirs[:] = []
            continue
        seen.add(real)
        rel = os.path.relpath(here, directory)
        found += [f if rel == "." else f"{rel}/{f}".replace(os.sep, "/") for f in files
                  if f.endswith(EXTENSION) and _inside(os.path.realpath(os.path.join(here, f)), root)]
    return sorted(found)


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def _motion_roots() -> dict[str, str]:
    """Where motion may be loaded from: the input folder, and the output folder's motion/ subfolder."""
    return {"input": folder_paths.get_input_directory(),
            "output": os.path.join(folder_paths.get_output_directory(), MOTION_SUBFOLDER)}


def motion_file_names() -> list[str]:
    """LATEST, .safetensors in the input folder, then motion files in the output folder marked ' [output]'."""
    roots = _motion_roots()
    return [LATEST] + _motion_files(roots["input"]) + \
        [f"{MOTION_SUBFOLDER}/{name} [output]" for name in _motion_files(roots["output"])]


def latest_motion_path() -> str:
    """The newest motion file under output/motion (what Save Motion wrote last)."""
    output = os.path.join(folder_paths.get_output_directory(), MOTION_SUBFOLDER)
    paths = [os.path.join(output, name) for name in _motion_files(output)]
    if not paths:
        raise FileNotFoundError(f"no saved motion yet in {output}: run Save Motion first, then load it")
    return max(paths, key=os.path.getmtime)


def motion_file_path(name: str) -> str:
    """The real path of a listed motion file. Anything that resolves (links included) outside the input
    folder or output/motion gets the same answer as a missing file, so a prompt cannot probe for files."""
    if name == LATEST:
        return latest_motion_path()
    base, relative = "input", str(name)
    for tag in ("input", "output"):
        if relative.endswith(f" [{tag}]"):
            base, relative = tag, relative[: -len(tag) - 3]
    root = os.path.realpath(_motion_roots()[base])
    if base == "output":  # listed as motion/<name> [output]
        relative = relative[len(MOTION_SUBFOLDER) + 1:] if relative.startswith(MOTION_SUBFOLDER + "/") else ""
    path = os.path.realpath(os.path.join(root, relative)) if relative and "\0" not in relative else root
    if path == root or not _inside(path, root) or not os.path.isfile(path):
        raise FileNotFoundError(f"motion file {name!r} not found in ComfyUI's input folder or output/motion: save "
                                "one with Save Motion, or put a FloatKit motion .safetensors in the input folder")
    return path


def load_from_file(pipe, name: str):
    return load_motion(motion_file_path(name), direction_weight(pipe))


class LoadMotion(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitLoadMotion", "FLOAT Load Motion",
            "Loads a motion saved by Save Motion (from the input folder, or the output folder's motion/ files "
            "marked [output]). Motion made by a different model is refused.",
            inputs=[sockets.pipe_in("The loaded model; it must be the one that made the motion."),
                    io.Combo.Input("motion_file", options=motion_file_names(),
                                   tooltip="A FloatKit motion .safetensors; '(latest saved motion)' takes the "
                                           "newest file Save Motion wrote to output/motion.")],
            outputs=[sockets.output(sockets.Motion, "motion", "The saved motion.")], category=CATEGORY)

    @classmethod
    def validate_inputs(cls, motion_file: str) -> bool | str:
        try:
            motion_file_path(motion_file)
        except (FileNotFoundError, ValueError) as err:
            return str(err)
        return True

    @classmethod
    def fingerprint_inputs(cls, motion_file: str, **_linked):
        """Reload when the file changes. ComfyUI passes every input here (pipe too, as None), hence **_linked."""
        try:
            return os.stat(motion_file_path(motion_file)).st_mtime_ns
        except (FileNotFoundError, ValueError):
            return motion_file

    @classmethod
    def execute(cls, pipe, motion_file: str) -> io.NodeOutput:
        return io.NodeOutput(load_from_file(pipe, motion_file))


NODES: list[type[io.ComfyNode]] = [MotionFromVideo, SaveMotion, LoadMotion]
