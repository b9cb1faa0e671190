"""FloatKit's ComfyUI nodes: thin adapters over `float_models` (FLOAT, Ki et al., ICCV 2025).

NODE_CLASS_MAPPINGS is a literal dict (keys == each node's node_id) because ComfyUI-Manager's
scanner and comfy-org/node-diff read it from the source. Every node module defines `NODES`.
"""

from . import _errors
from .animate import Animate
from .crop import CropPortrait
from .decode import Decode
from .edit import (MotionBlend, MotionDirectionGains, MotionInfo, MotionIntensity, MotionMixDirections,
                   MotionSmooth)
from .edit_io import LoadMotion, MotionFromVideo, SaveMotion
from .edit_media import EmotionSchedule, PasteBack, RestOnSilence
from .edit_sync import MotionCalmHead, MotionFrameRate, MotionOffset
from .edit_time import MotionConcat, MotionLoop, MotionSpeed, MotionTrim
from .encode import EmotionFromLabel, EmotionFromSpeech, EncodeAudio, EncodeImage
from .models import LoadModels
from .sample import SampleMotion
from .video import AnimateToVideo, RenderVideo

NODE_CLASS_MAPPINGS = {
    "FloatKitLoadModels": LoadModels,
    "FloatKitCropPortrait": CropPortrait,
    "FloatKitEncodeImage": EncodeImage,
    "FloatKitEncodeAudio": EncodeAudio,
    "FloatKitEmotionFromSpeech": EmotionFromSpeech,
    "FloatKitEmotionFromLabel": EmotionFromLabel,
    "FloatKitSampleMotion": SampleMotion,
    "FloatKitDecode": Decode,
    "FloatKitAnimate": Animate,
    "FloatKitRenderVideo": RenderVideo,
    "FloatKitAnimateToVideo": AnimateToVideo,
    # motion editing (FLOAT/motion)
    "FloatKitMotionIntensity": MotionIntensity,
    "FloatKitMotionDirectionGains": MotionDirectionGains,
    "FloatKitMotionSmooth": MotionSmooth,
    "FloatKitMotionTrim": MotionTrim,
    "FloatKitMotionConcat": MotionConcat,
    "FloatKitMotionLoop": MotionLoop,
    "FloatKitMotionSpeed": MotionSpeed,
    "FloatKitMotionBlend": MotionBlend,
    "FloatKitMotionMixDirections": MotionMixDirections,
    "FloatKitEmotionSchedule": EmotionSchedule,
    "FloatKitMotionFromVideo": MotionFromVideo,
    "FloatKitSaveMotion": SaveMotion,
    "FloatKitLoadMotion": LoadMotion,
    "FloatKitRestOnSilence": RestOnSilence,
    "FloatKitPasteBack": PasteBack,
    "FloatKitMotionInfo": MotionInfo,
    "FloatKitMotionFrameRate": MotionFrameRate,
    "FloatKitMotionOffset": MotionOffset,
    "FloatKitMotionCalmHead": MotionCalmHead,
}

NODE_DISPLAY_NAME_MAPPINGS = {
    "FloatKitLoadModels": "Load FLOAT Models",
    "FloatKitCropPortrait": "FLOAT Crop Portrait",
    "FloatKitEncodeImage": "FLOAT Encode Portrait",
    "FloatKitEncodeAudio": "FLOAT Encode Speech",
    "FloatKitEmotionFromSpeech": "FLOAT Emotion from Speech",
    "FloatKitEmotionFromLabel": "FLOAT Emotion from Label",
    "FloatKitSampleMotion": "FLOAT Sample Motion",
    "FloatKitDecode": "FLOAT Decode Motion",
    "FloatKitAnimate": "FLOAT Animate Portrait",
    "FloatKitRenderVideo": "FLOAT Render Video",
    "FloatKitAnimateToVideo": "FLOAT Animate to Video",
    # motion editing (FLOAT/motion)
    "FloatKitMotionIntensity": "FLOAT Motion Intensity",
    "FloatKitMotionDirectionGains": "FLOAT Motion Direction Gains",
    "FloatKitMotionSmooth": "FLOAT Motion Smooth",
    "FloatKitMotionTrim": "FLOAT Motion Trim",
    "FloatKitMotionConcat": "FLOAT Motion Concat",
    "FloatKitMotionLoop": "FLOAT Motion Loop",
    "FloatKitMotionSpeed": "FLOAT Motion Speed",
    "FloatKitMotionBlend": "FLOAT Motion Blend",
    "FloatKitMotionMixDirections": "FLOAT Motion Mix Directions",
    "FloatKitEmotionSchedule": "FLOAT Emotion Schedule",
    "FloatKitMotionFromVideo": "FLOAT Motion From Video",
    "FloatKitSaveMotion": "FLOAT Save Motion",
    "FloatKitLoadMotion": "FLOAT Load Motion",
    "FloatKitRestOnSilence": "FLOAT Rest On Silence",
    "FloatKitPasteBack": "FLOAT Paste Back",
    "FloatKitMotionInfo": "FLOAT Motion Info",
    "FloatKitMotionFrameRate": "FLOAT Motion Frame Rate",
    "FloatKitMotionOffset": "FLOAT Motion Offset",
    "FloatKitMotionCalmHead": "FLOAT Motion Calm Head",
}

# Every node's errors start with its display name (see _errors.name_errors).
for _id, _node in NODE_CLASS_MAPPINGS.items():
    _errors.name_errors(_node, NODE_DISPLAY_NAME_MAPPINGS[_id])

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
