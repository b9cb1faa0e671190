"""FLOAT in one node: portrait + speech -> talking frames, composing exactly the steps of the
separate nodes (crop, encode portrait, encode speech, emotion, sample motion, decode)."""

from __future__ import annotations

import math

from comfy_api.latest import io

from ..float_models.edit.frame_rate import retime
from . import _errors, convert, crop, decode, encode, sample, sockets
from .edit_sync import fps_input, offset_input


def portrait_and_speech_inputs(image_tip: str, audio_tip: str) -> list:
    """image, audio, emotion, face_crop: the all-in-one nodes' first inputs (Animate Portrait and
    Animate to Video keep the same names, defaults and order)."""
    return [
        io.Image.Input("image", tooltip=image_tip),
        io.Audio.Input("audio", tooltip=audio_tip),
        io.Combo.Input("emotion", options=[encode.FROM_SPEECH, *sockets.EMOTION_LABELS], default=encode.FROM_SPEECH,
                       tooltip="'from speech' recognises it (needs the emotion encoder); a label redirects it."),
        io.Boolean.Input("face_crop", default=True,
                         tooltip="Find and crop the face first; turn off for ready 512x512 portraits."),
    ]


def timing_inputs() -> list:
    """output_fps (shown as fps) and offset_ms: the output frame rate and sync offset of the all-in-one
    nodes (`fps` is already Animate Portrait's output, and ComfyUI wants input and output ids apart).
    Optional, so prompts saved before they existed still run (at 25 fps, no offset)."""
    return [fps_input(name="output_fps", optional=True), offset_input(optional=True)]


def emotion_override_in() -> io.Input:
    return sockets.Emotion.Input("emotion_override", optional=True,
                                 tooltip="Optional: an emotion from the emotion nodes (e.g. a label with an "
                                         "intensity); replaces the emotion choice.")


def animate(pipe, image, audio, emotion: str = encode.FROM_SPEECH, face_crop: bool = True,
            a_cfg_scale: float = 2.0, e_cfg_scale: float = 1.0, r_cfg_scale: float = 1.0, nfe: int = 10,
            solver: str = "euler", seed: int = 15, emotion_override=None, fps: float = 25.0,
            offset_ms: float = 0.0, face: int = sockets.LARGEST_FACE):
    """-> (IMAGE frames, AUDIO cut to the frames, fps)."""
    check_output_fits(pipe, audio, clips=len(image), fps=fps)
    identity, motion = motion_for(pipe, image, audio, emotion, face_crop, a_cfg_scale, e_cfg_scale, r_cfg_scale,
                                  nfe, solver, seed, emotion_override, fps=fps, offset_ms=offset_ms, face=face)
    frames = decode.frames_of(pipe, identity, motion)
    clips = motion.latents.shape[0]
    return frames, convert.audio_for_frames(audio, motion.num_frames, motion.fps, clips), float(motion.fps)


def motion_for(pipe, image, audio, emotion: str = encode.FROM_SPEECH, face_crop: bool = True,
               a_cfg_scale: float = 2.0, e_cfg_scale: float = 1.0, r_cfg_scale: float = 1.0, nfe: int = 10,
               solver: str = "euler", seed: int = 15, emotion_override=None, crop_box: bool = False,
               fps: float | None = None, offset_ms: float = 0.0, face: int = sockets.LARGEST_FACE):
    """The steps before decoding -> (identity, motion), or (identity, motion, crop boxes) with crop_box.
    fps / offset_ms: the motion resampled to that rate and shifted (None: the model's rate)."""
    portraits, boxes = crop.crop_of(image, crop.FACE if face_crop else crop.NO_CROP, face=face)
    identity = encode.identity_of(pipe, portraits)
    features = encode.audio_features_of(pipe, audio)
    condition = emotion_override or (encode.emotion_of_speech(pipe, audio) if encode.is_from_speech(emotion)
                                     else encode.emotion_of_label(emotion))
    motion = sample.motion_of(pipe, identity, features, condition, a_cfg_scale, e_cfg_scale, r_cfg_scale,
                              nfe, solver, seed)
    waveform, rate = convert.audio_parts(audio)
    motion = retime(motion, fps or motion.fps, offset_ms, seconds=waveform.shape[-1] / rate)
    return (identity, motion, boxes) if crop_box else (identity, motion)


def check_output_fits(pipe, audio, clips: int = 1, fps: float | None = None) -> None:
    """Refuse speech whose frames cannot be held in memory before spending any time on it.
    One clip per portrait or per speech item, whichever batch is larger; fps: the output rate."""
    waveform, rate = convert.audio_parts(audio)
    config = pipe.pipeline.config
    fps = fps or config.fps
    frames = math.ceil(waveform.shape[-1] * fps / rate) * max(waveform.shape[0], clips)
    _errors.check_frames_fit(frames, config.input_size, fps=fps)


class Animate(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitAnimate", "FLOAT Animate Portrait",
            "Makes the portrait speak: crops the face, encodes portrait and speech, samples the motion and decodes "
            "the frames. Connect images, audio and fps to Create Video (then Save Video) or to Video Combine. The "
            "separate FLOAT nodes do the same steps one by one.",
            inputs=[sockets.pipe_in(), *portrait_and_speech_inputs("A photo with a face (or several, one clip each).",
                                                                   "The speech to lip-sync (any sample rate)."),
                    *sockets.guidance_inputs(), *timing_inputs(), emotion_override_in(), sockets.face_in()],
            outputs=[sockets.output(io.Image, "images", "The talking frames, values in [0, 1]."),
                     sockets.output(io.Audio, "trimmed_audio", "The speech cut to the length of the frames.",
                                    display_name="audio"),
                     sockets.output(io.Float, "fps", "Frame rate of the frames (the fps input).")])

    @classmethod
    def execute(cls, pipe, image, audio, emotion: str, face_crop: bool, a_cfg_scale: float, e_cfg_scale: float,
                r_cfg_scale: float, nfe: int, solver: str, seed: int, output_fps: float = 25.0,
                offset_ms: float = 0.0, emotion_override=None, face: int = sockets.LARGEST_FACE) -> io.NodeOutput:
        return io.NodeOutput(*animate(pipe, image, audio, emotion, face_crop, a_cfg_scale, e_cfg_scale,
                                      r_cfg_scale, nfe, solver, seed, emotion_override, output_fps, offset_ms, face))


NODES: list[type[io.ComfyNode]] = [Animate]
