"""Write workflows/*.json: ComfyUI UI-format graphs (what File -> Save writes and the template browser
opens) and, in workflows/api/, an API-format copy of the basic graph for headless use (POST /prompt).

    python tools/make_workflows.py        (then python tools/make_thumbnails.py)

tools/workflow_graph.py does the building: widget order and defaults come from each node's schema, the
layout from the node sizes. Here each workflow says only its nodes, the values that differ from the
defaults, and its wires. Model names are those of the default layout (models/float/float.pth and the two
HuggingFace folders beside it). The tests run every file written here.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workflow_graph import OUT, ROOT, Node, build, write  # noqa: E402

sys.path.insert(0, str(ROOT))
from float_models.app.download import AUDIO_TOWER_NAME, EMOTION_TOWER_NAME, MIRROR_REPO, MODEL_FILES  # noqa: E402

# download "if missing": a first run on an empty models/float fetches the three sets (the node's own
# default stays "never", so graphs people build, and workflows saved before, never download unasked).
LOADER = {"checkpoint": "float.pth", "audio_encoder": "wav2vec2-base-960h",
          "emotion_encoder": "wav2vec-english-speech-emotion-recognition", "download": "if missing"}
SAMPLER = {"a_cfg_scale": 2.0, "e_cfg_scale": 1.0, "r_cfg_scale": 1.0, "nfe": 10, "solver": "euler", "seed": 15}
LICENCE = "FLOAT is licensed CC BY-NC-ND 4.0 by its authors: non-commercial use only."
# Why the folders are in the Note and not in the loader's model list: see loader_models().
FOLDERS = (f"Newer ComfyUI frontends name float.pth with its download link when it is missing; their list takes "
           f"single files only, so {AUDIO_TOWER_NAME}/ and {EMOTION_TOWER_NAME}/ are not on it: the loader's "
           f"download fetches them, or take them by hand from the same repository.")
MODELS = ("Models: on the first run Load FLOAT Models (download: if missing) fetches float.pth, "
          "wav2vec2-base-960h/ and wav2vec-english-speech-emotion-recognition/ into ComfyUI/models/float "
          "(2.5 GB from HuggingFace yuvraj108c/float, progress on the node, Cancel keeps no partial file). Or put "
          "them there yourself, or FLOAT.safetensors (set-soft/float) with '(inside checkpoint)' for both folders. "
          + FOLDERS)
INPUTS = ("Inputs: portrait.png and speech.wav come with the pack, in custom_nodes/<this pack>/assets: copy "
          "them into ComfyUI/input (or pick your own photo and speech in the loaders).")


def model_url(file) -> str:
    """Where the browser fetches one MODEL_FILES entry: the mirror holding all three sets."""
    return f"https://huggingface.co/{MIRROR_REPO}/resolve/main/{file.mirror_file}"


def loader_models() -> list[dict[str, str]]:
    """Load FLOAT Models' `properties.models`, in the form core templates use ({name, url, directory}).

    The frontend (1.58) matches an entry to a widget value by name and offers its URL in the
    missing-models dialog; only values that look like model files (.pth, .safetensors, ...) are checked.
    A wav2vec2 folder is a widget value naming a folder of three files, which that format cannot
    describe: the Note names them instead (FOLDERS)."""
    folder = LOADER["checkpoint"]
    return [{"name": f.target, "url": model_url(f), "directory": "float"}
            for f in MODEL_FILES if f.target == folder]


def note(*parts: str) -> Node:
    return Node(1, "Note", {"text": "\n\n".join(parts)}, title="About this workflow")


def sources() -> list[Node]:
    """Load Image (2), Load Audio (3), Load FLOAT Models (4), in the "inputs" group."""
    return [Node(2, "LoadImage", {"image": "portrait.png"}, group="inputs"),
            Node(3, "LoadAudio", {"audio": "speech.wav"}, group="inputs"),
            Node(4, "FloatKitLoadModels", LOADER, group="inputs",
                 properties={"models": loader_models()})]


def video_out(column: int, first_id: int = 20) -> list[Node]:
    """Create Video (first_id) above Save Video (first_id + 1) in `column`, in the "output" group."""
    return [Node(first_id, "CreateVideo", {"fps": 25.0}, group="output", column=column),
            Node(first_id + 1, "SaveVideo", {"filename_prefix": "video/FloatKit", "format": "mp4", "codec": "h264"},
                 group="output", column=column)]


BASIC_NOTE = note(
    "FloatKit basic: a photo and a speech clip in, a talking video with sound out.", INPUTS, MODELS,
    "Queue. The video lands in ComfyUI/output/video/ as an mp4 at 25 fps, with the speech as its sound. "
    "face_crop finds and crops the face; turn it off for ready 512x512 portraits.", LICENCE)
REDIRECT_NOTE = note(
    "FloatKit emotion redirection: the face shows the emotion you choose instead of the one recognised in "
    "the speech. FLOAT Emotion from Label makes a one-hot emotion scaled by intensity and replaces Animate's "
    "emotion choice through emotion_override. e_cfg_scale (here 5) sets how strongly it shows; 1 is the "
    "official default, 5-10 make it obvious. No emotion encoder is needed for a label.", INPUTS, MODELS, LICENCE)
PIPELINE_NOTE = note(
    "FloatKit step by step: the same result as FLOAT Animate Portrait (same seed, same frames), with every "
    "stage as its own node so you can inspect, reuse or rewire it: Crop Portrait -> Encode Portrait "
    "(identity); Encode Speech (audio features, frame count); Emotion from Speech; Sample Motion (cfg scales, "
    "nfe, solver, seed); Decode Motion (frames + fps) -> Create Video with the original speech -> Save Video. "
    "Swap Emotion from Speech for Emotion from Label to redirect the emotion; encode once and sample many "
    "seeds.", INPUTS, MODELS, LICENCE)


def basic() -> dict:
    nodes = [BASIC_NOTE, *sources(), Node(10, "FloatKitAnimate", {"emotion": "from speech", "face_crop": True,
                                                                   **SAMPLER}), *video_out(2)]
    wires = [(4, 0, 10, "pipe"), (2, 0, 10, "image"), (3, 0, 10, "audio"),
             (10, 0, 20, "images"), (10, 2, 20, "fps"), (10, 1, 20, "audio"), (20, 0, 21, "video")]
    return build("floatkit_basic", nodes, wires)


def emotion_redirect() -> dict:
    nodes = [REDIRECT_NOTE, *sources(), Node(11, "FloatKitEmotionFromLabel", {"label": "happy", "intensity": 1.0}),
             Node(10, "FloatKitAnimate", {"emotion": "from speech", "face_crop": True, **SAMPLER, "e_cfg_scale": 5.0}),
             *video_out(2)]
    wires = [(4, 0, 10, "pipe"), (2, 0, 10, "image"), (3, 0, 10, "audio"), (11, 0, 10, "emotion_override"),
             (10, 0, 20, "images"), (10, 2, 20, "fps"), (10, 1, 20, "audio"), (20, 0, 21, "video")]
    return build("floatkit_emotion_redirect", nodes, wires)


def pipeline() -> dict:
    nodes = [PIPELINE_NOTE, *sources(),
             Node(10, "FloatKitCropPortrait", {"mode": "face crop", "margin": 1.6, "size": 512}, group="encoding"),
             Node(12, "FloatKitEncodeAudio", group="encoding", column=1),
             Node(13, "FloatKitEmotionFromSpeech", group="encoding", column=1),
             Node(11, "FloatKitEncodeImage", group="encoding", column=2),
             Node(14, "FloatKitSampleMotion", SAMPLER, group="sampling"),
             Node(15, "FloatKitDecode", {"batch_size": 0}, group="sampling", column=3), *video_out(4)]
    wires = [(2, 0, 10, "image"), (4, 0, 11, "pipe"), (10, 0, 11, "image"),
             (4, 0, 12, "pipe"), (3, 0, 12, "audio"), (4, 0, 13, "pipe"), (3, 0, 13, "audio"),
             (4, 0, 14, "pipe"), (11, 0, 14, "identity"), (12, 0, 14, "audio_features"), (13, 0, 14, "emotion"),
             (4, 0, 15, "pipe"), (11, 0, 15, "identity"), (14, 0, 15, "motion"),
             (15, 0, 20, "images"), (15, 1, 20, "fps"), (3, 0, 20, "audio"), (20, 0, 21, "video")]
    return build("floatkit_pipeline", nodes, wires)


LONG_SPEECH_NOTE = note(
    "FloatKit long speech: minutes of speech (even an hour) in one node, with memory that does not grow with "
    "the length. FLOAT Animate to Video does what Animate Portrait does, but writes the frames straight into an "
    "MP4 (with the speech) a few at a time instead of keeping every frame in memory as an IMAGE batch (about "
    "3 MiB per frame: 44 GB for 10 minutes). Save Video keeps the result in ComfyUI/output/video/. For the "
    "separate nodes use FLOAT Render Video in place of Decode Motion + Create Video. paste_back puts the face "
    "back into the whole photo; crf sets the quality (18 near-lossless).", INPUTS, MODELS, LICENCE)


def long_speech() -> dict:
    nodes = [LONG_SPEECH_NOTE, *sources(),
             Node(10, "FloatKitAnimateToVideo", {"emotion": "from speech", "face_crop": True, "paste_back": False,
                                                 **SAMPLER, "crf": 18, "batch_size": 0}),
             Node(21, "SaveVideo", {"filename_prefix": "video/FloatKit", "format": "mp4", "codec": "h264"},
                  group="output", column=2)]
    wires = [(4, 0, 10, "pipe"), (2, 0, 10, "image"), (3, 0, 10, "audio"), (10, 0, 21, "video")]
    return build("floatkit_long_speech", nodes, wires)


def basic_api() -> dict:
    """The basic graph as an API prompt (File -> Export (API)): widget values by name, links as [id, slot]."""
    return {
        "2": {"class_type": "LoadImage", "inputs": {"image": "portrait.png"}, "_meta": {"title": "Load Image"}},
        "3": {"class_type": "LoadAudio", "inputs": {"audio": "speech.wav"}, "_meta": {"title": "Load Audio"}},
        "4": {"class_type": "FloatKitLoadModels", "_meta": {"title": "Load FLOAT Models"},
              "inputs": {**{k: v for k, v in LOADER.items() if k != "download"}, "device": "auto",
                         "precision": "auto", "download": LOADER["download"]}},
        "10": {"class_type": "FloatKitAnimate", "_meta": {"title": "FLOAT Animate Portrait"},
               "inputs": {"pipe": ["4", 0], "image": ["2", 0], "audio": ["3", 0], "emotion": "from speech",
                          "face_crop": True, **SAMPLER, "output_fps": 25.0, "offset_ms": 0.0, "face": -1}},
        "20": {"class_type": "CreateVideo", "inputs": {"images": ["10", 0], "fps": ["10", 2], "audio": ["10", 1]},
               "_meta": {"title": "Create Video"}},
        "21": {"class_type": "SaveVideo", "_meta": {"title": "Save Video"},
               "inputs": {"video": ["20", 0], "filename_prefix": "video/FloatKit", "format": "mp4", "codec": "h264"}},
    }


WORKFLOWS = {"floatkit_basic.json": basic, "floatkit_emotion_redirect.json": emotion_redirect,
             "floatkit_pipeline.json": pipeline, "floatkit_long_speech.json": long_speech}

if __name__ == "__main__":
    for name, make in WORKFLOWS.items():
        write(name, make())
    write("api/floatkit_basic_api.json", basic_api())
