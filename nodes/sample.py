"""Sample FLOAT's motion: the Flow Matching Transformer integrates the flow from noise to motion
latents r->D, window by window (50 frames with 10 frames of context), under the incremental
classifier-free vector field (audio scale, emotion scale)."""

from __future__ import annotations

from comfy_api.latest import io

from . import _comfy, sockets


def motion_of(pipe, identity, audio_features, emotion, a_cfg_scale: float = 2.0, e_cfg_scale: float = 1.0,
              r_cfg_scale: float = 1.0, nfe: int = 10, solver: str = "euler", seed: int = 15):
    """-> float_models.Motion (latents on the CPU, with the frame rate and the portrait's motion r_s)."""
    from ..float_models import Motion

    latents = pipe.ready("float").sample_motion(
        identity, audio_features, emotion.probabilities, a_cfg_scale=a_cfg_scale, r_cfg_scale=r_cfg_scale,
        e_cfg_scale=e_cfg_scale, nfe=nfe, seed=seed, solver=solver, callback=_comfy.progress()).cpu()
    reference = identity.motion.detach().to("cpu", latents.dtype)
    return Motion(latents, audio_features.fps, reference.expand(latents.shape[0], -1).clone())


def solvers() -> list[str]:
    from ..float_models.sampling import SOLVERS

    return list(SOLVERS)


def guidance_inputs() -> list:
    """The sampler's settings, shared by Sample Motion and Animate (same names, defaults, order)."""
    return [
        io.Float.Input("a_cfg_scale", default=2.0, min=0.0, max=10.0, step=0.1,
                       tooltip="Audio guidance: how closely lips and head follow the speech (official 2)."),
        io.Float.Input("e_cfg_scale", default=1.0, min=0.0, max=10.0, step=0.1,
                       tooltip="Emotion guidance: how strongly the emotion shows (official 1; try 5-10 with a "
                               "chosen emotion)."),
        io.Float.Input("r_cfg_scale", default=1.0, min=0.0, max=10.0, step=0.1,
                       tooltip="Accepted for compatibility with the official options: it has no effect other "
                               "than switching on the guided path when it is not 1, as in the official code."),
        io.Int.Input("nfe", default=10, min=2, max=100,
                     tooltip="Points of the ODE time grid (official 10 = 9 Euler steps per 2-second window). "
                             "More is slower and smoother."),
        io.Combo.Input("solver", options=solvers(), default="euler",
                       tooltip="ODE solver; euler as in the official code. Adaptive solvers ignore nfe."),
        io.Int.Input("seed", default=15, min=0, max=2 ** 63 - 1, control_after_generate=True,
                     tooltip="Noise seed (CPU generator, so a seed gives the same motion on every device)."),
    ]


class SampleMotion(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FloatKitSampleMotion", display_name="FLOAT Sample Motion", category=sockets.CATEGORY,
            description="Generates the talking motion (head, lips, expression) for the portrait from the speech "
                        "features and the emotion. The result can be edited or decoded to frames.",
            inputs=[sockets.Pipe.Input("pipe", tooltip="From Load FLOAT Models."),
                    sockets.Identity.Input("identity", tooltip="From FLOAT Encode Portrait."),
                    sockets.AudioFeatures.Input("audio_features", tooltip="From FLOAT Encode Speech."),
                    sockets.Emotion.Input("emotion", tooltip="From FLOAT Emotion from Speech or from Label."),
                    *guidance_inputs()],
            outputs=[sockets.Motion.Output("motion", display_name="motion", tooltip="Motion latents, one per video frame (25 fps).")],
        )

    @classmethod
    def execute(cls, pipe, identity, audio_features, emotion, a_cfg_scale: float, e_cfg_scale: float,
                r_cfg_scale: float, nfe: int, solver: str, seed: int) -> io.NodeOutput:
        return io.NodeOutput(motion_of(pipe, identity, audio_features, emotion, a_cfg_scale, e_cfg_scale,
                                       r_cfg_scale, nfe, solver, seed))


NODES: list[type[io.ComfyNode]] = [SampleMotion]
