"""Motion edits as nodes: intensity, per-direction gains, smoothing, blending, mixing directions and
a report of which directions move. They sit between Sample Motion and Decode on FLOATKIT_MOTION,
work in FLOAT's motion latent space (orthonormal basis Q, r_s the portrait's own pose) and always
return a new motion (see float_models.edit.latent)."""

from __future__ import annotations

from comfy_api.latest import io, ui

from . import sockets

CATEGORY = "FLOAT/motion"
MOTION_IN = "From FLOAT Sample Motion, Load Motion, Motion From Video or another motion edit."
PIPE_IN = "From Load FLOAT Models: the model whose motion basis the motion was made with."
DIRECTIONS_TIP = ("Basis directions (0-19), e.g. '0, 3, 5-7'. Run Motion Info to see which directions move most "
                  "in your clip.")


def _out(tooltip: str = "The edited motion (a new value; the input is unchanged).") -> io.Output:
    return sockets.Motion.Output("edited_motion", display_name="motion", tooltip=tooltip)  # ids differ from inputs


def basis_of(pipe):
    """Q (D, M) of the loaded model, on the CPU (where motions live between nodes)."""
    return pipe.pipeline.basis().cpu()


def edge_modes() -> list[str]:
    from ..float_models.edit.latent import EDGE_MODES

    return list(EDGE_MODES)


class MotionIntensity(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FloatKitMotionIntensity", display_name="FLOAT Motion Intensity", category=CATEGORY,
            description="Scales the whole motion around the portrait's own pose: 1 keeps it, 0 freezes the face "
                        "in the portrait's pose, 0.5 calms it, above 1 exaggerates it.",
            inputs=[sockets.Motion.Input("motion", tooltip=MOTION_IN),
                    io.Float.Input("intensity", default=1.0, min=0.0, max=3.0, step=0.05,
                                   tooltip="m' = r_s + intensity (m - r_s); 1 = unchanged, 0 = still portrait.")],
            outputs=[_out()])

    @classmethod
    def execute(cls, motion, intensity: float) -> io.NodeOutput:
        from ..float_models.edit.latent import scale_intensity

        return io.NodeOutput(scale_intensity(motion, intensity))


class MotionDirectionGains(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FloatKitMotionDirectionGains", display_name="FLOAT Motion Direction Gains", category=CATEGORY,
            description="Scales chosen motion directions (e.g. head sway) around the portrait's pose, leaving "
                        "the others and the part outside the basis as they are. Find the strong directions "
                        "with Motion Info.",
            inputs=[sockets.Pipe.Input("pipe", tooltip=PIPE_IN),
                    sockets.Motion.Input("motion", tooltip=MOTION_IN),
                    io.String.Input("directions", default="0", tooltip=DIRECTIONS_TIP),
                    io.Float.Input("gain", default=0.5, min=0.0, max=3.0, step=0.05,
                                   tooltip="Gain for the chosen directions: 1 unchanged, 0 removes their "
                                           "movement, above 1 exaggerates it."),
                    io.Float.Input("other_gain", default=1.0, min=0.0, max=3.0, step=0.05,
                                   tooltip="Gain for every direction not chosen (1 = leave them alone).")],
            outputs=[_out()])

    @classmethod
    def execute(cls, pipe, motion, directions: str, gain: float, other_gain: float) -> io.NodeOutput:
        from ..float_models.edit.latent import parse_directions, scale_directions

        basis = basis_of(pipe)
        count = basis.shape[1]
        chosen = set(parse_directions(directions, count))
        gains = [gain if index in chosen else other_gain for index in range(count)]
        return io.NodeOutput(scale_directions(motion, basis, gains))


class MotionSmooth(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FloatKitMotionSmooth", display_name="FLOAT Motion Smooth", category=CATEGORY,
            description="Smooths the motion over time (Gaussian), removing jitter; the length is kept and a still "
                        "motion stays still.",
            inputs=[sockets.Motion.Input("motion", tooltip=MOTION_IN),
                    io.Float.Input("sigma", default=1.5, min=0.0, max=25.0, step=0.1,
                                   tooltip="Smoothing strength in frames (25 per second); 0 = unchanged, 1-2 "
                                           "removes jitter, 5+ also softens lip movement."),
                    io.Combo.Input("edge", options=edge_modes(), default="keep ends",
                                   tooltip="At the clip's ends: 'keep ends' keeps the first and last frames "
                                           "(clips still join), 'reflect' mirrors, 'edge' repeats the end frame.")],
            outputs=[_out()])

    @classmethod
    def execute(cls, motion, sigma: float, edge: str) -> io.NodeOutput:
        from ..float_models.edit.latent import smooth

        return io.NodeOutput(smooth(motion, sigma, edge))


class MotionInfo(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FloatKitMotionInfo", display_name="FLOAT Motion Info", category=CATEGORY,
            description="Reports how much each motion direction moves in the clip (variance of its basis "
                        "coefficient), strongest first. Use it to pick directions for Direction Gains.",
            inputs=[sockets.Pipe.Input("pipe", tooltip=PIPE_IN),
                    sockets.Motion.Input("motion", tooltip=MOTION_IN),
                    io.Int.Input("top", default=10, min=1, max=20,
                                 tooltip="How many of the strongest directions to list.")],
            outputs=[io.String.Output("report", display_name="report", tooltip="The per-direction energy table.")],
            is_output_node=True)

    @classmethod
    def execute(cls, pipe, motion, top: int) -> io.NodeOutput:
        from ..float_models.edit.latent import energy_report

        report = energy_report(motion, basis_of(pipe), top)
        return io.NodeOutput(report, ui=ui.PreviewText(report))


class MotionBlend(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FloatKitMotionBlend", display_name="FLOAT Motion Blend", category=CATEGORY,
            description="Mixes two motions of the same portrait: a fixed weight, or a weight that changes "
                        "linearly from the first frame to the last (a crossfade from one take to the other).",
            inputs=[sockets.Motion.Input("motion_a", tooltip="The first motion (weight 0 gives exactly this)."),
                    sockets.Motion.Input("motion_b", tooltip="The second motion (weight 1 gives exactly this)."),
                    io.Float.Input("weight_start", default=0.5, min=0.0, max=1.0, step=0.01,
                                   tooltip="Weight of motion_b on the first frame."),
                    io.Float.Input("weight_end", default=0.5, min=0.0, max=1.0, step=0.01,
                                   tooltip="Weight of motion_b on the last frame (same as start = constant)."),
                    io.Boolean.Input("trim_to_shorter", default=False,
                                     tooltip="If the lengths differ: off = stop with an error, on = cut both "
                                             "to the shorter one.")],
            outputs=[_out()])

    @classmethod
    def execute(cls, motion_a, motion_b, weight_start: float, weight_end: float,
                trim_to_shorter: bool) -> io.NodeOutput:
        import torch

        from ..float_models.edit.latent import blend, match_lengths

        first, second = match_lengths(motion_a, motion_b, trim_to_shorter)
        curve = weight_start if weight_start == weight_end else torch.linspace(weight_start, weight_end,
                                                                                first.num_frames)
        return io.NodeOutput(blend(first, second, curve))


class MotionMixDirections(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FloatKitMotionMixDirections", display_name="FLOAT Motion Mix Directions", category=CATEGORY,
            description="Takes the chosen motion directions from one motion and everything else from another, "
                        "e.g. the lips from the speech take and the head motion from a calmer take.",
            inputs=[sockets.Pipe.Input("pipe", tooltip=PIPE_IN),
                    sockets.Motion.Input("base", tooltip="Gives every direction not chosen (and the rest of the "
                                                         "latent outside the basis)."),
                    sockets.Motion.Input("donor", tooltip="Gives the chosen directions."),
                    io.String.Input("directions", default="0-4", tooltip=DIRECTIONS_TIP),
                    io.Boolean.Input("trim_to_shorter", default=False,
                                     tooltip="If the lengths differ: off = stop with an error, on = cut both "
                                             "to the shorter one.")],
            outputs=[_out()])

    @classmethod
    def execute(cls, pipe, base, donor, directions: str, trim_to_shorter: bool) -> io.NodeOutput:
        from ..float_models.edit.latent import mix_directions, parse_directions

        basis = basis_of(pipe)
        chosen = parse_directions(directions, basis.shape[1])
        return io.NodeOutput(mix_directions(base, donor, basis, chosen, trim_to_shorter))


NODES: list[type[io.ComfyNode]] = [MotionIntensity, MotionDirectionGains, MotionSmooth, MotionInfo, MotionBlend,
                                   MotionMixDirections]
