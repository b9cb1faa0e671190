"""Nodes that tie FLOAT motion to the speech and the picture around it: an emotion schedule over time,
resting the face where the speech is silent, and pasting the animated crop back into the photo."""

from __future__ import annotations

import torch
from comfy_api.latest import io

from ..float_models import Emotion
from ..float_models.edit.emotion_schedule import emotion_vector, schedule_from_text
from ..float_models.edit.paste_back import paste_back, paste_mask, paste_memory
from ..float_models.edit.silence import rest_on_silence
from . import _comfy, _errors, convert, sockets

CATEGORY = sockets.EDIT_CATEGORY
SCHEDULE_EXAMPLE = "0-2: neutral\n2-4: happy\n4-: surprise 0.8"


def schedule_of(schedule: str, frames: int, fps: float, default: str = "neutral", crossfade: float = 0.0,
                base=None, audio_features=None):
    """-> float_models.Emotion with per-frame probabilities (B, T, 7)."""
    if audio_features is not None:
        frames, fps = audio_features.num_frames, audio_features.fps
    if base is not None and base.per_frame:
        raise ValueError("the base emotion is already per frame: connect an emotion for the whole clip "
                         "(Emotion from Speech or from Label) or leave base unconnected")
    fallback = base.probabilities if base is not None else emotion_vector(default)
    return Emotion(schedule_from_text(schedule, frames, fps, fallback, crossfade, _comfy.stop_if_cancelled))


class EmotionSchedule(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitEmotionSchedule", "FLOAT Emotion Schedule",
            "Changes the emotion over time: one line per time range, 'start-end: emotion' in seconds, e.g. '0-2: "
            "neutral', '2-: happy 0.8' or seven probabilities. Feed it to Sample Motion as the emotion.",
            inputs=[io.String.Input("schedule", multiline=True, default=SCHEDULE_EXAMPLE,
                                    tooltip="Lines 'start-end: label [intensity]' or 'start-end: p1 ... p7' "
                                            "(angry disgust fear happy neutral sad surprise); an open end runs "
                                            "to the end; later lines win where ranges overlap."),
                    io.Combo.Input("default_emotion", options=list(sockets.EMOTION_LABELS), default="neutral",
                                   tooltip="Emotion for times no line covers (unless base is connected)."),
                    io.Float.Input("crossfade", default=0.4, min=0.0, max=10.0, step=0.04,
                                   tooltip="Seconds over which one emotion blends into the next (0 = hard cut)."),
                    io.Int.Input("frames", default=250, min=1, max=1000000,
                                 tooltip="Length in frames; ignored when audio_features is connected (it gives "
                                         "the speech's frame count)."),
                    io.Float.Input("fps", default=25.0, min=1.0, max=120.0, step=1.0,
                                   tooltip="Frame rate for converting seconds; ignored with audio_features."),
                    sockets.AudioFeatures.Input("audio_features", optional=True,
                                                tooltip="From FLOAT Encode Speech: sets the length to the speech."),
                    sockets.Emotion.Input("base", optional=True,
                                          tooltip="Optional emotion for uncovered times, e.g. Emotion from Speech.")],
            outputs=[sockets.output(sockets.Emotion, "emotion", "Per-frame emotion probabilities for Sample Motion.")],
            category=CATEGORY)

    @classmethod
    def execute(cls, schedule: str, default_emotion: str, crossfade: float, frames: int, fps: float,
                audio_features=None, base=None) -> io.NodeOutput:
        return io.NodeOutput(schedule_of(schedule, frames, fps, default_emotion, crossfade, base, audio_features))


class RestOnSilence(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitRestOnSilence", "FLOAT Rest On Silence",
            "Where the speech is silent, eases the face back to the portrait's own pose so the mouth rests instead "
            "of moving on breath or noise. Speech frames stay exactly as they are.",
            inputs=[sockets.motion_in(),
                    io.Audio.Input("audio", tooltip="The speech the motion was made from (same start)."),
                    io.Float.Input("threshold_db", default=-40.0, min=-100.0, max=0.0, step=1.0,
                                   tooltip="Frames quieter than this (RMS in dBFS) count as silence; raise it "
                                           "for noisy recordings."),
                    io.Int.Input("fade_frames", default=3, min=0, max=50,
                                 tooltip="Frames over which the face eases into rest after speech stops."),
                    io.Int.Input("min_silence_frames", default=5, min=0, max=250,
                                 tooltip="Shorter silences (pauses between words) are left alone."),
                    io.Float.Input("strength", default=1.0, min=0.0, max=1.0, step=0.05,
                                   tooltip="How far to ease toward rest: 1 = fully, 0 = unchanged.")],
            outputs=[sockets.edited_motion_out()], category=CATEGORY)

    @classmethod
    def execute(cls, motion, audio, threshold_db: float, fade_frames: int, min_silence_frames: int,
                strength: float) -> io.NodeOutput:
        waveform, rate = convert.audio_to_mono(audio)
        return io.NodeOutput(rest_on_silence(motion, waveform, rate, threshold_db, fade_frames, min_silence_frames,
                                             strength, _comfy.stop_if_cancelled))


PASTE_STREAMING = ("paste back on the streaming path: connect original and crop_box to FLOAT Render Video (in place "
                   "of FLOAT Decode Motion and this node), which pastes and writes each batch of frames into an MP4 "
                   "as it is made, so memory stays flat at any length")


def paste_frames(images, original, crop_box, feather: int = 16, with_mask: bool = False):
    """IMAGE of animated crops (clips back to back) + the photo(s) + CropBox per clip -> IMAGE in full size;
    with_mask: (IMAGE, MASK of the feathered paste, one for all frames or one per frame where boxes differ)."""
    boxes = tuple(crop_box) if isinstance(crop_box, (tuple, list)) else (crop_box,)
    if not boxes or any(box is None for box in boxes):
        raise ValueError("no crop box: FLOAT Crop Portrait ran with 'no crop'. Choose 'face crop' there, or "
                         "use the animated frames as they are")
    if images.shape[0] % len(boxes):
        raise ValueError(f"{images.shape[0]} frames cannot be split into {len(boxes)} clips (one per crop box)")
    if original.shape[0] not in (1, len(boxes)):
        raise ValueError(f"give the photo that was cropped: {original.shape[0]} pictures for {len(boxes)} crop boxes")
    per_clip = images.shape[0] // len(boxes)
    height, width, channels = original.shape[1], original.shape[2], images.shape[-1]
    _, working = paste_memory(per_clip, height, width, channels, max(box.size for box in boxes),
                              max(images.shape[1], images.shape[2]))
    _errors.check_frames_fit(images.shape[0], width, height=height, advice=PASTE_STREAMING, working=working)
    step = _comfy.progress()
    out = torch.empty(images.shape[0], height, width, channels)  # the clips are pasted straight into it
    for index, box in enumerate(boxes):
        clip = slice(index * per_clip, (index + 1) * per_clip)
        photo = original[min(index, original.shape[0] - 1)]
        paste_back(images[clip], photo[..., :channels], box, feather, out=out[clip],
                   callback=lambda done, total, i=index: step(i * per_clip + done, images.shape[0]))
    return (out, convert.clip_masks([paste_mask(box, feather) for box in boxes], per_clip)) if with_mask else out


class PasteBack(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitPasteBack", "FLOAT Paste Back",
            "Puts the animated portrait back into the full photo, where Crop Portrait cut it out, with soft edges. "
            "Outside the crop the photo stays as it was.",
            inputs=[io.Image.Input("images", tooltip="Animated frames from FLOAT Decode Motion."),
                    io.Image.Input("original", tooltip="The photo that went into FLOAT Crop Portrait."),
                    sockets.CropBox.Input("crop_box", tooltip="From FLOAT Crop Portrait (mode 'face crop')."),
                    io.Int.Input("feather", default=16, min=0, max=256,
                                 tooltip="Width in pixels of the soft blend at the crop's edges; 0 = hard edge.")],
            outputs=[sockets.output(io.Image, "pasted", "Full-size frames of the photo with the animated face.",
                                    display_name="images"),
                     sockets.output(io.Mask, "mask", "The feathered mask the face was pasted through (1 = animated; "
                                                     "one for all frames, or one per frame if the clips' boxes "
                                                     "differ), e.g. for Image Composite Masked.")],
            category=CATEGORY)

    @classmethod
    def execute(cls, images, original, crop_box, feather: int) -> io.NodeOutput:
        return io.NodeOutput(*paste_frames(images, original, crop_box, feather, with_mask=True))


NODES: list[type[io.ComfyNode]] = [EmotionSchedule, RestOnSilence, PasteBack]
