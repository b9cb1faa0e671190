"""Write workflows/*.json: ComfyUI UI-format graphs (what File -> Save writes and the template
browser opens) and an API-format copy of the basic graph for headless use (POST /prompt).

    python tools/make_workflows.py

Widget values follow each node's schema order; a seed with control_after_generate carries one extra
value ("fixed") right after it. Model names are those of the default layout (models/float/float.pth
and the two HuggingFace folders beside it). The tests run every file written here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "workflows"

LOADER = ["float.pth", "wav2vec2-base-960h", "wav2vec-english-speech-emotion-recognition", "auto", "auto"]
SAMPLER = [2.0, 1.0, 1.0, 10, "euler", 15, "fixed"]  # a_cfg, e_cfg, r_cfg, nfe, solver, seed, control

# Socket inputs, in schema order: (name, type, optional, widget). Widgets appear here only so that a
# link can reach them (CreateVideo's fps); their values live in widgets_values.
INPUTS = {
    "LoadImage": [], "LoadAudio": [], "FloatKitLoadModels": [], "FloatKitEmotionFromLabel": [], "Note": [],
    "FloatKitAnimate": [("pipe", "FLOATKIT_PIPE"), ("image", "IMAGE"), ("audio", "AUDIO"),
                        ("emotion_override", "FLOATKIT_EMOTION", True)],
    "FloatKitCropPortrait": [("image", "IMAGE")],
    "FloatKitEncodeImage": [("pipe", "FLOATKIT_PIPE"), ("image", "IMAGE")],
    "FloatKitEncodeAudio": [("pipe", "FLOATKIT_PIPE"), ("audio", "AUDIO")],
    "FloatKitEmotionFromSpeech": [("pipe", "FLOATKIT_PIPE"), ("audio", "AUDIO")],
    "FloatKitSampleMotion": [("pipe", "FLOATKIT_PIPE"), ("identity", "FLOATKIT_IDENTITY"),
                             ("audio_features", "FLOATKIT_AUDIO_FEATURES"), ("emotion", "FLOATKIT_EMOTION")],
    "FloatKitDecode": [("pipe", "FLOATKIT_PIPE"), ("identity", "FLOATKIT_IDENTITY"), ("motion", "FLOATKIT_MOTION")],
    "CreateVideo": [("images", "IMAGE"), ("fps", "FLOAT", False, True), ("audio", "AUDIO", True)],
    "SaveVideo": [("video", "VIDEO")],
}
OUTPUTS = {
    "LoadImage": [("IMAGE", "IMAGE"), ("MASK", "MASK")], "LoadAudio": [("AUDIO", "AUDIO")],
    "FloatKitLoadModels": [("pipe", "FLOATKIT_PIPE")],
    "FloatKitAnimate": [("images", "IMAGE"), ("audio", "AUDIO"), ("fps", "FLOAT")],
    "FloatKitCropPortrait": [("portrait", "IMAGE"), ("crop_box", "FLOATKIT_CROP_BOX")],
    "FloatKitEncodeImage": [("identity", "FLOATKIT_IDENTITY")],
    "FloatKitEncodeAudio": [("audio_features", "FLOATKIT_AUDIO_FEATURES"), ("frames", "INT")],
    "FloatKitEmotionFromSpeech": [("emotion", "FLOATKIT_EMOTION")],
    "FloatKitEmotionFromLabel": [("emotion", "FLOATKIT_EMOTION")],
    "FloatKitSampleMotion": [("motion", "FLOATKIT_MOTION")],
    "FloatKitDecode": [("images", "IMAGE"), ("fps", "FLOAT")],
    "CreateVideo": [("VIDEO", "VIDEO")], "SaveVideo": [], "Note": [],
}
SIZES = {"Note": [400, 260], "LoadImage": [300, 330], "LoadAudio": [300, 140], "FloatKitLoadModels": [380, 180],
         "FloatKitAnimate": [330, 330], "FloatKitSampleMotion": [320, 250], "SaveVideo": [330, 330]}


def build(spec: list[tuple], wires: list[tuple], title: str) -> dict:
    """spec: (id, type, [x, y], widgets_values[, title]); wires: (from id, out slot, to id, input name)."""
    nodes = {}
    for order, (node_id, kind, pos, values, *rest) in enumerate(spec):
        inputs = [{"name": i[0], "type": i[1], "link": None, **({"shape": 7} if len(i) > 2 and i[2] else {}),
                   **({"widget": {"name": i[0]}} if len(i) > 3 and i[3] else {})} for i in INPUTS[kind]]
        outputs = [{"name": n, "type": t, "links": [], "slot_index": s} for s, (n, t) in enumerate(OUTPUTS[kind])]
        node = {"id": node_id, "type": kind, "pos": pos, "size": SIZES.get(kind, [300, 110]), "flags": {},
                "order": order, "mode": 0, "inputs": inputs, "outputs": outputs,
                "properties": {"Node name for S&R": kind}, "widgets_values": values}
        if rest:
            node["title"] = rest[0]
        if kind == "Note":
            node.update(color="#432", bgcolor="#653")
        nodes[node_id] = node
    links = []
    for link_id, (src, slot, dst, name) in enumerate(wires, start=1):
        target = nodes[dst]
        index = next(i for i, inp in enumerate(target["inputs"]) if inp["name"] == name)
        target["inputs"][index]["link"] = link_id
        nodes[src]["outputs"][slot]["links"].append(link_id)
        links.append([link_id, src, slot, dst, index, target["inputs"][index]["type"]])
    for node in nodes.values():
        for out in node["outputs"]:
            out["links"] = out["links"] or None
    return {"id": f"floatkit-{title}", "revision": 0, "last_node_id": max(nodes), "last_link_id": len(links),
            "nodes": list(nodes.values()), "links": links, "groups": [], "config": {},
            "extra": {"ds": {"scale": 0.8, "offset": [40, 40]}}, "version": 0.4}


def sources(note: str) -> list[tuple]:
    return [(1, "Note", [20, -300], [note], "About this workflow"),
            (2, "LoadImage", [20, 0], ["portrait.png", "image"]),
            (3, "LoadAudio", [20, 380], ["speech.wav", None, None]),
            (4, "FloatKitLoadModels", [20, 570], LOADER)]


def video_out(x: int) -> list[tuple]:
    return [(20, "CreateVideo", [x, 0], [25.0]), (21, "SaveVideo", [x + 330, 0], ["video/FloatKit", "mp4", "h264"])]


BASIC_NOTE = (
    "FloatKit basic: a photo and a speech clip in, a talking video with sound out.\n\n"
    "1. Put float.pth, wav2vec2-base-960h/ and wav2vec-english-speech-emotion-recognition/ in "
    "ComfyUI/models/float (HuggingFace yuvraj108c/float), or FLOAT.safetensors (set-soft/float) and pick "
    "'(inside checkpoint)' for both folders.\n2. Choose your photo and speech in the two loaders.\n"
    "3. Queue. The video lands in output/video/ as an mp4 at 25 fps, with the speech as its sound.\n\n"
    "face_crop finds and crops the face; turn it off for ready 512x512 portraits. FLOAT is licensed "
    "CC BY-NC-ND 4.0 by its authors: non-commercial use only.")
REDIRECT_NOTE = (
    "FloatKit emotion redirection: the face shows the emotion you choose instead of the one recognised "
    "in the speech.\n\nFLOAT Emotion from Label makes a one-hot emotion scaled by intensity and replaces "
    "Animate's emotion choice through emotion_override. e_cfg_scale (here 5) sets how strongly it shows; "
    "1 is the official default, 5-10 make it obvious. No emotion encoder is needed for a label.")
PIPELINE_NOTE = (
    "FloatKit step by step: the same result as FLOAT Animate Portrait (same seed, same frames), with every "
    "stage as its own node so you can inspect, reuse or rewire it.\n\nCrop Portrait -> Encode Portrait "
    "(identity) ; Encode Speech (audio features, frame count) ; Emotion from Speech ; Sample Motion (the "
    "flow-matching sampler: cfg scales, nfe, solver, seed) ; Decode Motion (frames + fps) -> Create Video with "
    "the original speech -> Save Video.\n\nSwap Emotion from Speech for Emotion from Label to redirect the "
    "emotion; encode once and sample many seeds.")


def basic() -> dict:
    spec = sources(BASIC_NOTE) + [(10, "FloatKitAnimate", [430, 0], ["from speech", True] + SAMPLER)] + video_out(800)
    wires = [(4, 0, 10, "pipe"), (2, 0, 10, "image"), (3, 0, 10, "audio"),
             (10, 0, 20, "images"), (10, 2, 20, "fps"), (10, 1, 20, "audio"), (20, 0, 21, "video")]
    return build(spec, wires, "basic")


def emotion_redirect() -> dict:
    spec = sources(REDIRECT_NOTE) + [
        (11, "FloatKitEmotionFromLabel", [430, 380], ["happy", 1.0]),
        (10, "FloatKitAnimate", [430, 0], ["from speech", True, 2.0, 5.0, 1.0, 10, "euler", 15, "fixed"]),
    ] + video_out(800)
    wires = [(4, 0, 10, "pipe"), (2, 0, 10, "image"), (3, 0, 10, "audio"), (11, 0, 10, "emotion_override"),
             (10, 0, 20, "images"), (10, 2, 20, "fps"), (10, 1, 20, "audio"), (20, 0, 21, "video")]
    return build(spec, wires, "emotion-redirect")


def pipeline() -> dict:
    spec = sources(PIPELINE_NOTE) + [
        (10, "FloatKitCropPortrait", [430, 0], ["face crop", 1.6, 512]),
        (11, "FloatKitEncodeImage", [760, 0], []),
        (12, "FloatKitEncodeAudio", [430, 380], []),
        (13, "FloatKitEmotionFromSpeech", [430, 540], []),
        (14, "FloatKitSampleMotion", [1090, 0], SAMPLER),
        (15, "FloatKitDecode", [1090, 300], [0]),
    ] + video_out(1430)
    wires = [(2, 0, 10, "image"), (4, 0, 11, "pipe"), (10, 0, 11, "image"),
             (4, 0, 12, "pipe"), (3, 0, 12, "audio"), (4, 0, 13, "pipe"), (3, 0, 13, "audio"),
             (4, 0, 14, "pipe"), (11, 0, 14, "identity"), (12, 0, 14, "audio_features"), (13, 0, 14, "emotion"),
             (4, 0, 15, "pipe"), (11, 0, 15, "identity"), (14, 0, 15, "motion"),
             (15, 0, 20, "images"), (15, 1, 20, "fps"), (3, 0, 20, "audio"), (20, 0, 21, "video")]
    return build(spec, wires, "pipeline")


LONG_SPEECH_NOTE = (
    "FloatKit long speech: minutes of speech (even an hour) in one node, with memory that does not grow with "
    "the length.\n\nFLOAT Animate to Video does what Animate Portrait does, but writes the frames straight "
    "into an MP4 (with the speech) a few at a time instead of keeping every frame in memory as an IMAGE "
    "batch (about 3 MiB per frame: 44 GB for 10 minutes). Save Video keeps the result in output/video/.\n\n"
    "For the separate nodes use FLOAT Render Video in place of Decode Motion + Create Video. paste_back puts the "
    "face back into the whole photo. crf sets the quality (18 near-lossless).")

# The streaming path's node (kept apart from the tables above so that this workflow stays self-contained).
INPUTS["FloatKitAnimateToVideo"] = [("pipe", "FLOATKIT_PIPE"), ("image", "IMAGE"), ("audio", "AUDIO"),
                                    ("emotion_override", "FLOATKIT_EMOTION", True)]
OUTPUTS["FloatKitAnimateToVideo"] = [("video", "VIDEO")]
SIZES["FloatKitAnimateToVideo"] = [330, 400]


def long_speech() -> dict:
    widgets = ["from speech", True, False] + SAMPLER + [18, 0]  # emotion, face_crop, paste_back, ..., crf, batch
    spec = sources(LONG_SPEECH_NOTE) + [(10, "FloatKitAnimateToVideo", [430, 0], widgets),
                                        (21, "SaveVideo", [800, 0], ["video/FloatKit", "mp4", "h264"])]
    wires = [(4, 0, 10, "pipe"), (2, 0, 10, "image"), (3, 0, 10, "audio"), (10, 0, 21, "video")]
    return build(spec, wires, "long-speech")


def basic_api() -> dict:
    """The basic graph as an API prompt (File -> Export (API)): widget values by name, links as [id, slot]."""
    sampler = dict(zip(["a_cfg_scale", "e_cfg_scale", "r_cfg_scale", "nfe", "solver", "seed"], SAMPLER))
    return {
        "2": {"class_type": "LoadImage", "inputs": {"image": "portrait.png"}, "_meta": {"title": "Load Image"}},
        "3": {"class_type": "LoadAudio", "inputs": {"audio": "speech.wav"}, "_meta": {"title": "Load Audio"}},
        "4": {"class_type": "FloatKitLoadModels", "_meta": {"title": "Load FLOAT Models"},
              "inputs": dict(zip(["checkpoint", "audio_encoder", "emotion_encoder", "device", "precision"], LOADER))},
        "10": {"class_type": "FloatKitAnimate", "_meta": {"title": "FLOAT Animate Portrait"},
               "inputs": {"pipe": ["4", 0], "image": ["2", 0], "audio": ["3", 0], "emotion": "from speech",
                          "face_crop": True, **sampler}},
        "20": {"class_type": "CreateVideo", "inputs": {"images": ["10", 0], "fps": ["10", 2], "audio": ["10", 1]},
               "_meta": {"title": "Create Video"}},
        "21": {"class_type": "SaveVideo", "_meta": {"title": "Save Video"},
               "inputs": {"video": ["20", 0], "filename_prefix": "video/FloatKit", "format": "mp4", "codec": "h264"}},
    }


def write(name: str, data: dict) -> None:
    path = OUT / name
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)  # whole or not at all


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    write("floatkit_basic.json", basic())
    write("floatkit_emotion_redirect.json", emotion_redirect())
    write("floatkit_pipeline.json", pipeline())
    write("floatkit_long_speech.json", long_speech())
    write("api/floatkit_basic_api.json", basic_api())
