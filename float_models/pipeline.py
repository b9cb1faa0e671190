"""FloatPipeline: FLOAT's inference, stage by stage (paper, Fig. 2).

    identity = pipe.encode_image(image)                 # s_r, feature pyramid, r_s
    audio    = pipe.encode_audio(waveform, sample_rate)   # wa, one feature per frame
    emotion  = pipe.encode_emotion(waveform, sample_rate) # Emotion we, or Emotion.of_label("happy")
    motion   = pipe.sample_motion(identity, audio, emotion)   # Motion: r->D (B, T, D), fps, r_s
    frames   = pipe.decode(identity, motion)              # (B, T, 3, S, S), not clamped

Each stage runs where its network's parameters are, so a host application (ComfyUI's model
management, say) may move the three networks between devices between calls; outputs of the
encoders stay on that device; Emotion and Motion, small and meant to be edited, saved and
passed between devices, live on the CPU; decoded frames go to `output_device`.
"""

from __future__ import annotations

import copy
import functools
import logging
import os
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import nn

from .devices import default_device, runnable_dtype, sampler_dtype
from .nets.audio_encoder import frame_hidden_states, windowed_audio_features
from .nets.checkpoint import (AUDIO_TOWER_NAME, EMOTION_TOWER_NAME, CheckpointError, build_emotion_encoder,
                         build_wav2vec2, load_float_model, tower_sources, tower_state)
from .nets.config import FloatConfig
from .nets.emotion_encoder import EmotionEncoder
from .media import pad_to_min_length, prepare_speech, resize_portrait
from .nets.model import FloatModel
from .nets.stylegan2_layers import prepared_weights
from .preview import FramePreview
from .sampling import Guidance, sample_motion
from .transfer import overlapped_to_host
from .types import AudioFeatures, Emotion, Identity, Motion

Callback = Callable[[int, int], None]
log = logging.getLogger("float_models")

# Long speech: clips longer than WINDOW_SECONDS are encoded window by window (see README,
# "Speed and memory"). 30 s keeps both encoders' peak memory near 1 GB on the CPU (measured
# with bench/memory.py) while nearly every talking-head clip stays on the exact official path.
WINDOW_SECONDS = 30.0
WINDOW_CONTEXT_SECONDS = 2.0  # audio on each side of a window's own frames
WINDOW_FADE_SECONDS = 1.0  # linear crossfade across each seam (needs <= 2 x the context)


def _device_of(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


class FloatPipeline:
    def __init__(self, model: FloatModel, wav2vec2: nn.Module | None, emotion_encoder: EmotionEncoder | None):
        self.model, self.wav2vec2, self.emotion_encoder = model, wav2vec2, emotion_encoder
        self.config: FloatConfig = model.config
        self._overflow_said = False  # the half-precision decoder's overflow is logged once

    @property
    def direction_weight(self) -> torch.Tensor:
        """The motion basis weight (D, dim_m) that motion latents belong to (saved with motion files)."""
        return self.model.motion_autoencoder.dec.direction.weight

    def basis_fingerprint(self) -> str:
        """A short id of this model's motion basis: motion made with another basis means nothing here."""
        from .edit.files import basis_fingerprint

        return basis_fingerprint(self.direction_weight)

    # -------------------------------------------------------------------- encoders
    @torch.inference_mode()
    def encode_image(self, image: torch.Tensor) -> Identity:
        """Portraits (B, 3, H, W) in [-1, 1] -> Identity; other sizes are resized to input_size."""
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f"expected portraits as (batch, 3, height, width), got shape {tuple(image.shape)}")
        mae = self.model.motion_autoencoder
        param = next(mae.parameters())
        image = resize_portrait(image.to(param.device, torch.float32), self.config.input_size)
        return mae.encode(image.to(param.dtype))

    @torch.inference_mode()
    def encode_audio(self, waveform: torch.Tensor, sample_rate: int,
                     window_seconds: float | None = WINDOW_SECONDS) -> AudioFeatures:
        """Raw mono speech (B, N) or (N,) at any rate -> wa (B, T, dim_a), T = ceil(N16k * fps / 16000).

        window_seconds: clips up to this long are encoded whole (the official computation);
        longer ones in overlapping windows of this length (see `audio_encoder`), so memory
        stays bounded. None always encodes the whole clip.
        """
        if self.wav2vec2 is None:
            raise RuntimeError("this pipeline has no audio encoder (wav2vec2-base-960h); load one")
        speech = prepare_speech(waveform, sample_rate, self.config.sampling_rate)
        frames = self.config.frames_for_samples(speech.shape[-1])
        param = next(self.wav2vec2.parameters())
        projection = self.model.audio_encoder
        speech = speech.to(param.device, param.dtype)
        window = _window_frames(window_seconds, self.config.fps)
        if window is not None and frames > window:
            fps = self.config.fps
            features = windowed_audio_features(self.wav2vec2, projection, speech, frames,
                                               self.config.samples_per_frame, window,
                                               context=round(WINDOW_CONTEXT_SECONDS * fps),
                                               fade=round(WINDOW_FADE_SECONDS * fps))
            return AudioFeatures(features.float(), self.config.fps)
        states = frame_hidden_states(self.wav2vec2, speech, frames, self.config.samples_per_frame)
        features = projection(states.to(next(projection.parameters()).device, next(projection.parameters()).dtype))
        return AudioFeatures(features.float(), self.config.fps)

    @torch.inference_mode()
    def encode_emotion(self, waveform: torch.Tensor, sample_rate: int,
                       window_seconds: float | None = WINDOW_SECONDS) -> Emotion:
        """Raw mono speech -> Emotion: probabilities (B, 7) on the CPU from the speech-emotion classifier.

        window_seconds: clips up to this long are classified whole (official); longer ones by
        averaging the mean hidden states of near-equal windows (see `emotion_encoder`).
        None always uses the whole clip.
        """
        if self.emotion_encoder is None:
            raise RuntimeError("this pipeline has no emotion encoder (speech-emotion classifier); load one, "
                               "or choose an emotion label instead")
        # Clips under 25 ms are too short for wav2vec2's first frame: extend them (the official code fails).
        speech = pad_to_min_length(prepare_speech(waveform, sample_rate, self.config.sampling_rate))
        param = next(self.emotion_encoder.parameters())
        window = None if window_seconds is None else _window_frames(window_seconds, self.config.sampling_rate)
        return Emotion(self.emotion_encoder(speech.to(param.device, param.dtype), window).float().cpu())

    # -------------------------------------------------------------------- sampling
    @torch.inference_mode()
    def sample_motion(self, identity: Identity, audio: AudioFeatures, emotion: Emotion,
                      a_cfg_scale: float = 2.0, r_cfg_scale: float = 1.0, e_cfg_scale: float = 1.0,
                      nfe: int = 10, seed: int = 15, solver: str = "euler",
                      callback: Callback | None = None) -> Motion:
        """-> Motion: latents r->D (B, T, D) float32 on the CPU, the audio's fps and each clip's r_s.

        See `sampling.sample_motion` for the conventions. Motion that overflowed (inf or NaN) is
        refused with FloatingPointError at the window where it happened, rather than decoded into
        NaN frames (README, "Precision")."""
        _check_type(emotion, Emotion, "emotion", "pipe.encode_emotion(...) or Emotion.of_label(...)")
        reference, features = _match_batches(identity.motion, audio.features, "identity", "audio")
        probabilities = emotion.probabilities.float()
        if probabilities.shape[0] not in (1, reference.shape[0]):
            raise ValueError(f"emotion batch {probabilities.shape[0]} does not match {reference.shape[0]} clips")
        latents = sample_motion(self.model.fmt, features, reference, probabilities,
                                num_frames=self.config.num_frames, num_prev_frames=self.config.num_prev_frames,
                                guidance=Guidance(a_cfg_scale, e_cfg_scale, r_cfg_scale), nfe=nfe, seed=seed,
                                solver=solver, callback=callback)
        reference = reference.detach().to("cpu", torch.float32).expand(latents.shape[0], -1).clone()
        return Motion(latents.cpu(), audio.fps, reference)

    # -------------------------------------------------------------------- decoding
    @torch.inference_mode()
    def decode_batches(self, identity: Identity, motion: Motion,
                       batch_size: int | None = None) -> Iterator[tuple[int, int, torch.Tensor]]:
        """Yield (clip, first frame, frames (n, 3, S, S)) in order, n <= batch_size.

        The decoder's derived weights are kept while the batches are decoded and freed after the
        last one (`prepared_weights`): a host that counts, moves and frees the decoder by its
        state dict (ComfyUI) sees all it holds between runs."""
        mae = self.model.motion_autoencoder
        param = next(mae.parameters())
        _check_type(motion, Motion, "motion", "pipe.sample_motion(...) or a motion edit")
        motion = motion.latents
        if motion.dim() != 3:
            raise ValueError(f"expected motion as (batch, frames, {self.config.dim_w}), got {tuple(motion.shape)}")
        latents, _ = _match_batches(identity.latent, motion[:, 0], "identity", "motion")
        clips, frames = latents.shape[0], motion.shape[1]
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size={batch_size}: give a positive number of frames, or None to choose "
                             "it from free memory")
        size = batch_size or auto_decode_batch_size(param.device, self.config.input_size, param.dtype)
        # A float32 copy of the decoder for overflowing batches: made on first use, shared by the run's
        # batches; only the weights are copied (derived weights live in `prepared_weights`, not on it).
        pending, fallback = None, functools.cache(lambda: copy.deepcopy(mae.dec).float())
        with prepared_weights():
            for b in range(clips):
                source = identity.select(min(b, identity.batch_size - 1))
                one = Identity(source.latent.to(param.device, param.dtype),
                               tuple(f.to(param.device, param.dtype) for f in source.features), source.motion,
                               source.coefficients)
                clip_motion = motion[min(b, motion.shape[0] - 1)]
                for start in range(0, frames, size):
                    chunk = clip_motion[start:start + size]
                    out = mae.decode(one, chunk.to(param.device, param.dtype))
                    # float16 ends at 65504; bfloat16 has float32's range. The flag is read one batch
                    # late, once the next batch is queued, so the check does not stall the GPU.
                    finite = torch.isfinite(out).all() if out.dtype == torch.float16 else None
                    if pending is not None:
                        yield self._finite(*pending, fallback)
                    pending = (b, start, out, finite, source, chunk)
            if pending is not None:
                yield self._finite(*pending, fallback)

    def _finite(self, clip: int, start: int, frames: torch.Tensor, finite: torch.Tensor | None, identity: Identity,
                motion: torch.Tensor, fallback: Callable[[], nn.Module]) -> tuple[int, int, torch.Tensor]:
        """The batch as decoded, or, where a float16 decoder overflowed (inf or NaN), the same frames
        decoded again by a float32 copy of the decoder, in float32, from the identity and motion as
        given (not rounded to the model dtype)."""
        if finite is None or bool(finite):
            return clip, start, frames
        if not self._overflow_said:
            self._overflow_said = True
            log.warning("FloatKit: the %s decoder overflowed (inf or NaN); the frames concerned are decoded "
                        "again in float32", str(frames.dtype).replace("torch.", ""))
        latent = identity.latent.to(frames.device, torch.float32) + motion.to(frames.device, torch.float32)
        return clip, start, fallback()(latent, [f.to(frames.device, torch.float32) for f in identity.features])

    @torch.inference_mode()
    def decode(self, identity: Identity, motion: Motion, batch_size: int | None = None,
               callback: Callback | None = None, output_device: torch.device | str = "cpu",
               preview: FramePreview | None = None) -> torch.Tensor:
        """Motion (B, T, D latents) -> raw decoder frames (B, T, 3, S, S) in float32 (not clamped).
        preview: offered each batch's last frame before `callback` is called (see float_models.preview)."""
        _check_type(motion, Motion, "motion", "pipe.sample_motion(...) or a motion edit")
        clips = max(identity.batch_size, motion.latents.shape[0])
        total = motion.num_frames
        side = self.config.input_size
        out = torch.empty(clips, total, 3, side, side, device=output_device)
        done = 0
        batches = self.decode_batches(identity, motion, batch_size)
        if out.device.type == "cpu":  # GPU batches travel while the next one decodes
            batches = overlapped_to_host(batches)
        for b, start, frames in batches:
            out[b, start:start + frames.shape[0]] = frames.to(output_device, torch.float32)
            done += frames.shape[0]
            if preview is not None:
                preview.offer(out[b, start + frames.shape[0] - 1:start + frames.shape[0]], "raw")
            if callback is not None:
                callback(done, clips * total)
        return out

    def basis(self) -> torch.Tensor:
        """The orthonormal motion directions Q (D, dim_m)."""
        with torch.no_grad():
            return self.model.motion_autoencoder.dec.direction.basis().float()

    def networks(self) -> dict[str, nn.Module]:
        """The separately placeable networks, for a host's memory management."""
        found = {"float": self.model, "audio": self.wav2vec2, "emotion": self.emotion_encoder}
        return {name: net for name, net in found.items() if net is not None}


# Decode batch size rule (README, "Speed and memory"). Activation memory of one 512 px frame
# on the fast path: bench/memory.py measured 304, 262, 201 MiB per frame at batches 1, 2, 4
# (peak of the batch / its frames, CPU fp32); 400 MiB leaves a margin.
DECODE_BYTES_PER_FRAME_512 = 400 * 2 ** 20
DECODE_MEMORY_SHARE = {"cuda": 0.5, "cpu": 0.25}  # of the free memory, the rest is left to others
# Beyond these caps batching gave no more speed. On a 2-core CPU one frame at a time was as
# fast as batches of 2 or 4 (bench: 0.54-0.67 s/frame vs 0.62-0.67), and it keeps memory lowest.
DECODE_MAX_BATCH = {"cuda": 32, "cpu": 1}
UNKNOWN_FREE_HOST_MEMORY = 2 * 2 ** 30  # free RAM the platform does not report: assume a modest 2 GiB


def auto_decode_batch_size(device: torch.device | str, input_size: int, dtype: torch.dtype = torch.float32) -> int:
    """Frames decoded at once: as many as fit a share of the free memory, within a cap.

    GPU: free memory from torch.cuda.mem_get_info; CPU: MemAvailable from /proc/meminfo
    (os.sysconf elsewhere). Other devices (MPS, ...) get 4. Give `batch_size` to override.
    """
    device = torch.device(device)
    if device.type not in DECODE_MAX_BATCH:
        return 4
    per_frame = DECODE_BYTES_PER_FRAME_512 * (input_size / 512) ** 2 * torch.finfo(dtype).bits / 32
    free = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else available_host_memory()
    free = UNKNOWN_FREE_HOST_MEMORY if free is None else free
    fitting = int(free * DECODE_MEMORY_SHARE[device.type] // per_frame)
    return max(1, min(DECODE_MAX_BATCH[device.type], fitting))


def available_host_memory() -> int | None:
    """Bytes of RAM available to new allocations, or None when the platform does not say.

    The one place FloatKit reads free host memory (the decode batch rule and the nodes' memory
    guard both use it): psutil when installed (it knows Windows and macOS), else Linux
    MemAvailable from /proc/meminfo, else the free pages from os.sysconf."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - not installed, or no answer on this platform
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None




def _window_frames(window_seconds: float | None, rate: float) -> int | None:
    if window_seconds is None:
        return None
    if not window_seconds > 0:
        raise ValueError(f"window_seconds={window_seconds}: give a positive length in seconds, or None to "
                         "encode the whole clip at once")
    return max(1, round(window_seconds * rate))


def _check_type(value: object, wanted: type, name: str, source: str) -> None:
    if not isinstance(value, wanted):
        raise TypeError(f"{name}: expected a float_models.{wanted.__name__} (from {source}), "
                        f"got {type(value).__name__}")


def _match_batches(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Broadcast a batch of 1 against the other; different batches > 1 are an error."""
    if a.shape[0] == b.shape[0]:
        return a, b
    if a.shape[0] == 1:
        return a.expand(b.shape[0], *a.shape[1:]), b
    if b.shape[0] == 1:
        return a, b.expand(a.shape[0], *b.shape[1:])
    raise ValueError(f"{name_a} batch ({a.shape[0]}) and {name_b} batch ({b.shape[0]}) disagree: give one "
                     f"{name_a} per {name_b} clip, or a single one to share")


def load_pipeline(checkpoint: str | Path, audio_encoder: str | Path | None = None,
                  emotion_encoder: str | Path | None = None, device: torch.device | str | None = None,
                  dtype: torch.dtype | None = None, config: FloatConfig | None = None,
                  with_emotion: bool = True, run_device: torch.device | str | None = None,
                  motion_dtype: torch.dtype | None = None) -> FloatPipeline:
    """Load FLOAT from its files.

    checkpoint:      float.pth or a .safetensors (FLOAT networks, possibly with both towers).
    audio_encoder:   folder of facebook/wav2vec2-base-960h (not needed if the checkpoint holds it;
                     a folder given here is used even then).
    emotion_encoder: folder of r-f/wav2vec-english-speech-emotion-recognition (optional: without
                     it, emotions must be given as labels).
    with_emotion:    False never builds the emotion classifier (wav2vec2-large, 1.3 GB), not even
                     the copy inside a unified checkpoint: emotions then come from labels only.
    dtype:           the networks' precision (default float32). A reduced precision that cannot
                     run correctly where the networks run (the CPU) loads float32 instead, with
                     one log line (`devices.runnable_dtype`).
    run_device:      where the networks will run, when a host loads them on `device` and moves
                     them before each stage (ComfyUI); default `device`.
    motion_dtype:    the motion sampler's (FMT's) precision: None (default) is float32 on every
                     device, so motion matches the official numbers (`devices.sampler_dtype`).
    """
    device = torch.device(device) if device is not None else default_device()
    where = run_device if run_device is not None else device
    dtype = runnable_dtype(dtype or torch.float32, where)
    fmt_dtype = sampler_dtype(motion_dtype, where)
    # Towers not needed are not read: an explicit folder replaces the checkpoint's copy.
    skip = tuple(name for name, unused in (("audio", audio_encoder is not None),
                                           ("emotion", not with_emotion or emotion_encoder is not None)) if unused)
    model, weights = load_float_model(checkpoint, config, device, dtype, skip, fmt_dtype)
    audio_cfg, audio_sd, audio_src = tower_sources(audio_encoder, weights.audio_tower, AUDIO_TOWER_NAME,
                                                   "audio encoder (wav2vec2-base-960h)")
    wav2vec2 = build_wav2vec2(audio_cfg, tower_state(audio_sd), audio_src, device, dtype)
    emotion = None
    if with_emotion and (weights.emotion or emotion_encoder is not None):
        emo_cfg, emo_sd, emo_src = tower_sources(emotion_encoder, weights.emotion, EMOTION_TOWER_NAME,
                                                 "emotion encoder")
        emotion = build_emotion_encoder(emo_cfg, emo_sd, emo_src, device, dtype)
    if wav2vec2.config.hidden_size * wav2vec2.config.num_hidden_layers != \
            model.audio_encoder.audio_projection[0].in_features:
        raise CheckpointError(f"{audio_src}: its {wav2vec2.config.num_hidden_layers} layers x "
                              f"{wav2vec2.config.hidden_size} do not fit FLOAT's audio projection; use "
                              "facebook/wav2vec2-base-960h")
    return FloatPipeline(model, wav2vec2, emotion)
