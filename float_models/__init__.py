"""FLOAT (Ki, Min, Chae, ICCV 2025) in plain PyTorch: audio-driven talking portraits by
flow matching in a learned motion latent space. No ComfyUI import anywhere in here.
"""

from .nets.checkpoint import CheckpointError
from .nets.config import FloatConfig
from .nets.model import FloatModel
from .pipeline import FloatPipeline, load_pipeline
from .types import EMOTIONS, AudioFeatures, Emotion, Identity, Motion, emotion_label

__all__ = ["AudioFeatures", "CheckpointError", "EMOTIONS", "FloatConfig", "FloatModel", "FloatPipeline",
           "Emotion", "Identity", "Motion", "emotion_label", "load_pipeline"]
