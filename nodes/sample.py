"""Sample FLOAT's motion: the Flow Matching Transformer integrates the flow from noise to motion
latents r->D, window by window (50 frames with 10 frames of context), under the incremental
classifier-free vector field (audio scale, emotion scale)."""

from __future__ import annotations

from comfy_api.latest import io

from ..float_models import AudioFeatures, Emotion, Identity, Motion
from . import _comfy, sockets


def motion_of(pipe, identity: Identity, audio_features: AudioFeatures, emotion: Emotion, a_cfg_scale: float = 2.0,
              e_cfg_scale: float = 1.0, r_cfg_scale: float = 1.0, nfe: int = 10, solver: str = "euler",
              seed: int = 15) -> Motion:
    """-> float_models.Motion (latents on the CPU, with the frame rate and the portrait's motion r_s)."""
    return pipe.ready("float").sample_motion(
        identity, audio_features, emotion, a_cfg_scale=a_cfg_scale, r_cfg_scale=r_cfg_scale,
        e_cfg_scale=e_cfg_scale, nfe=nfe, seed=seed, solver=solver, callback=_comfy.progress())


class SampleMotion(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitSampleMotion", "FLOAT Sample Motion",
            "Generates the talking motion (head, lips, expression) for the portrait from the speech features and "
            "the emotion. The result can be edited or decoded to frames.",
            inputs=[sockets.pipe_in(), sockets.identity_in(),
                    sockets.AudioFeatures.Input("audio_features", tooltip="From FLOAT Encode Speech."),
                    sockets.Emotion.Input("emotion", tooltip="From FLOAT Emotion from Speech or from Label."),
                    *sockets.guidance_inputs()],
            outputs=[sockets.output(sockets.Motion, "motion", "Motion latents, one per video frame (25 fps).")])

    @classmethod
    def execute(cls, pipe, identity, audio_features, emotion, a_cfg_scale: float, e_cfg_scale: float,
                r_cfg_scale: float, nfe: int, solver: str, seed: int) -> io.NodeOutput:
        return io.NodeOutput(motion_of(pipe, identity, audio_features, emotion, a_cfg_scale, e_cfg_scale,
                                       r_cfg_scale, nfe, solver, seed))


NODES: list[type[io.ComfyNode]] = [SampleMotion]
