"""The pack's declaration layer: its socket types, the inputs and outputs many nodes share, and
`schema`, which every node's `define_schema` goes through.

Every type string carries the FLOATKIT_ prefix: other FLOAT packs already use FLOAT_PIPE, and bare
FLOAT is ComfyUI's number type. Python values that flow through them:
  FLOATKIT_PIPE            nodes.models.FloatKitPipe (the loaded networks + their ModelPatchers)
  FLOATKIT_IDENTITY        float_models.Identity (s_r, feature pyramid, r_s)
  FLOATKIT_AUDIO_FEATURES  float_models.AudioFeatures (wa per frame, fps)
  FLOATKIT_EMOTION         float_models.Emotion (clip or per-frame probabilities)
  FLOATKIT_MOTION          float_models.Motion (r->D latents, fps, reference r_s)
  FLOATKIT_CROP_BOX        float_models.app.face_crop.CropBox (where the 512x512 crop came from)

Input names, types, defaults and their order are what saved workflows refer to: a factory here
changes them for every node that uses it, so change them only on purpose.
"""

from __future__ import annotations

from comfy_api.latest import io

from ..float_models import EMOTIONS
from ..float_models.sampling import SOLVERS

PREFIX = "FloatKit"  # node ids: FloatKit<Name>

Pipe = io.Custom("FLOATKIT_PIPE")
Identity = io.Custom("FLOATKIT_IDENTITY")
AudioFeatures = io.Custom("FLOATKIT_AUDIO_FEATURES")
Emotion = io.Custom("FLOATKIT_EMOTION")
Motion = io.Custom("FLOATKIT_MOTION")
CropBox = io.Custom("FLOATKIT_CROP_BOX")

# Where a socket's value comes from, for the error when a prompt's JSON puts a literal (a number, a dict)
# on it: ComfyUI validates only widget types and hands such a value to the node unchecked.
SOURCES = {
    "FLOATKIT_PIPE": "Load FLOAT Models",
    "FLOATKIT_IDENTITY": "FLOAT Encode Portrait",
    "FLOATKIT_AUDIO_FEATURES": "FLOAT Encode Speech",
    "FLOATKIT_EMOTION": "FLOAT Emotion from Speech, FLOAT Emotion from Label or FLOAT Emotion Schedule",
    "FLOATKIT_MOTION": "FLOAT Sample Motion, FLOAT Load Motion, FLOAT Motion From Video or a motion edit",
    "FLOATKIT_CROP_BOX": "FLOAT Crop Portrait",
}

CATEGORY = "FLOAT"
EDIT_CATEGORY = "FLOAT/motion"
EMOTION_LABELS: tuple[str, ...] = tuple(EMOTIONS)  # the one list of emotion choices of every node

PIPE_TIP = "From Load FLOAT Models."
BASIS_PIPE_TIP = "From Load FLOAT Models: the model whose motion basis the motion was made with."
IDENTITY_TIP = "From FLOAT Encode Portrait."
MOTION_TIP = "From FLOAT Sample Motion, Load Motion, Motion From Video or another motion edit."
EDITED_TIP = "The edited motion (a new value; the input is unchanged)."
DIRECTIONS_TIP = ("Basis directions (0-19), e.g. '0, 3, 5-7' ('15-' = 15 to the last). Run Motion Info to see which directions move most "
                  "in your clip.")
TRIM_TIP = "If the lengths differ: off = stop with an error, on = cut both to the shorter one."


def schema(node_id: str, display_name: str, description: str, inputs: list, outputs: list,
           category: str = CATEGORY, **options) -> io.Schema:
    """A node's schema; `options` are further io.Schema fields (is_output_node, ...)."""
    return io.Schema(node_id=node_id, display_name=display_name, category=category, description=description,
                     inputs=inputs, outputs=outputs, **options)


def output(socket, name: str, tooltip: str, display_name: str | None = None) -> io.Output:
    """An output named `display_name` (default: its id). Named explicitly because ComfyUI 0.3.64
    showed the type string for outputs without a display name."""
    return socket.Output(name, display_name=display_name or name, tooltip=tooltip)


def pipe_in(tooltip: str = PIPE_TIP) -> io.Input:
    return Pipe.Input("pipe", tooltip=tooltip)


def identity_in(tooltip: str = IDENTITY_TIP, optional: bool = False) -> io.Input:
    return Identity.Input("identity", optional=optional, tooltip=tooltip)


def motion_in(name: str = "motion", tooltip: str = MOTION_TIP, optional: bool = False) -> io.Input:
    return Motion.Input(name, optional=optional, tooltip=tooltip)


def edited_motion_out(tooltip: str = EDITED_TIP) -> io.Output:
    """The output of a motion edit (its id differs from the input's, which ComfyUI 0.3.64 requires)."""
    return output(Motion, "edited_motion", tooltip, display_name="motion")


def directions_in(default: str) -> io.Input:
    return io.String.Input("directions", default=default, tooltip=DIRECTIONS_TIP)


def trim_in() -> io.Input:
    return io.Boolean.Input("trim_to_shorter", default=False, tooltip=TRIM_TIP)


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
        io.Combo.Input("solver", options=list(SOLVERS), default="euler",
                       tooltip="ODE solver; euler as in the official code. Adaptive solvers ignore nfe."),
        io.Int.Input("seed", default=15, min=0, max=2 ** 63 - 1, control_after_generate=True,
                     tooltip="Noise seed (CPU generator, so a seed gives the same motion on every device)."),
    ]


LARGEST_FACE = -1  # the `face` input's "largest face" value


def face_in() -> io.Input:
    """Which face to crop, shared by Crop Portrait and the Animate nodes. Optional, so prompts saved
    before it existed still run (as they did: the largest face)."""
    return io.Int.Input("face", default=LARGEST_FACE, min=LARGEST_FACE, max=99, optional=True,
                        tooltip="Which face to animate when the photo has several: -1 = the largest; 0, 1, 2 ... = "
                                "counting faces from the left (FLOAT Crop Portrait shows them numbered).")
