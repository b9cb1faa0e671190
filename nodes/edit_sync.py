"""Motion against time and speech as nodes: any output frame rate, a sync offset, and a calm head that
keeps the directions following the speech (see float_models.edit.frame_rate and .speaking)."""

from __future__ import annotations

from comfy_api.latest import io

from ..float_models.edit.frame_rate import FPS_RANGE, OFFSET_MS_RANGE, change_frame_rate, offset
from ..float_models.edit.speaking import SPEAKING_THRESHOLD, calm_head
from . import sockets
from .edit import basis_of, needed_loudness, speech_inputs

CATEGORY = sockets.EDIT_CATEGORY


def fps_input(default: float = 25.0, name: str = "fps", optional: bool = False) -> io.Input:
    """The output frame rate; the Animate nodes name it output_fps (shown as fps), their fps being an output."""
    return io.Float.Input(name, display_name="fps", default=default, min=FPS_RANGE[0], max=FPS_RANGE[1], step=1.0,
                          optional=optional,
                          tooltip="Output frame rate (FLOAT samples at 25): the motion is resampled in time "
                                  "before decoding, ceil(seconds x fps) frames; 25 = unchanged.")


def offset_input(optional: bool = False) -> io.Input:
    return io.Float.Input("offset_ms", default=0.0, min=OFFSET_MS_RANGE[0], max=OFFSET_MS_RANGE[1], step=10.0,
                          optional=optional,
                          tooltip="Sync offset in milliseconds, rounded to whole frames: positive delays the "
                                  "motion (lips later), negative advances it; the gap shows the portrait's "
                                  "own pose. 0 = unchanged.")


class MotionFrameRate(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitMotionFrameRate", "FLOAT Motion Frame Rate",
            "Turns the motion into another frame rate (8-60 fps) by resampling FLOAT's motion latents in time, "
            "before decoding: every new frame is decoded, no frame interpolation model. The duration stays; at "
            "50 fps the even frames are the 25 fps frames.",
            inputs=[sockets.motion_in(), fps_input(30.0)],
            outputs=[sockets.edited_motion_out()], category=CATEGORY)

    @classmethod
    def execute(cls, motion, fps: float) -> io.NodeOutput:
        return io.NodeOutput(change_frame_rate(motion, fps))


class MotionOffset(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitMotionOffset", "FLOAT Motion Offset",
            "Shifts the motion against the speech when lips look early or late: positive delays the motion, "
            "negative advances it. The frame count stays; frames left without motion show the portrait's own "
            "pose (never frames from the other end).",
            inputs=[sockets.motion_in(), offset_input()],
            outputs=[sockets.edited_motion_out()], category=CATEGORY)

    @classmethod
    def execute(cls, motion, offset_ms: float) -> io.NodeOutput:
        return io.NodeOutput(offset(motion, offset_ms))


class MotionCalmHead(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitMotionCalmHead", "FLOAT Motion Calm Head",
            "Calms head sway and slow expression and keeps the lips: the motion directions that follow the "
            "speech's loudness frame by frame are kept, the others are scaled toward the portrait's pose. "
            "Motion Info (with the speech) lists which directions speak.",
            inputs=[sockets.pipe_in(sockets.BASIS_PIPE_TIP), sockets.motion_in(),
                    io.Float.Input("head_motion", default=0.3, min=0.0, max=2.0, step=0.05,
                                   tooltip="Strength of the directions that do not speak: 1 = unchanged, "
                                           "0.3 = calm, 0 = still head."),
                    io.Float.Input("min_correlation", default=SPEAKING_THRESHOLD, min=0.0, max=1.0, step=0.05,
                                   tooltip="A direction whose correlation with the loudness reaches this (in "
                                           "size) counts as speaking and is kept."),
                    *speech_inputs()],
            outputs=[sockets.edited_motion_out()], category=CATEGORY)

    @classmethod
    def execute(cls, pipe, motion, head_motion: float, min_correlation: float, audio=None,
                audio_features=None) -> io.NodeOutput:
        loudness = needed_loudness(motion, audio, audio_features, "no speech to tell the speaking directions")
        return io.NodeOutput(calm_head(motion, basis_of(pipe), loudness, head_motion, min_correlation))


NODES: list[type[io.ComfyNode]] = [MotionFrameRate, MotionOffset, MotionCalmHead]
