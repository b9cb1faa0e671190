"""Sampling motion with the FMT: windows, seeded noise and the flow ODE (paper, Sec. 3.3).

A clip of T frames is generated in windows of L = 50 frames. Window k starts from noise
x_0 and integrates dx/dt = v(x, t) from t = 0 to 1; it is conditioned on the last L' = 10
motion latents and audio features of window k-1 (zeros for the first window). Windows are
concatenated without overlap and the result is cut to T frames, as the official code does.

Conventions that matter for matching the official numbers:
* `nfe` is the number of time points: the grid is linspace(0, 1, nfe), so Euler takes
  nfe - 1 steps (nfe = 10 -> 9 FMT evaluations per window).
* Every window starts from the same noise: torch.randn(B, L, D) from a CPU generator seeded
  with `seed`, re-created per window (the official fix_noise_seed path). Being made on the
  CPU, a seed gives the same motion on every device.
* The last window's audio features are padded by repeating the last frame.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .guidance import guided_velocity
from .settings import NFE_RANGE, SEED_RANGE

Callback = Callable[[int, int], None]

# Fixed-grid solvers of torchdiffeq; adaptive ones (dopri5, ...) also work, with a step
# count known only at the end.
FIXED_GRID_SOLVERS = ("euler", "midpoint", "rk4", "explicit_adams", "implicit_adams")
SOLVERS = FIXED_GRID_SOLVERS + ("heun3", "bosh3", "fehlberg2", "adaptive_heun", "dopri5", "dopri8")
ODE_TOLERANCE = 1e-5  # the official atol and rtol (only adaptive solvers read them)

# On CUDA each solver step replays a captured graph of the FMT call (see `VelocityStep`):
# sampling is bound by kernel launches there (37 ms of kernels in 0.22 s of wall time on an
# H100, notes: gpu.md). Set FLOATKIT_CUDA_GRAPHS=0 (or this flag) to run every step eagerly.
CUDA_GRAPHS = os.environ.get("FLOATKIT_CUDA_GRAPHS", "1") != "0"
STEP_MODES = ("eager", "static", "graph")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Guidance:
    a_cfg_scale: float = 2.0
    e_cfg_scale: float = 1.0
    r_cfg_scale: float = 1.0


def window_noise(seed: int, batch: int, frames: int, dim: int) -> torch.Tensor:
    """The official per-window starting noise, always drawn on the CPU."""
    generator = torch.Generator("cpu").manual_seed(int(seed))
    return torch.randn(batch, frames, dim, generator=generator)


def check_settings(guidance: Guidance, nfe: int, seed: int) -> None:
    """Refuse, before any work, what would fail late or silently: NaN/infinite guidance scales (an
    all-black video), nfe above NFE_RANGE (minutes or terabytes per window), seeds torch cannot take."""
    for name, value in vars(guidance).items():
        if not math.isfinite(float(value)):
            raise ValueError(f"{name}={value}: guidance scales must be finite numbers")
    if int(nfe) > NFE_RANGE[1]:
        raise ValueError(f"nfe={nfe}: at most {NFE_RANGE[1]} time points per window (10 is official)")
    if not SEED_RANGE[0] <= int(seed) <= SEED_RANGE[1]:
        raise ValueError(f"seed={seed}: must be between {SEED_RANGE[0]} and 2**63-1 ({SEED_RANGE[1]})")


def num_windows(total_frames: int, window: int) -> int:
    return math.ceil(total_frames / window)


def time_grid(nfe: int) -> torch.Tensor:
    if nfe < 2:
        raise ValueError(f"nfe={nfe}: the ODE needs at least 2 time points (1 step); use nfe >= 2")
    return torch.linspace(0, 1, nfe)


class _WindowField(nn.Module):
    """dx/dt for one window; torchdiffeq calls `callback_step` before every step it takes."""

    def __init__(self, velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                 on_step: Callable[[], None]):
        super().__init__()
        self.velocity, self.on_step = velocity, on_step

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.velocity(t, x)

    def callback_step(self, t0, y0, dt) -> None:  # noqa: ANN001 - torchdiffeq's signature
        self.on_step()


def sample_motion(fmt: nn.Module, audio: torch.Tensor, reference: torch.Tensor, emotion: torch.Tensor,
                  *, num_frames: int, num_prev_frames: int, guidance: Guidance = Guidance(),
                  nfe: int = 10, seed: int = 15, solver: str = "euler",
                  callback: Callback | None = None, step_mode: str | None = None) -> torch.Tensor:
    """Sample motion latents r->D for a whole clip.

    audio (B, T, dim_a) projected features; reference r_s (B, D); emotion (B or 1, 7) for the
    clip or (B or 1, T, 7) per frame. The FMT runs in the dtype of its parameters; the ODE
    state stays in float32. `callback(done, total)` follows every solver step and may raise
    to cancel. step_mode: "graph" (CUDA graph replay, the default on CUDA), "eager" (the
    default elsewhere) or "static" (the graph path's buffers without capture, for tests); all
    give the same numbers. Returns (B, T, D) in float32.
    """
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    check_settings(guidance, nfe, seed)
    from torchdiffeq import odeint  # on first use: importing float_models (as the node pack does) stays light

    grid = time_grid(nfe)
    batch, total, _ = audio.shape
    dim = reference.shape[-1]
    windows = num_windows(total, num_frames)
    per_window = nfe - 1 if solver in FIXED_GRID_SOLVERS else None
    progress = _Progress(callback, windows, per_window)
    param = next(fmt.parameters())
    device, dtype = param.device, param.dtype
    audio, reference = audio.to(device, dtype), reference.to(device, dtype)
    emotion = _per_frame_emotion(emotion.to(device, dtype), total)
    # The ODE state x stays in float32 (the noise is float32 and the velocity is cast back):
    # x reaches magnitudes near 8, where bfloat16's step is 2^-5, while an Euler step adds
    # dt * v of about 0.1; rounding x to the model dtype after every step would lose much of
    # each increment. Only the FMT's input is rounded.
    noise = window_noise(seed, batch, num_frames, dim).to(device)
    step = VelocityStep.for_model(fmt, guidance, num_prev_frames, step_mode or default_step_mode(device))

    prev_x = torch.zeros(batch, num_prev_frames, dim, device=device, dtype=dtype)
    prev_wa = torch.zeros(batch, num_prev_frames, audio.shape[-1], device=device, dtype=dtype)
    prev_we = emotion[:, :1].expand(-1, num_prev_frames, -1)
    windows_out = []
    for k in range(windows):
        wa = _pad_window(audio[:, k * num_frames:(k + 1) * num_frames], num_frames)
        we = _pad_window(emotion[:, k * num_frames:(k + 1) * num_frames], num_frames)
        we_tokens = _emotion_tokens(prev_we, we)

        def velocity(t: torch.Tensor, x: torch.Tensor, wa=wa, we=we_tokens, prev_x=prev_x, prev_wa=prev_wa):
            return step(t, x, wa, reference, we, prev_x, prev_wa)

        field = _WindowField(velocity, progress.step)
        x = odeint(field, noise, grid.to(device), method=solver, atol=ODE_TOLERANCE, rtol=ODE_TOLERANCE)[-1]
        progress.window_done()
        windows_out.append(x)
        prev_x, prev_wa = x[:, -num_prev_frames:].to(dtype), wa[:, -num_prev_frames:]
        prev_we = we[:, -num_prev_frames:]
    return torch.cat(windows_out, dim=1)[:, :total]


def default_step_mode(device: torch.device) -> str:
    return "graph" if device.type == "cuda" and CUDA_GRAPHS else "eager"


class VelocityStep:
    """One guided FMT evaluation, v(t, x) for the window's tokens, in float32.

    "eager" calls the FMT directly. "static" and "graph" first copy the inputs into buffers
    kept per input shape; "graph" then replays a CUDA graph of the FMT call captured on those
    buffers (no torch.compile): one launch instead of hundreds. The first call for a shape
    runs eagerly on a side stream (the warm-up that capture needs, and its result is used);
    the second captures. A graph replays the eager kernels, so the numbers do not change.
    Runners live on the FMT module, keyed by its parameters' storage and the guidance, so
    later clips of the same shape replay at once; a parameter moved or reloaded gets a new key.
    """

    MAX_SHAPES = 4  # captured shapes kept per runner (each holds its activations' memory)

    def __init__(self, fmt: nn.Module, guidance: Guidance, num_prev_frames: int, mode: str):
        if mode not in STEP_MODES:
            raise ValueError(f"unknown step mode {mode!r}; choose one of {', '.join(STEP_MODES)}")
        self.fmt, self.guidance, self.num_prev_frames, self.mode = fmt, guidance, num_prev_frames, mode
        self.dtype = next(fmt.parameters()).dtype
        self.slots: dict[tuple, _StaticSlot] = {}

    @classmethod
    def for_model(cls, fmt: nn.Module, guidance: Guidance, num_prev_frames: int, mode: str) -> "VelocityStep":
        if mode == "eager":
            return cls(fmt, guidance, num_prev_frames, mode)
        key = (mode, guidance, num_prev_frames,
               tuple((p.data_ptr(), p.device, p.dtype) for p in fmt.parameters()))
        cached = fmt.__dict__.get("_velocity_step")
        if cached is None or cached[0] != key:
            cached = (key, cls(fmt, guidance, num_prev_frames, mode))
            fmt.__dict__["_velocity_step"] = cached
        return cached[1]

    def velocity(self, t: torch.Tensor, x: torch.Tensor, wa: torch.Tensor, wr: torch.Tensor, we: torch.Tensor,
                 prev_x: torch.Tensor, prev_wa: torch.Tensor) -> torch.Tensor:
        """The computation itself (what a graph captures)."""
        g = self.guidance
        out = guided_velocity(self.fmt, t.reshape(1).expand(x.shape[0]), x.to(self.dtype), wa, wr, we,
                              prev_x, prev_wa, g.a_cfg_scale, g.e_cfg_scale, g.r_cfg_scale)
        return out[:, self.num_prev_frames:].float()

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        if self.mode == "eager":
            return self.velocity(*inputs)
        key = tuple((tuple(i.shape), i.dtype, i.device) for i in inputs)
        slot = self.slots.get(key)
        if slot is None:
            if len(self.slots) >= self.MAX_SHAPES:
                self.slots.clear()
            slot = self.slots[key] = _StaticSlot(inputs)
        slot.load(inputs)
        if self.mode == "graph" and slot.graph is None and slot.warmed and not slot.failed:
            slot.capture(self.velocity)
        if slot.graph is not None:
            slot.graph.replay()
            return slot.output.clone()  # solvers keep several evaluations (rk4): the buffer is reused
        out = slot.warm_up(self.velocity) if self.mode == "graph" else self.velocity(*slot.buffers)
        slot.warmed = True
        return out


class _StaticSlot:
    """Input buffers of one shape, and the graph captured on them."""

    def __init__(self, inputs: tuple[torch.Tensor, ...]):
        self.buffers = tuple(torch.empty(i.shape, dtype=i.dtype, device=i.device) for i in inputs)
        self.graph: "torch.cuda.CUDAGraph | None" = None
        self.output: torch.Tensor | None = None
        self.warmed = self.failed = False

    def load(self, inputs: tuple[torch.Tensor, ...]) -> None:
        for buffer, value in zip(self.buffers, inputs):
            buffer.copy_(value)

    def warm_up(self, fn: Callable[..., torch.Tensor]) -> torch.Tensor:
        """An eager call on a side stream: lazy initialisation (cuBLAS handles, workspaces) must
        not happen during capture."""
        side = torch.cuda.Stream(self.buffers[0].device)
        side.wait_stream(torch.cuda.current_stream(self.buffers[0].device))
        with torch.cuda.stream(side):
            out = fn(*self.buffers)
        torch.cuda.current_stream(self.buffers[0].device).wait_stream(side)
        return out

    def capture(self, fn: Callable[..., torch.Tensor]) -> None:
        graph = torch.cuda.CUDAGraph()
        try:
            # thread_local: a host's other threads (previews, model loading) may use CUDA meanwhile.
            with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                self.output = fn(*self.buffers)
        except RuntimeError as error:  # an op that cannot be captured: stay eager, still correct
            log.warning("FloatKit: CUDA graph capture of the FMT step failed (%s); sampling eagerly", error)
            self.failed, self.output = True, None
            return
        self.graph = graph


def _pad_window(x: torch.Tensor, length: int) -> torch.Tensor:
    """Repeat the last frame up to `length` frames (the official replicate padding)."""
    missing = length - x.shape[1]
    if missing <= 0:
        return x
    return F.pad(x.transpose(1, 2), (0, missing), mode="replicate").transpose(1, 2)


def _per_frame_emotion(emotion: torch.Tensor, total: int) -> torch.Tensor:
    """(B, 7) or (B, T, 7) -> (B, T, 7), as a broadcast view when constant."""
    if emotion.dim() == 2:
        return emotion[:, None].expand(-1, total, -1)
    if emotion.shape[1] != total:
        raise ValueError(f"the emotion schedule has {emotion.shape[1]} frames but the audio has {total}")
    return emotion


def _emotion_tokens(prev_we: torch.Tensor, we: torch.Tensor) -> torch.Tensor:
    """Emotion for the L' context tokens and the L window tokens.

    A constant emotion collapses to one token, so the FMT repeats a single vector exactly as
    the official code does (and a constant schedule reproduces the plain path bit for bit).
    """
    tokens = torch.cat([prev_we, we], dim=1)
    if tokens.stride(1) == 0 or bool((tokens == tokens[:, :1]).all()):
        return tokens[:, :1]
    return tokens


class _Progress:
    """Reports (done, total) solver steps; adaptive solvers report whole windows instead."""

    def __init__(self, callback: Callback | None, windows: int, steps_per_window: int | None):
        self.callback, self.per_window = callback, steps_per_window
        self.total = windows * steps_per_window if steps_per_window else windows
        self.done = 0

    def step(self) -> None:
        if self.per_window:
            self.done += 1
        self._report()  # also a cancel point for adaptive solvers

    def window_done(self) -> None:
        if not self.per_window:
            self.done += 1
            self._report()

    def _report(self) -> None:
        if self.callback is not None:
            self.callback(self.done, self.total)
