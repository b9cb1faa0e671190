"""FloatKit's ComfyUI nodes: thin adapters over `float_models` (FLOAT, Ki et al., ICCV 2025).

NODE_CLASS_MAPPINGS is a literal dict (keys == each node's node_id) because ComfyUI-Manager's
scanner and comfy-org/node-diff read it from the source. Every node module defines `NODES`.
"""

from .animate import Animate
from .crop import CropPortrait
from .decode import Decode
from .encode import EmotionFromLabel, EmotionFromSpeech, EncodeAudio, EncodeImage
from .models import LoadModels
from .sample import SampleMotion

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
}

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
