"""Time edits of FLOAT motion as nodes: trim, concatenate, loop / ping-pong, change speed
(see float_models.edit.time). Each returns a new motion at the same frame rate."""

from __future__ import annotations

from comfy_api.latest import io

from ..float_models.edit.time import LOOP_MODES, TRIM_UNITS, change_speed, concat, loop, trim, trim_span
from . import sockets

CATEGORY = sockets.EDIT_CATEGORY


class MotionTrim(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitMotionTrim", "FLOAT Motion Trim",
            "Keeps a part of the motion, from start to end (in seconds or frames). Trim the speech the same way if "
            "you add it to the video.",
            inputs=[sockets.motion_in(),
                    io.Float.Input("start", default=0.0, min=0.0, max=100000.0, step=0.04,
                                   tooltip="First kept moment (included)."),
                    io.Float.Input("end", default=0.0, min=0.0, max=100000.0, step=0.04,
                                   tooltip="End of the kept part (excluded); 0 = to the end of the clip."),
                    io.Combo.Input("unit", options=list(TRIM_UNITS), default="seconds",
                                   tooltip="Whether start and end are seconds or frame numbers (at the motion's "
                                           "frame rate, 25 as sampled).")],
            outputs=[sockets.edited_motion_out()], category=CATEGORY)

    @classmethod
    def execute(cls, motion, start: float, end: float, unit: str) -> io.NodeOutput:
        first, last = trim_span(motion.num_frames, motion.fps, start, end, unit)
        return io.NodeOutput(trim(motion, first, last))


class MotionConcat(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitMotionConcat", "FLOAT Motion Concat",
            "Plays motions one after another (same frame rate needed). Smooth the result a little to soften the "
            "joins.",
            inputs=[sockets.motion_in("motion_a", "Plays first (its portrait pose is kept)."),
                    sockets.motion_in("motion_b", "Plays second."),
                    sockets.motion_in("motion_c", "Optional third part.", optional=True)],
            outputs=[sockets.edited_motion_out("The joined motion.")], category=CATEGORY)

    @classmethod
    def execute(cls, motion_a, motion_b, motion_c=None) -> io.NodeOutput:
        return io.NodeOutput(concat(*[m for m in (motion_a, motion_b, motion_c) if m is not None]))


class MotionLoop(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitMotionLoop", "FLOAT Motion Loop",
            "Repeats the motion to a chosen number of frames, from the start again or back and forth (ping-pong, "
            "no jump at the turn). Fewer frames than the clip cut it.",
            inputs=[sockets.motion_in(),
                    io.Int.Input("frames", default=250, min=1, max=1000000,
                                 tooltip="Length of the result in frames (at the motion's frame rate, 25 as sampled)."),
                    io.Combo.Input("mode", options=list(LOOP_MODES), default="ping-pong",
                                   tooltip="'loop' starts over (a jump unless the clip ends where it began); "
                                           "'ping-pong' plays it forward, then backward.")],
            outputs=[sockets.edited_motion_out()], category=CATEGORY)

    @classmethod
    def execute(cls, motion, frames: int, mode: str) -> io.NodeOutput:
        return io.NodeOutput(loop(motion, frames, mode))


class MotionSpeed(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitMotionSpeed", "FLOAT Motion Speed",
            "Plays the motion faster or slower at the same frame rate (linear interpolation between frames): the "
            "clip lasts its duration divided by speed. Lips will no longer follow the original speech.",
            inputs=[sockets.motion_in(),
                    io.Float.Input("speed", default=1.0, min=0.05, max=20.0, step=0.05,
                                   tooltip="1 = unchanged, 2 = twice as fast (half the frames), 0.5 = half speed.")],
            outputs=[sockets.edited_motion_out()], category=CATEGORY)

    @classmethod
    def execute(cls, motion, speed: float) -> io.NodeOutput:
        return io.NodeOutput(change_speed(motion, speed))


NODES: list[type[io.ComfyNode]] = [MotionTrim, MotionConcat, MotionLoop, MotionSpeed]
