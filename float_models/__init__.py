"""FLOAT (Ki, Min, Chae, ICCV 2025) in plain PyTorch: audio-driven talking portraits by
flow matching in a learned motion latent space. No ComfyUI import anywhere in here.
"""

from .checkpoint import CheckpointError
from .config import FloatConfig
from .emotion_encoder import EMOTIONS, emotion_label
from .model import FloatModel
from .pipeline import FloatPipeline, load_pipeline
from .types import AudioFeatures, Emotion, Identity, Motion

__all__ = ["AudioFeatures", "CheckpointError", "EMOTIONS", "FloatConfig", "FloatModel", "FloatPipeline",
           "Emotion", "Identity", "Motion", "emotion_label", "load_pipeline"]
