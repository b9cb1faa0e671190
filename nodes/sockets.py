"""The pack's own socket types. Every type string carries the FLOATKIT_ prefix: other FLOAT
packs already use FLOAT_PIPE, and bare FLOAT is ComfyUI's number type.

Python values that flow through them:
  FLOATKIT_PIPE            nodes.models.FloatKitPipe (the loaded networks + their ModelPatchers)
  FLOATKIT_IDENTITY        float_models.Identity (s_r, feature pyramid, r_s)
  FLOATKIT_AUDIO_FEATURES  float_models.AudioFeatures (wa per frame, fps)
  FLOATKIT_EMOTION         float_models.Emotion (clip or per-frame probabilities)
  FLOATKIT_MOTION          float_models.Motion (r->D latents, fps, reference r_s)
  FLOATKIT_CROP_BOX        float_models.app.face_crop.CropBox (where the 512x512 crop came from)
"""

from comfy_api.latest import io

PREFIX = "FloatKit"  # node ids: FloatKit<Name>

Pipe = io.Custom("FLOATKIT_PIPE")
Identity = io.Custom("FLOATKIT_IDENTITY")
AudioFeatures = io.Custom("FLOATKIT_AUDIO_FEATURES")
Emotion = io.Custom("FLOATKIT_EMOTION")
Motion = io.Custom("FLOATKIT_MOTION")
CropBox = io.Custom("FLOATKIT_CROP_BOX")

CATEGORY = "FLOAT"
