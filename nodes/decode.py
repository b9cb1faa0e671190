"""Decode FLOAT's motion to video frames: the motion auto-encoder's StyleGAN2-like decoder warps the
portrait's feature pyramid by each frame's latent s_r + r_d, a few frames at a time."""

from __future__ import annotations

from comfy_api.latest import io

from ..float_models import Identity, Motion
from . import _comfy, _errors, convert, sockets


def frames_of(pipe, identity: Identity, motion: Motion, batch_size: int = 0):
    """-> IMAGE [clips * T, H, W, 3] in [0, 1] on the CPU."""
    latents = motion.latents
    clips = max(identity.batch_size, latents.shape[0])  # one portrait shared by many clips, or the reverse
    _errors.check_frames_fit(clips * latents.shape[1], pipe.pipeline.config.input_size, fps=motion.fps)
    callback, preview = _comfy.progress_with_preview()  # the newest frame shows on the node as it decodes
    frames = pipe.ready("float").decode(identity, motion, batch_size=batch_size or None, callback=callback,
                                        output_device="cpu", preview=preview)
    return convert.frames_to_image(frames)


class Decode(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitDecode", "FLOAT Decode Motion",
            "Renders the motion as video frames of the portrait (512x512). Connect images and fps to Create Video "
            "(with the speech as audio) or to Video Combine.",
            inputs=[sockets.pipe_in(),
                    sockets.identity_in("From FLOAT Encode Portrait: whose face moves."),
                    sockets.motion_in(tooltip="From FLOAT Sample Motion (or a motion edit)."),
                    io.Int.Input("batch_size", default=0, min=0, max=256,
                                 tooltip="Frames decoded at once; 0 = automatic (fits free GPU memory). "
                                         "Lower it if you run out of memory.")],
            outputs=[sockets.output(io.Image, "images", "The frames, clip after clip, values in [0, 1]."),
                     sockets.output(io.Float, "fps", "Frame rate of the frames: the motion's (25 as sampled, or "
                                                   "what Motion Frame Rate made it).")])

    @classmethod
    def execute(cls, pipe, identity, motion, batch_size: int) -> io.NodeOutput:
        return io.NodeOutput(frames_of(pipe, identity, motion, batch_size), float(motion.fps))


NODES: list[type[io.ComfyNode]] = [Decode]
