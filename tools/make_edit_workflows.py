"""Write the motion-editing example workflows (workflows/floatkit_<group>.json), UI format.

    python tools/make_edit_workflows.py        (then python tools/make_thumbnails.py)

Uses the builder of tools/workflow_graph.py (widget order and defaults from each node's schema, layout
from the node sizes) and the shared pieces of tools/make_workflows.py. tests/test_nodes_edit.py converts
and runs every file written here.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_workflows as base  # noqa: E402
from workflow_graph import Node, build, write  # noqa: E402

LICENCE, INPUTS, MODELS = base.LICENCE, base.INPUTS, base.MODELS
EDITS = "motion edits"
NO_SOUND = ("The lips no longer follow the speech after such edits, so the video has no sound; use them for "
            "idle or reaction clips.")


def sampled(emotion_node: bool = True, sampler: dict | None = None) -> tuple[list[Node], list[tuple]]:
    """Sources + Encode Portrait (11), Encode Speech (12), Emotion from Speech (13), Sample Motion (14)."""
    nodes = base.sources() + [Node(11, "FloatKitEncodeImage", group="sampling"),
                              Node(12, "FloatKitEncodeAudio", group="sampling", column=1)]
    wires = [(4, 0, 11, "pipe"), (2, 0, 11, "image"), (4, 0, 12, "pipe"), (3, 0, 12, "audio"),
             (4, 0, 14, "pipe"), (11, 0, 14, "identity"), (12, 0, 14, "audio_features")]
    if emotion_node:
        nodes.append(Node(13, "FloatKitEmotionFromSpeech", group="sampling", column=1))
        wires += [(4, 0, 13, "pipe"), (3, 0, 13, "audio"), (13, 0, 14, "emotion")]
    nodes.append(Node(14, "FloatKitSampleMotion", sampler or base.SAMPLER, group="sampling"))
    return nodes, wires


def decoded(motion_from: int, column: int, audio: bool = True, first_id: int = 15, group: str = "output",
            identity: int = 11) -> tuple[list[Node], list[tuple]]:
    """Decode (first_id, in `column`) -> Create Video (first_id + 5) above Save Video (first_id + 6) in the
    next column, all in the output group."""
    video, save = first_id + 5, first_id + 6
    nodes = [Node(first_id, "FloatKitDecode", group=group, column=column),
             Node(video, "CreateVideo", {"fps": 25.0}, group=group, column=column + 1),
             Node(save, "SaveVideo", {"filename_prefix": "video/FloatKit", "format": "mp4", "codec": "h264"},
                  group=group, column=column + 1)]
    wires = [(4, 0, first_id, "pipe"), (identity, 0, first_id, "identity"), (motion_from, 0, first_id, "motion"),
             (first_id, 0, video, "images"), (first_id, 1, video, "fps"), (video, 0, save, "video")]
    if audio:
        wires.append((3, 0, video, "audio"))
    return nodes, wires


INTENSITY_NOTE = base.note(
    "FloatKit motion intensity: calm or exaggerate the generated motion before it is rendered. Motion Info "
    "lists which of FLOAT's 20 motion directions move most in this clip (run once, read the table). "
    "Direction Gains then scales just those directions (here direction 0 at 0.5: try the top entries of the "
    "table to tame head sway without touching the lips). Motion Intensity scales everything around the "
    "portrait's own pose (1 = unchanged, 0 = still). Motion Smooth removes jitter (sigma in frames).",
    INPUTS, MODELS, LICENCE)
TIME_NOTE = base.note(
    "FloatKit motion time edits: cut, slow down, join and loop a generated motion. Trim keeps 0-2 s; Speed "
    "plays that part at half speed (twice as many frames); Concat plays the normal part, then the slow one; "
    "Loop ping-pongs the result to 10 s (250 frames at 25 fps). " + NO_SOUND, INPUTS, MODELS, LICENCE)
BLEND_NOTE = base.note(
    "FloatKit motion blending: two takes of the same speech (one with the recognised emotion, one 'happy' "
    "with seed 16) are combined two ways. Motion Blend crossfades from take A to take B over the clip "
    "(weight 0 on the first frame, 1 on the last). Mix Directions keeps take A and takes only directions 0-4 "
    "from take B (use Motion Info to see which directions carry the head and which the lips).",
    INPUTS, MODELS, LICENCE)
SCHEDULE_NOTE = base.note(
    "FloatKit emotion schedule: the emotion changes during the clip. Each line of the schedule is "
    "'start-end: emotion' in seconds (label with optional intensity, or 7 probabilities). The schedule takes "
    "its length from the speech (audio_features) and crossfades 0.4 s between emotions. Sample Motion uses "
    "it per frame; e_cfg_scale 5 makes the emotions visible.", INPUTS, MODELS, LICENCE)
VIDEO_NOTE = base.note(
    "FloatKit motion from video: the portrait copies the head and face motion of a driving video instead of "
    "motion generated from speech. Load Video + Get Video Components give the frames (crop the driving face "
    "like the portrait, square). Motion From Video reads each frame's pose with FLOAT's motion encoder; "
    "'relative' keeps the portrait's own pose and adds the video's changes. The video's sound is reused.",
    "Inputs: portrait.png and driving.mp4 come with the pack, in custom_nodes/<this pack>/assets: copy them "
    "into ComfyUI/input. driving.mp4 is made by assets/make_driving.py: the same portrait with a gentle "
    "synthetic head motion and the example speech as its sound; any talking-head clip works.",
    MODELS, LICENCE)
SAVE_LOAD_NOTE = base.note(
    "FloatKit save and load motion. First run: Save Motion writes the generated motion to "
    "ComfyUI/output/motion/FloatKit_00001_.safetensors (with fps, frames and the model's basis fingerprint). "
    "Then unmute the 'second run' group (select its nodes, Ctrl+M) and run again: Load Motion, set to "
    "'(latest saved motion)', renders the newest file in output/motion without sampling. To pick another "
    "file, press R to refresh the lists and choose it ('... [output]' for output files, or a .safetensors "
    "you put in ComfyUI/input). A motion saved with another FLOAT checkpoint is refused.",
    INPUTS, MODELS, LICENCE)
SILENCE_NOTE = base.note(
    "FloatKit rest on silence: where the speech is silent (quieter than -40 dBFS for at least 5 frames), the "
    "face eases back to the portrait's own pose over 3 frames, so the mouth closes instead of moving on "
    "breath and noise. Frames with speech are left exactly as sampled. Raise threshold_db for noisy "
    "recordings.", INPUTS, MODELS, LICENCE)
PASTE_NOTE = base.note(
    "FloatKit paste back: animate the face of a full photo and put it back into the photo. Crop Portrait "
    "finds the face and cuts the square FLOAT needs (and remembers where, as a crop box). After sampling and "
    "decoding, Paste Back scales each frame to the crop's size and blends it into the original photo with a "
    "16-pixel soft edge. Outside the crop the photo is unchanged.",
    "Inputs: speech.wav comes with the pack, in custom_nodes/<this pack>/assets: copy it into ComfyUI/input. "
    "The shipped portrait.png is already a close face crop, so little photo is left around the face; a "
    "wider photo of your own with one face shows the effect better.", MODELS, LICENCE)


def intensity() -> dict:
    nodes, wires = sampled()
    nodes += [Node(31, "FloatKitMotionDirectionGains", {"directions": "0", "gain": 0.5, "other_gain": 1.0},
                   group=EDITS, column=3),
              Node(32, "FloatKitMotionIntensity", {"intensity": 0.9}, group=EDITS, column=3),
              Node(33, "FloatKitMotionSmooth", {"sigma": 1.5, "edge": "keep ends"}, group=EDITS, column=3),
              Node(30, "FloatKitMotionInfo", {"top": 10}, group="inspect", column=3)]
    wires += [(4, 0, 30, "pipe"), (14, 0, 30, "motion"), (4, 0, 31, "pipe"), (14, 0, 31, "motion"),
              (31, 0, 32, "motion"), (32, 0, 33, "motion")]
    more, links = decoded(33, 4)
    return build("floatkit_motion_intensity", [INTENSITY_NOTE, *nodes, *more], wires + links)


def time_edits() -> dict:
    nodes, wires = sampled()
    nodes += [Node(30, "FloatKitMotionTrim", {"start": 0.0, "end": 2.0, "unit": "seconds"}, group=EDITS, column=3),
              Node(31, "FloatKitMotionSpeed", {"speed": 0.5}, group=EDITS, column=3),
              Node(32, "FloatKitMotionConcat", group=EDITS, column=3),
              Node(33, "FloatKitMotionLoop", {"frames": 250, "mode": "ping-pong"}, group=EDITS, column=3)]
    wires += [(14, 0, 30, "motion"), (30, 0, 31, "motion"), (30, 0, 32, "motion_a"), (31, 0, 32, "motion_b"),
              (32, 0, 33, "motion")]
    more, links = decoded(33, 4, audio=False)
    return build("floatkit_motion_time", [TIME_NOTE, *nodes, *more], wires + links)


def blend() -> dict:
    nodes, wires = sampled()
    nodes.insert(-1, Node(40, "FloatKitEmotionFromLabel", {"label": "happy", "intensity": 1.0}, group="sampling",
                          column=1))
    nodes += [Node(41, "FloatKitSampleMotion", {**base.SAMPLER, "seed": 16}, title="Sample take B", group="sampling"),
              Node(30, "FloatKitMotionBlend", {"weight_start": 0.0, "weight_end": 1.0, "trim_to_shorter": False},
                   group=EDITS, column=3),
              Node(31, "FloatKitMotionMixDirections", {"directions": "0-4", "trim_to_shorter": False}, group=EDITS, column=3)]
    wires += [(4, 0, 41, "pipe"), (11, 0, 41, "identity"), (12, 0, 41, "audio_features"), (40, 0, 41, "emotion"),
              (14, 0, 30, "motion_a"), (41, 0, 30, "motion_b"),
              (4, 0, 31, "pipe"), (14, 0, 31, "base"), (41, 0, 31, "donor")]
    first, links1 = decoded(30, 4, group="output: blend")
    second, links2 = decoded(31, 4, first_id=50, group="output: mixed directions")
    return build("floatkit_motion_blend", [BLEND_NOTE, *nodes, *first, *second], wires + links1 + links2)


def emotion_schedule() -> dict:
    nodes, wires = sampled(emotion_node=False, sampler={**base.SAMPLER, "e_cfg_scale": 5.0})
    nodes.insert(-1, Node(30, "FloatKitEmotionSchedule", {"schedule": "0-2: neutral\n2-4: happy\n4-: surprise 0.8",
                                                          "default_emotion": "neutral", "crossfade": 0.4},
                          group="sampling"))
    wires += [(12, 0, 30, "audio_features"), (30, 0, 14, "emotion")]
    more, links = decoded(14, 4)
    return build("floatkit_emotion_schedule", [SCHEDULE_NOTE, *nodes, *more], wires + links)


def motion_from_video() -> dict:
    sources = base.sources()
    nodes = [sources[0], Node(5, "LoadVideo", {"file": "driving.mp4"}, group="inputs"), sources[2],
             Node(6, "GetVideoComponents", group="motion from video"),
             Node(11, "FloatKitEncodeImage", group="motion from video"),
             Node(30, "FloatKitMotionFromVideo", {"mode": "relative", "fps": 25.0, "batch_size": 8},
                  group="motion from video")]
    wires = [(5, 0, 6, "video"), (4, 0, 11, "pipe"), (2, 0, 11, "image"),
             (4, 0, 30, "pipe"), (6, 0, 30, "images"), (11, 0, 30, "identity")]
    more, links = decoded(30, 3, audio=False)
    links.append((6, 1, 20, "audio"))
    return build("floatkit_motion_from_video", [VIDEO_NOTE, *nodes, *more], wires + links)


def save_load() -> dict:
    nodes, wires = sampled()
    nodes += [Node(30, "FloatKitSaveMotion", {"filename_prefix": "motion/FloatKit"}, group="first run: save", column=3),
              Node(31, "FloatKitLoadMotion", {"motion_file": LATEST}, group="second run: load and render",
                   column=3, mode=2)]
    wires += [(4, 0, 30, "pipe"), (14, 0, 30, "motion"), (4, 0, 31, "pipe")]
    more, links = decoded(31, 4, group="second run: load and render")
    for node in more:
        node.mode = 2  # muted until a motion is saved (see the Note)
    return build("floatkit_save_load_motion", [SAVE_LOAD_NOTE, *nodes, *more], wires + links)


def rest_on_silence() -> dict:
    nodes, wires = sampled()
    nodes += [Node(30, "FloatKitRestOnSilence", {"threshold_db": -40.0, "fade_frames": 3, "min_silence_frames": 5,
                                                 "strength": 1.0}, group=EDITS, column=3)]
    wires += [(14, 0, 30, "motion"), (3, 0, 30, "audio")]
    more, links = decoded(30, 4)
    return build("floatkit_rest_on_silence", [SILENCE_NOTE, *nodes, *more], wires + links)


def paste_back() -> dict:
    nodes, wires = sampled()
    nodes.insert(3, Node(10, "FloatKitCropPortrait", {"mode": "face crop", "margin": 1.6, "size": 512},
                         group="sampling"))
    wires = [w for w in wires if w[2:] != (11, "image")] + [(2, 0, 10, "image"), (10, 0, 11, "image")]
    more, links = decoded(14, 4)
    more.insert(1, Node(30, "FloatKitPasteBack", {"feather": 16}, group="output", column=4))
    links = [w for w in links if w[2] != 20 or w[3] != "images"]
    links += [(15, 0, 30, "images"), (2, 0, 30, "original"), (10, 1, 30, "crop_box"), (30, 0, 20, "images")]
    return build("floatkit_paste_back", [PASTE_NOTE, *nodes, *more], wires + links)


CALM_HEAD_NOTE = base.note(
    "FloatKit calm head: less head sway, the lips unchanged. FLOAT's motion has 20 directions; the ones whose "
    "movement follows the loudness of the speech frame by frame are the speaking ones (the lips), the rest are "
    "head sway and slow expression. Motion Info, given the speech, lists each direction's correlation with the "
    "loudness and marks the speaking ones. Motion Calm Head keeps those and scales every other direction by "
    "head_motion (0.3 here; 1 = unchanged, 0 = still head) around the portrait's own pose. Raise "
    "min_correlation if it keeps too much, lower it if the lips get damped. Direction Gains accepts the same "
    "choice as directions: 'speaking' or 'not speaking'.", INPUTS, MODELS, LICENCE)
FACE_FPS_MASK_NOTE = base.note(
    "FloatKit face choice, frame rate, sync offset and mask: a photo with two faces, the second one speaks. "
    "Crop Portrait with face 1 crops the second face from the left (faces are numbered 0, 1, ... from the left "
    "and shown numbered on the node; -1 = the largest); its mask shows where the crop lies in the photo. "
    "Animate Portrait (face_crop off: the portrait is already cropped) renders at fps 30 instead of the model's "
    "25: the motion is resampled in time before decoding, so every frame is a real decoded frame and the video "
    "has ceil(speech seconds x 30) frames; the speech is cut to the same length and the fps output sets Create "
    "Video's rate. offset_ms 80 delays the lips against the speech (negative = earlier), rounded to whole "
    "frames; the first frames show the portrait's own pose. Paste Back puts the face into the photo and gives "
    "the mask it pasted through; the core Image Composite Masked uses that mask to keep the speaker sharp over "
    "a blurred copy of the frames (Image Blur). For separate nodes use Motion Frame Rate and Motion Offset "
    "between Sample Motion and Decode.",
    "Inputs: two_faces.png and speech.wav come with the pack, in custom_nodes/<this pack>/assets: copy them "
    "into ComfyUI/input. two_faces.png is made by assets/make_examples.py from portrait.png (a smaller mirrored "
    "copy beside it); any photo with several faces works.", MODELS, LICENCE)


def calm_head() -> dict:
    nodes, wires = sampled()
    nodes += [Node(30, "FloatKitMotionInfo", {"top": 5}, group="inspect", column=3),
              Node(31, "FloatKitMotionCalmHead", {"head_motion": 0.3, "min_correlation": 0.3}, group=EDITS,
                   column=3)]
    wires += [(4, 0, 30, "pipe"), (14, 0, 30, "motion"), (3, 0, 30, "audio"),
              (4, 0, 31, "pipe"), (14, 0, 31, "motion"), (3, 0, 31, "audio")]
    more, links = decoded(31, 4)
    return build("floatkit_calm_head", [CALM_HEAD_NOTE, *nodes, *more], wires + links)


def face_fps_mask() -> dict:
    """Crop Portrait (face 1) -> Animate Portrait at 30 fps, 80 ms offset -> Paste Back -> the paste mask keeps
    the speaker sharp over a blurred copy (core Image Blur + Image Composite Masked) -> Create Video."""
    sources = base.sources()
    sources[0].values["image"] = "two_faces.png"
    face = "face choice"
    nodes = [FACE_FPS_MASK_NOTE, *sources,
             Node(10, "FloatKitCropPortrait", {"face": 1}, group=face),
             Node(11, "MaskPreview", title="Crop in the photo", group=face),
             Node(12, "FloatKitAnimate", {"emotion": "from speech", "face_crop": False, **base.SAMPLER,
                                          "output_fps": 30.0, "offset_ms": 80.0}, group="animate"),
             Node(30, "FloatKitPasteBack", {"feather": 16}, group="composite"),
             Node(31, "ImageBlur", {"blur_radius": 15}, title="Blur the whole frame", group="composite"),
             Node(32, "ImageCompositeMasked", title="Sharp speaker over the blur", group="composite"),
             *base.video_out(6)]
    wires = [(2, 0, 10, "image"), (10, 2, 11, "mask"),
             (4, 0, 12, "pipe"), (10, 0, 12, "image"), (3, 0, 12, "audio"),
             (12, 0, 30, "images"), (2, 0, 30, "original"), (10, 1, 30, "crop_box"),
             (30, 0, 31, "image"), (31, 0, 32, "destination"), (30, 0, 32, "source"), (30, 1, 32, "mask"),
             (32, 0, 20, "images"), (12, 2, 20, "fps"), (12, 1, 20, "audio"), (20, 0, 21, "video")]
    return build("floatkit_face_fps_mask", nodes, wires)


LATEST = "(latest saved motion)"  # nodes/edit_io.py LATEST: always listed, so the workflow names no missing file

WORKFLOWS = {
    "floatkit_motion_intensity.json": intensity, "floatkit_motion_time.json": time_edits,
    "floatkit_motion_blend.json": blend, "floatkit_emotion_schedule.json": emotion_schedule,
    "floatkit_motion_from_video.json": motion_from_video, "floatkit_save_load_motion.json": save_load,
    "floatkit_rest_on_silence.json": rest_on_silence, "floatkit_paste_back.json": paste_back,
    "floatkit_calm_head.json": calm_head, "floatkit_face_fps_mask.json": face_fps_mask,
}

if __name__ == "__main__":
    for name, make in WORKFLOWS.items():
        write(name, make())
