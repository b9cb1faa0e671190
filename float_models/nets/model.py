"""FloatModel: the networks FLOAT trained, with the parameter names of float.pth.

Its state dict is exactly the 274 tensors of the official checkpoint: the motion
auto-encoder, the audio projection and the FMT. The two wav2vec2 towers (speech features
and speech emotion) are HuggingFace models with their own files; the pipeline holds them.
"""

from __future__ import annotations

from torch import nn

from .audio_encoder import AudioEncoder
from .config import FloatConfig
from .fmt import FlowMatchingTransformer
from .motion_autoencoder import MotionAutoencoder


class FloatModel(nn.Module):
    def __init__(self, config: FloatConfig = FloatConfig()):
        super().__init__()
        self.config = config
        self.motion_autoencoder = MotionAutoencoder(config.input_size, config.dim_w, config.dim_m)
        self.audio_encoder = AudioEncoder(config.dim_a, config.audio_layers, config.audio_hidden)
        self.fmt = FlowMatchingTransformer(
            dim_w=config.dim_w, dim_a=config.dim_a, dim_e=config.dim_e, hidden=config.dim_h,
            depth=config.fmt_depth, heads=config.num_heads, mlp_ratio=config.mlp_ratio,
            num_frames=config.num_frames, num_prev_frames=config.num_prev_frames,
            attention_window=config.attention_window)
