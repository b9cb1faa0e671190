"""Write the motion-editing example workflows (workflows/floatkit_<group>.json), UI format.

    python tools/make_edit_workflows.py

Uses the graph builder of tools/make_workflows.py; widget values follow each node's schema order
(nodes/edit*.py). tests/test_edit_nodes.py converts and runs every file written here.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_workflows as base  # noqa: E402

M, P, A, I, E = "FLOATKIT_MOTION", "FLOATKIT_PIPE", "FLOATKIT_AUDIO_FEATURES", "FLOATKIT_IDENTITY", "FLOATKIT_EMOTION"
EDIT_INPUTS = {
    "FloatKitMotionIntensity": [("motion", M)], "FloatKitMotionSmooth": [("motion", M)],
    "FloatKitMotionDirectionGains": [("pipe", P), ("motion", M)], "FloatKitMotionInfo": [("pipe", P), ("motion", M)],
    "FloatKitMotionBlend": [("motion_a", M), ("motion_b", M)],
    "FloatKitMotionMixDirections": [("pipe", P), ("base", M), ("donor", M)],
    "FloatKitMotionTrim": [("motion", M)], "FloatKitMotionLoop": [("motion", M)], "FloatKitMotionSpeed": [("motion", M)],
    "FloatKitMotionConcat": [("motion_a", M), ("motion_b", M), ("motion_c", M, True)],
    "FloatKitEmotionSchedule": [("audio_features", A, True), ("base", E, True)],
    "FloatKitRestOnSilence": [("motion", M), ("audio", "AUDIO")],
    "FloatKitPasteBack": [("images", "IMAGE"), ("original", "IMAGE"), ("crop_box", "FLOATKIT_CROP_BOX")],
    "FloatKitMotionFromVideo": [("pipe", P), ("images", "IMAGE"), ("identity", I, True)],
    "FloatKitSaveMotion": [("pipe", P), ("motion", M)], "FloatKitLoadMotion": [("pipe", P)],
    "LoadVideo": [], "GetVideoComponents": [("video", "VIDEO")],
}
EDIT_OUTPUTS = {
    **{k: [("motion", M)] for k in EDIT_INPUTS if k.startswith("FloatKitMotion") or k in (
        "FloatKitRestOnSilence", "FloatKitLoadMotion")},
    "FloatKitMotionInfo": [("report", "STRING")], "FloatKitEmotionSchedule": [("emotion", E)],
    "FloatKitPasteBack": [("images", "IMAGE")], "FloatKitSaveMotion": [],
    "LoadVideo": [("VIDEO", "VIDEO")], "GetVideoComponents": [("images", "IMAGE"), ("audio", "AUDIO"), ("fps", "FLOAT")],
}
base.INPUTS.update(EDIT_INPUTS)
base.OUTPUTS.update(EDIT_OUTPUTS)
base.SIZES.update({"FloatKitMotionInfo": [360, 300], "FloatKitEmotionSchedule": [340, 260]})

LICENCE = " FLOAT is licensed CC BY-NC-ND 4.0 by its authors: non-commercial use only."


def sampled(note: str, emotion_node: bool = True) -> tuple[list[tuple], list[tuple]]:
    """Sources + Encode Portrait (11), Encode Speech (12), Emotion from Speech (13), Sample Motion (14)."""
    spec = base.sources(note) + [(11, "FloatKitEncodeImage", [430, 0], []), (12, "FloatKitEncodeAudio", [430, 160], [])]
    wires = [(4, 0, 11, "pipe"), (2, 0, 11, "image"), (4, 0, 12, "pipe"), (3, 0, 12, "audio"),
             (4, 0, 14, "pipe"), (11, 0, 14, "identity"), (12, 0, 14, "audio_features")]
    if emotion_node:
        spec.append((13, "FloatKitEmotionFromSpeech", [430, 320], []))
        wires += [(4, 0, 13, "pipe"), (3, 0, 13, "audio"), (13, 0, 14, "emotion")]
    spec.append((14, "FloatKitSampleMotion", [760, 0], base.SAMPLER))
    return spec, wires


def decoded(motion_from: int, x: int, audio: bool = True, first_id: int = 15) -> tuple[list[tuple], list[tuple]]:
    """Decode (first_id) -> Create Video (first_id + 5) -> Save Video (first_id + 6), with the speech as sound."""
    video, save = first_id + 5, first_id + 6
    spec = [(first_id, "FloatKitDecode", [x, 300], [0]), (video, "CreateVideo", [x + 330, 0], [25.0]),
            (save, "SaveVideo", [x + 660, 0], ["video/FloatKit", "mp4", "h264"])]
    wires = [(4, 0, first_id, "pipe"), (11, 0, first_id, "identity"), (motion_from, 0, first_id, "motion"),
             (first_id, 0, video, "images"), (first_id, 1, video, "fps"), (video, 0, save, "video")]
    if audio:
        wires.append((3, 0, video, "audio"))
    return spec, wires


INTENSITY_NOTE = (
    "FloatKit motion intensity: calm or exaggerate the generated motion before it is rendered.\n\n"
    "Motion Info lists which of FLOAT's 20 motion directions move most in this clip (run once, read the "
    "table). Direction Gains then scales just those directions (here direction 0 at 0.5: try the top "
    "entries of the table to tame head sway without touching the lips). Motion Intensity scales everything "
    "around the portrait's own pose (1 = unchanged, 0 = still). Motion Smooth removes jitter (sigma in "
    "frames)." + LICENCE)
TIME_NOTE = (
    "FloatKit motion time edits: cut, slow down, join and loop a generated motion.\n\nTrim keeps 0-2 s; "
    "Speed plays that part at half speed (twice as many frames); Concat plays the normal part, then the slow "
    "one; Loop ping-pongs the result to 10 s (250 frames at 25 fps). The lips no longer follow the speech "
    "after such edits, so the video has no sound; use them for idle or reaction clips." + LICENCE)
BLEND_NOTE = (
    "FloatKit motion blending: two takes of the same speech (one with the recognised emotion, one 'happy' "
    "with seed 16) are combined two ways.\n\nMotion Blend crossfades from take A to take B over the clip "
    "(weight 0 on the first frame, 1 on the last). Mix Directions keeps take A and takes only directions 0-4 "
    "from take B (use Motion Info to see which directions carry the head and which the lips)." + LICENCE)
SCHEDULE_NOTE = (
    "FloatKit emotion schedule: the emotion changes during the clip.\n\nEach line of the schedule is "
    "'start-end: emotion' in seconds (label with optional intensity, or 7 probabilities). The schedule takes "
    "its length from the speech (audio_features) and crossfades 0.4 s between emotions. Sample Motion uses "
    "it per frame; e_cfg_scale 5 makes the emotions visible." + LICENCE)
VIDEO_NOTE = (
    "FloatKit motion from video: the portrait copies the head and face motion of a driving video instead of "
    "motion generated from speech.\n\nLoad Video + Get Video Components give the frames (crop the driving "
    "face like the portrait, square). Motion From Video reads each frame's pose with FLOAT's motion encoder; "
    "'relative' keeps the portrait's own pose and adds the video's changes. The video's sound is reused."
    + LICENCE)
SAVE_LOAD_NOTE = (
    "FloatKit save and load motion.\n\nFirst run: Save Motion writes the generated motion to "
    "output/motion/FloatKit_00001_.safetensors (with fps, frames and the model's basis fingerprint). Then "
    "unmute the lower branch (select it, Ctrl+M), refresh the node definitions (R), pick the file in Load "
    "Motion (output files show as '... [output]') and run again: the motion is rendered without sampling. "
    "A motion saved with another FLOAT checkpoint is refused." + LICENCE)
SILENCE_NOTE = (
    "FloatKit rest on silence: where the speech is silent (quieter than -40 dBFS for at least 5 frames), "
    "the face eases back to the portrait's own pose over 3 frames, so the mouth closes instead of moving on "
    "breath and noise. Frames with speech are left exactly as sampled. Raise threshold_db for noisy "
    "recordings." + LICENCE)
PASTE_NOTE = (
    "FloatKit paste back: animate the face of a full photo and put it back into the photo.\n\nCrop Portrait "
    "finds the face and cuts the square FLOAT needs (and remembers where, as a crop box). After sampling and "
    "decoding, Paste Back scales each frame to the crop's size and blends it into the original photo with a "
    "16-pixel soft edge. Outside the crop the photo is unchanged." + LICENCE)


def intensity() -> dict:
    spec, wires = sampled(INTENSITY_NOTE)
    spec += [(30, "FloatKitMotionInfo", [1090, 420], [10]),
             (31, "FloatKitMotionDirectionGains", [1090, 0], ["0", 0.5, 1.0]),
             (32, "FloatKitMotionIntensity", [1090, 180], [0.9]),
             (33, "FloatKitMotionSmooth", [1090, 280], [1.5, "keep ends"])]
    wires += [(4, 0, 30, "pipe"), (14, 0, 30, "motion"), (4, 0, 31, "pipe"), (14, 0, 31, "motion"),
              (31, 0, 32, "motion"), (32, 0, 33, "motion")]
    more, links = decoded(33, 1430)
    return base.build(spec + more, wires + links, "motion-intensity")


def time_edits() -> dict:
    spec, wires = sampled(TIME_NOTE)
    spec += [(30, "FloatKitMotionTrim", [1090, 0], [0.0, 2.0, "seconds"]),
             (31, "FloatKitMotionSpeed", [1090, 180], [0.5]),
             (32, "FloatKitMotionConcat", [1090, 300], []),
             (33, "FloatKitMotionLoop", [1090, 420], [250, "ping-pong"])]
    wires += [(14, 0, 30, "motion"), (30, 0, 31, "motion"), (30, 0, 32, "motion_a"), (31, 0, 32, "motion_b"),
              (32, 0, 33, "motion")]
    more, links = decoded(33, 1430, audio=False)
    return base.build(spec + more, wires + links, "motion-time")


def blend() -> dict:
    spec, wires = sampled(BLEND_NOTE)
    spec += [(40, "FloatKitEmotionFromLabel", [430, 480], ["happy", 1.0]),
             (41, "FloatKitSampleMotion", [760, 330], [2.0, 1.0, 1.0, 10, "euler", 16, "fixed"], "Sample take B"),
             (30, "FloatKitMotionBlend", [1090, 0], [0.0, 1.0, False]),
             (31, "FloatKitMotionMixDirections", [1090, 600], ["0-4", False])]
    wires += [(4, 0, 41, "pipe"), (11, 0, 41, "identity"), (12, 0, 41, "audio_features"), (40, 0, 41, "emotion"),
              (14, 0, 30, "motion_a"), (41, 0, 30, "motion_b"),
              (4, 0, 31, "pipe"), (14, 0, 31, "base"), (41, 0, 31, "donor")]
    first, links1 = decoded(30, 1430)
    second, links2 = decoded(31, 1430, first_id=50)
    for node in second:
        node[2][1] += 600
    return base.build(spec + first + second, wires + links1 + links2, "motion-blend")


def emotion_schedule() -> dict:
    spec, wires = sampled(SCHEDULE_NOTE, emotion_node=False)
    spec[-1] = (14, "FloatKitSampleMotion", [760, 0], [2.0, 5.0, 1.0, 10, "euler", 15, "fixed"])
    spec += [(30, "FloatKitEmotionSchedule", [430, 340],
              ["0-2: neutral\n2-4: happy\n4-: surprise 0.8", "neutral", 0.4, 250, 25.0])]
    wires += [(12, 0, 30, "audio_features"), (30, 0, 14, "emotion")]
    more, links = decoded(14, 1090)
    return base.build(spec + more, wires + links, "emotion-schedule")


def motion_from_video() -> dict:
    spec = base.sources(VIDEO_NOTE)[:2] + [base.sources(VIDEO_NOTE)[3]] + [
        (5, "LoadVideo", [20, 380], ["driving.mp4", "image"]),
        (6, "GetVideoComponents", [330, 380], []),
        (11, "FloatKitEncodeImage", [430, 0], []),
        (30, "FloatKitMotionFromVideo", [760, 0], ["relative", 25.0, 8])]
    wires = [(5, 0, 6, "video"), (4, 0, 11, "pipe"), (2, 0, 11, "image"),
             (4, 0, 30, "pipe"), (6, 0, 30, "images"), (11, 0, 30, "identity")]
    more, links = decoded(30, 1090, audio=False)
    links.append((6, 1, 20, "audio"))
    return base.build(spec + more, wires + links, "motion-from-video")


def save_load() -> dict:
    spec, wires = sampled(SAVE_LOAD_NOTE)
    spec += [(30, "FloatKitSaveMotion", [1090, 0], ["motion/FloatKit"]),
             (31, "FloatKitLoadMotion", [1090, 300], ["motion/FloatKit_00001_.safetensors [output]"])]
    wires += [(4, 0, 30, "pipe"), (14, 0, 30, "motion"), (4, 0, 31, "pipe")]
    more, links = decoded(31, 1430)
    graph = base.build(spec + more, wires + links, "save-load-motion")
    for node in graph["nodes"]:
        if node["id"] in (31, 15, 20, 21):
            node["mode"] = 2  # muted until the file exists (see the note)
    return graph


def rest_on_silence() -> dict:
    spec, wires = sampled(SILENCE_NOTE)
    spec += [(30, "FloatKitRestOnSilence", [1090, 0], [-40.0, 3, 5, 1.0])]
    wires += [(14, 0, 30, "motion"), (3, 0, 30, "audio")]
    more, links = decoded(30, 1430)
    return base.build(spec + more, wires + links, "rest-on-silence")


def paste_back() -> dict:
    spec, wires = sampled(PASTE_NOTE)
    spec += [(10, "FloatKitCropPortrait", [330, -200], ["face crop", 1.6, 512]),
             (30, "FloatKitPasteBack", [1430, 300], [16])]
    wires = [w for w in wires if w[2:] != (11, "image")] + [(2, 0, 10, "image"), (10, 0, 11, "image")]
    more, links = decoded(14, 1090)
    links = [w for w in links if w[2] != 20 or w[3] != "images"]
    links += [(15, 0, 30, "images"), (2, 0, 30, "original"), (10, 1, 30, "crop_box"), (30, 0, 20, "images")]
    return base.build(spec + more, wires + links, "paste-back")


WORKFLOWS = {
    "floatkit_motion_intensity.json": intensity, "floatkit_motion_time.json": time_edits,
    "floatkit_motion_blend.json": blend, "floatkit_emotion_schedule.json": emotion_schedule,
    "floatkit_motion_from_video.json": motion_from_video, "floatkit_save_load_motion.json": save_load,
    "floatkit_rest_on_silence.json": rest_on_silence, "floatkit_paste_back.json": paste_back,
}

if __name__ == "__main__":
    base.OUT.mkdir(exist_ok=True)
    for name, make in WORKFLOWS.items():
        base.write(name, make())
