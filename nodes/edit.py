"""Motion edits as nodes: intensity, per-direction gains, smoothing, blending, mixing directions and
a report of which directions move. They sit between Sample Motion and Decode on FLOATKIT_MOTION,
work in FLOAT's motion latent space (orthonormal basis Q, r_s the portrait's own pose) and always
return a new motion (see float_models.edit.latent)."""

from __future__ import annotations

import torch
from comfy_api.latest import io, ui

from ..float_models.edit.latent import (EDGE_MODES, blend, energy_report, match_lengths, mix_directions,
                                        parse_directions, scale_directions, scale_intensity, smooth)
from ..float_models.edit.speaking import (NOT_SPEAKING, SPEAKING, choose_directions, correlation_report,
                                          direction_correlation, loudness_of_audio, loudness_of_features)
from . import _comfy, convert, sockets

CATEGORY = sockets.EDIT_CATEGORY
NO_SPEECH = ("connect the speech the motion was made from: audio (the AUDIO) or audio_features (from FLOAT Encode "
             "Speech)")


def basis_of(pipe):
    """Q (D, M) of the loaded model, on the CPU (where motions live between nodes)."""
    return pipe.pipeline.basis().cpu()


def speech_inputs() -> list:
    """Optional audio / audio_features: the speech whose loudness tells the speaking directions."""
    return [io.Audio.Input("audio", optional=True,
                           tooltip="The speech the motion was made from (same start): its loudness per frame "
                                   "tells which directions speak."),
            sockets.AudioFeatures.Input("audio_features", optional=True,
                                        tooltip="Or FLOAT Encode Speech's features (a stand-in for loudness: "
                                                "used only without audio).")]


def loudness_of(motion, audio=None, audio_features=None):
    """Loudness per motion frame (B, T) from the AUDIO (preferred) or the speech features; None without."""
    if audio is not None:
        waveform, rate = convert.audio_to_mono(audio)
        return loudness_of_audio(waveform, rate, motion.fps, motion.num_frames)
    if audio_features is not None:
        return loudness_of_features(audio_features, motion.fps, motion.num_frames)
    return None


def needed_loudness(motion, audio, audio_features, why: str):
    """`loudness_of`, for a choice that cannot be made without the speech: ValueError '<why>: <what to connect>'."""
    loudness = loudness_of(motion, audio, audio_features)
    if loudness is None:
        raise ValueError(f"{why}: {NO_SPEECH}")
    return loudness


def chosen_directions(text: str, basis, motion, audio=None, audio_features=None) -> list[int]:
    """Direction indices from '0, 3, 5-7', or the directions that follow the speech ('speaking') or do
    not ('not speaking')."""
    if text.strip().lower() in (SPEAKING, NOT_SPEAKING):
        loudness = needed_loudness(motion, audio, audio_features, f"directions {text.strip()!r} need the speech")
        return choose_directions(text, direction_correlation(motion, basis, loudness))
    return parse_directions(text, basis.shape[1], _comfy.stop_if_cancelled)


class MotionIntensity(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitMotionIntensity", "FLOAT Motion Intensity",
            "Scales the whole motion around the portrait's own pose: 1 keeps it, 0 freezes the face in the "
            "portrait's pose, 0.5 calms it, above 1 exaggerates it.",
            inputs=[sockets.motion_in(),
                    io.Float.Input("intensity", default=1.0, min=0.0, max=3.0, step=0.05,
                                   tooltip="m' = r_s + intensity (m - r_s); 1 = unchanged, 0 = still portrait.")],
            outputs=[sockets.edited_motion_out()], category=CATEGORY)

    @classmethod
    def execute(cls, motion, intensity: float) -> io.NodeOutput:
        return io.NodeOutput(scale_intensity(motion, intensity))


class MotionDirectionGains(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitMotionDirectionGains", "FLOAT Motion Direction Gains",
            "Scales chosen motion directions (e.g. head sway) around the portrait's pose, leaving the others and "
            "the part outside the basis as they are. Find the strong directions with Motion Info, or write "
            "'speaking' / 'not speaking' (with the speech connected).",
            inputs=[sockets.pipe_in(sockets.BASIS_PIPE_TIP), sockets.motion_in(),
                    io.String.Input("directions", default="0",
                                    tooltip=sockets.DIRECTIONS_TIP + " Or 'speaking' / 'not speaking': the "
                                            "directions that follow the speech's loudness (connect audio)."),
                    io.Float.Input("gain", default=0.5, min=0.0, max=3.0, step=0.05,
                                   tooltip="Gain for the chosen directions: 1 unchanged, 0 removes their "
                                           "movement, above 1 exaggerates it."),
                    io.Float.Input("other_gain", default=1.0, min=0.0, max=3.0, step=0.05,
                                   tooltip="Gain for every direction not chosen (1 = leave them alone)."),
                    *speech_inputs()],
            outputs=[sockets.edited_motion_out()], category=CATEGORY)

    @classmethod
    def execute(cls, pipe, motion, directions: str, gain: float, other_gain: float, audio=None,
                audio_features=None) -> io.NodeOutput:
        basis = basis_of(pipe)
        count = basis.shape[1]
        chosen = set(chosen_directions(directions, basis, motion, audio, audio_features))
        gains = [gain if index in chosen else other_gain for index in range(count)]
        return io.NodeOutput(scale_directions(motion, basis, gains))


class MotionSmooth(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitMotionSmooth", "FLOAT Motion Smooth",
            "Smooths the motion over time (Gaussian), removing jitter; the length is kept and a still motion stays "
            "still.",
            inputs=[sockets.motion_in(),
                    io.Float.Input("sigma", default=1.5, min=0.0, max=25.0, step=0.1,
                                   tooltip="Smoothing strength in frames (25 per second as sampled); 0 = unchanged, "
                                           "1-2 removes jitter, 5+ also softens lip movement."),
                    io.Combo.Input("edge", options=list(EDGE_MODES), default="keep ends",
                                   tooltip="At the clip's ends: 'keep ends' keeps the first and last frames "
                                           "(clips still join), 'reflect' mirrors, 'edge' repeats the end frame.")],
            outputs=[sockets.edited_motion_out()], category=CATEGORY)

    @classmethod
    def execute(cls, motion, sigma: float, edge: str) -> io.NodeOutput:
        return io.NodeOutput(smooth(motion, sigma, edge))


class MotionInfo(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitMotionInfo", "FLOAT Motion Info",
            "Reports how much each motion direction moves in the clip (variance of its basis coefficient), "
            "strongest first; with the speech, also each direction's correlation with the loudness per frame "
            "(the speaking ones). Use it to pick directions for Direction Gains.",
            inputs=[sockets.pipe_in(sockets.BASIS_PIPE_TIP), sockets.motion_in(),
                    io.Int.Input("top", default=10, min=1, max=20,
                                 tooltip="How many of the strongest directions to list."),
                    *speech_inputs()],
            outputs=[sockets.output(io.String, "report", "The per-direction energy table.")],
            category=CATEGORY, is_output_node=True)

    @classmethod
    def execute(cls, pipe, motion, top: int, audio=None, audio_features=None) -> io.NodeOutput:
        basis = basis_of(pipe)
        report = energy_report(motion, basis, top)
        loudness = loudness_of(motion, audio, audio_features)
        if loudness is not None:
            source = "speech loudness" if audio is not None else "speech activity (from the features)"
            report += "\n\n" + correlation_report(direction_correlation(motion, basis, loudness), source=source)
        return io.NodeOutput(report, ui=ui.PreviewText(report))


class MotionBlend(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitMotionBlend", "FLOAT Motion Blend",
            "Mixes two motions of the same portrait: a fixed weight, or a weight that changes linearly from the "
            "first frame to the last (a crossfade from one take to the other).",
            inputs=[sockets.motion_in("motion_a", "The first motion (weight 0 gives exactly this)."),
                    sockets.motion_in("motion_b", "The second motion (weight 1 gives exactly this)."),
                    io.Float.Input("weight_start", default=0.5, min=0.0, max=1.0, step=0.01,
                                   tooltip="Weight of motion_b on the first frame."),
                    io.Float.Input("weight_end", default=0.5, min=0.0, max=1.0, step=0.01,
                                   tooltip="Weight of motion_b on the last frame (same as start = constant)."),
                    sockets.trim_in()],
            outputs=[sockets.edited_motion_out()], category=CATEGORY)

    @classmethod
    def execute(cls, motion_a, motion_b, weight_start: float, weight_end: float,
                trim_to_shorter: bool) -> io.NodeOutput:
        first, second = match_lengths(motion_a, motion_b, trim_to_shorter)
        curve = weight_start if weight_start == weight_end else torch.linspace(weight_start, weight_end,
                                                                                first.num_frames)
        return io.NodeOutput(blend(first, second, curve))


class MotionMixDirections(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitMotionMixDirections", "FLOAT Motion Mix Directions",
            "Takes the chosen motion directions from one motion and everything else from another, e.g. the lips "
            "from the speech take and the head motion from a calmer take.",
            inputs=[sockets.pipe_in(sockets.BASIS_PIPE_TIP),
                    sockets.motion_in("base", "Gives every direction not chosen (and the rest of the latent "
                                              "outside the basis)."),
                    sockets.motion_in("donor", "Gives the chosen directions."),
                    sockets.directions_in("0-4"), sockets.trim_in()],
            outputs=[sockets.edited_motion_out()], category=CATEGORY)

    @classmethod
    def execute(cls, pipe, base, donor, directions: str, trim_to_shorter: bool) -> io.NodeOutput:
        basis = basis_of(pipe)
        chosen = parse_directions(directions, basis.shape[1], _comfy.stop_if_cancelled)
        return io.NodeOutput(mix_directions(base, donor, basis, chosen, trim_to_shorter))


NODES: list[type[io.ComfyNode]] = [MotionIntensity, MotionDirectionGains, MotionSmooth, MotionInfo, MotionBlend,
                                   MotionMixDirections]
