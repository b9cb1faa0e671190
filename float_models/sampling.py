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
import weakref
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .devices import device_caches
from .guidance import guided_velocity, uses_guidance
from .settings import NFE_RANGE, SEED_RANGE

Callback = Callable[[int, int], None]

# Fixed-grid solvers of torchdiffeq; adaptive ones (dopri5, ...) also work, with a step
# count known only at the end.
FIXED_GRID_SOLVERS = ("euler", "midpoint", "rk4", "explicit_adams", "implicit_adams")
SOLVERS = FIXED_GRID_SOLVERS + ("heun3", "bosh3", "fehlberg2", "adaptive_heun", "dopri5", "dopri8")
ODE_TOLERANCE = 1e-5  # the official atol and rtol (only adaptive solvers read them)

# On CUDA each solver step replays a captured graph of the FMT call (see `VelocityStep`):
# sampling is bound by kernel launches there (37 ms of kernels in 0.22 s of wall time on an
# H100, notes: gpu.md). Set FLOATKIT_CUDA_GRAPHS=0 (or this flag) to run every step eagerly;
# a capture that fails or disagrees with eager switches graphs off by itself (`switch_graphs_off`).
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
    give the same numbers. Returns (B, T, D) in float32. A window whose motion is not finite
    (a float16 FMT overflowed) stops the run with FloatingPointError, one window late at most.
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
    # Emotion tokens are made on the CPU for every window before any GPU work is queued: deciding
    # whether a window's emotion collapses to one token reads values, a host sync per window there.
    emotion_windows = [w.to(device, dtype) for w in
                       _emotion_windows(emotion.detach().to("cpu", torch.float32), total, num_frames, num_prev_frames)]
    # The ODE state x stays in float32 (the noise is float32 and the velocity is cast back):
    # x reaches magnitudes near 8, where bfloat16's step is 2^-5, while an Euler step adds
    # dt * v of about 0.1; rounding x to the model dtype after every step would lose much of
    # each increment. Only the FMT's input is rounded.
    noise = window_noise(seed, batch, num_frames, dim).to(device)
    step = VelocityStep.for_model(fmt, guidance, num_prev_frames, step_mode or default_step_mode(device))
    scales = torch.tensor([guidance.a_cfg_scale, guidance.e_cfg_scale, guidance.r_cfg_scale], device=device)

    prev_x = torch.zeros(batch, num_prev_frames, dim, device=device, dtype=dtype)
    prev_wa = torch.zeros(batch, num_prev_frames, audio.shape[-1], device=device, dtype=dtype)
    windows_out, finite = [], _FiniteCheck(dtype, windows)
    for k in range(windows):
        wa = _pad_window(audio[:, k * num_frames:(k + 1) * num_frames], num_frames)

        def velocity(t: torch.Tensor, x: torch.Tensor, wa=wa, we=emotion_windows[k], prev_x=prev_x, prev_wa=prev_wa):
            return step(t, x, wa, reference, we, prev_x, prev_wa, scales)

        field = _WindowField(velocity, progress.step)
        x = odeint(field, noise, grid.to(device), method=solver, atol=ODE_TOLERANCE, rtol=ODE_TOLERANCE)[-1]
        finite.window(k, x)  # reads the previous window's flag: this window is already queued
        progress.window_done()
        windows_out.append(x)
        prev_x, prev_wa = x[:, -num_prev_frames:].to(dtype), wa[:, -num_prev_frames:]
    finite.done()
    return torch.cat(windows_out, dim=1)[:, :total]


class _FiniteCheck:
    """Refuses motion with inf or NaN (a float16 FMT that overflowed) as soon as a window shows it.
    Each window's flag is read after the next window is queued, so the GPU never waits for it."""

    def __init__(self, dtype: torch.dtype, windows: int):
        self.dtype, self.windows = dtype, windows
        self.pending: tuple[int, torch.Tensor] | None = None

    def window(self, k: int, x: torch.Tensor) -> None:
        self.done()
        self.pending = (k, torch.isfinite(x).all())

    def done(self) -> None:
        if self.pending is None:
            return
        k, flag = self.pending
        self.pending = None
        if bool(flag):
            return
        name = str(self.dtype).replace("torch.", "")
        advice = ("load the models with precision bf16 or fp32" if self.dtype == torch.float16
                  else "check the inputs (audio features, reference motion) for inf or NaN")
        raise FloatingPointError(f"the motion sampler overflowed in {name} (inf or NaN) in window {k + 1} of "
                                 f"{self.windows}: {advice}")


def default_step_mode(device: torch.device) -> str:
    return "graph" if device.type == "cuda" and graphs_on() else "eager"


# ---------------------------------------------------------------- CUDA graphs, checked

_GRAPHS_OFF: list[str] = []  # why graphs were switched off in this process (empty: they are on)


def graphs_on() -> bool:
    """Whether sampling may replay CUDA graphs: FLOATKIT_CUDA_GRAPHS is not 0, and no capture has
    failed or disagreed with eager in this process."""
    return CUDA_GRAPHS and not _GRAPHS_OFF


def switch_graphs_off(reason: str) -> None:
    """Every later step of every runner in this process runs eagerly; one log line says why.

    Process-wide because on PyTorch releases before two recent fixes a failed capture leaves the
    allocator believing a capture is under way: another capture would fail the same way, and the
    host's next empty_cache() would fail an internal assert."""
    if _GRAPHS_OFF:
        return
    _GRAPHS_OFF.append(reason)
    log.warning("FloatKit: CUDA graphs are off for this process (%s); sampling continues eagerly, with the "
                "same numbers. Set FLOATKIT_CUDA_GRAPHS=0 to skip them from the start, and please report this "
                "(python -m float_models check-device shows it on your card).", reason)


class CudaGraphs:
    """Warm-up and capture of one FMT step on the model's device (swapped for a stand-in in tests)."""

    @staticmethod
    def warm_up(fn: Callable[..., torch.Tensor], buffers: tuple[torch.Tensor, ...],
                device: torch.device) -> torch.Tensor:
        """An eager call on a side stream: lazy initialisation (cuBLAS handles, workspaces) must
        not happen during capture."""
        with torch.cuda.device(device):
            main = torch.cuda.current_stream(device)
            side = torch.cuda.Stream(device=device)
            side.wait_stream(main)
            with torch.cuda.stream(side):
                out = fn(*buffers)
            main.wait_stream(side)
            out.record_stream(main)  # made on the side stream, used on the main one
        return out

    @staticmethod
    def capture(fn: Callable[..., torch.Tensor], buffers: tuple[torch.Tensor, ...],
                device: torch.device) -> tuple["torch.cuda.CUDAGraph", torch.Tensor]:
        """The graph of fn(*buffers), captured on `device` with a stream of its own (a capture stream
        made on another GPU records nothing, and every replay would return stale values)."""
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.device(device):
            stream = torch.cuda.Stream(device=device)
            stream.wait_stream(torch.cuda.current_stream(device))
            # thread_local: a host's other threads (previews, model loading) may use CUDA meanwhile.
            with torch.cuda.graph(graph, stream=stream, capture_error_mode="thread_local"):
                output = fn(*buffers)
            torch.cuda.current_stream(device).wait_stream(stream)
        return graph, output


GRAPHS = CudaGraphs()
# A replayed graph runs the eager kernels, so its first replay must match the eager warm-up on the
# same inputs up to rounding; this many units in the last place of the model dtype, relative to
# the largest velocity, is the allowance.
SELF_CHECK_ULPS = 4
RUNNERS_KEPT = 4  # runners per FMT (guided / unguided, modes)


class VelocityStep:
    """One guided FMT evaluation, v(t, x) for the window's tokens, in float32.

    "eager" calls the FMT directly. "static" and "graph" first copy the inputs (the guidance
    scales included) into buffers kept per input shape; "graph" then replays a CUDA graph of
    the FMT call captured on those buffers (no torch.compile): one launch instead of hundreds.
    The first call for a shape runs eagerly on a side stream (the warm-up that capture needs;
    its result is used); the second captures, then replays once on the warm-up's inputs and
    compares with its result: a graph that disagrees, or a capture that fails, switches graphs
    off for the process (`switch_graphs_off`) and the step runs eagerly.

    Runners live on the FMT module (in `devices.device_caches`, dropped when the module is moved,
    as ComfyUI does to offload it) and hold it by a weak reference, so an FMT that its owner
    drops is freed at once. They are keyed by its parameters' storage, device and dtype and by
    whether guidance is on; the scales are inputs, so Sample Motion nodes with different cfg
    share the captured graphs.
    """

    MAX_SHAPES = 4  # captured shapes kept per runner (each holds its activations' memory)

    def __init__(self, fmt: nn.Module, guidance: Guidance | bool, num_prev_frames: int, mode: str):
        if mode not in STEP_MODES:
            raise ValueError(f"unknown step mode {mode!r}; choose one of {', '.join(STEP_MODES)}")
        self._fmt = weakref.ref(fmt)
        self.guided = uses_guidance(**vars(guidance)) if isinstance(guidance, Guidance) else bool(guidance)
        self.num_prev_frames, self.mode = num_prev_frames, mode
        param = next(fmt.parameters())
        self.device, self.dtype = param.device, param.dtype
        self.slots: dict[tuple, _StaticSlot] = {}

    @property
    def fmt(self) -> nn.Module:
        fmt = self._fmt()
        if fmt is None:
            raise RuntimeError("this sampling runner's FMT was freed; call VelocityStep.for_model again")
        return fmt

    @classmethod
    def for_model(cls, fmt: nn.Module, guidance: Guidance, num_prev_frames: int, mode: str) -> "VelocityStep":
        guided = uses_guidance(**vars(guidance))
        if mode == "eager":
            return cls(fmt, guided, num_prev_frames, mode)
        placement = tuple((p.data_ptr(), p.device, p.dtype) for p in fmt.parameters())
        runners = device_caches(fmt).setdefault("velocity_steps", {})
        key = (placement, mode, guided, num_prev_frames)
        if any(k[0] != placement for k in runners) or (key not in runners and len(runners) >= RUNNERS_KEPT):
            runners.clear()  # weights moved or reloaded (a host that does not call .to()): buffers are stale
        if key not in runners:
            runners[key] = cls(fmt, guided, num_prev_frames, mode)
        return runners[key]

    def velocity(self, t: torch.Tensor, x: torch.Tensor, wa: torch.Tensor, wr: torch.Tensor, we: torch.Tensor,
                 prev_x: torch.Tensor, prev_wa: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
        """The computation itself (what a graph captures); scales = (a_cfg, e_cfg, r_cfg) as a tensor."""
        out = guided_velocity(self.fmt, t.reshape(1).expand(x.shape[0]), x.to(self.dtype), wa, wr, we,
                              prev_x, prev_wa, scales[0], scales[1], scales[2], guided=self.guided)
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
        if self.mode != "graph" or not graphs_on():
            slot.release()
            return self.velocity(*slot.buffers)
        if slot.graph is None and not slot.warmed:
            return slot.warm_up(self.velocity, self.device)
        if slot.graph is None and not self._capture(slot, inputs):
            return self.velocity(*slot.buffers)
        slot.graph.replay()
        return slot.output.clone()  # solvers keep several evaluations (rk4): the buffer is reused

    def _capture(self, slot: "_StaticSlot", inputs: tuple[torch.Tensor, ...]) -> bool:
        """Capture, then check the first replay against the warm-up; False (graphs now off) if either fails."""
        try:
            slot.graph, slot.output = GRAPHS.capture(self.velocity, slot.buffers, self.device)
        except RuntimeError as error:  # an op that cannot be captured, a driver refusal, ...
            slot.release()
            switch_graphs_off(f"capture of the FMT step failed: {str(error).splitlines()[0] if str(error) else error}")
            return False
        difference = slot.self_check(self.dtype)
        slot.load(inputs)  # the check replayed the warm-up's inputs
        if difference is not None:
            slot.release()
            switch_graphs_off(f"the replayed FMT step differed from eager by {difference:.3g}")
            return False
        return True


class _StaticSlot:
    """Input buffers of one shape, and the graph captured on them."""

    def __init__(self, inputs: tuple[torch.Tensor, ...]):
        self.buffers = tuple(torch.empty(i.shape, dtype=i.dtype, device=i.device) for i in inputs)
        self.graph: "torch.cuda.CUDAGraph | None" = None
        self.output: torch.Tensor | None = None
        self.warmed = False
        self.reference: tuple[tuple[torch.Tensor, ...], torch.Tensor] | None = None  # warm-up inputs, output

    def load(self, inputs: tuple[torch.Tensor, ...]) -> None:
        for buffer, value in zip(self.buffers, inputs):
            buffer.copy_(value)

    def warm_up(self, fn: Callable[..., torch.Tensor], device: torch.device) -> torch.Tensor:
        out = GRAPHS.warm_up(fn, self.buffers, device)
        self.reference = (tuple(b.clone() for b in self.buffers), out.clone())
        self.warmed = True
        return out

    def self_check(self, dtype: torch.dtype) -> float | None:
        """Replay on the warm-up's inputs; the largest difference from its eager result when it
        exceeds rounding (SELF_CHECK_ULPS), else None. One host sync per captured shape."""
        inputs, eager = self.reference
        self.reference = None
        self.load(inputs)
        self.graph.replay()
        difference = float((self.output - eager).abs().max())
        allowed = SELF_CHECK_ULPS * torch.finfo(dtype).eps * max(1.0, float(eager.abs().max()))
        return difference if not difference <= allowed else None  # NaN counts as a difference

    def release(self) -> None:
        """Forget the graph (its memory pool goes back to the allocator)."""
        self.graph = self.output = self.reference = None


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


def _emotion_windows(emotion: torch.Tensor, total: int, num_frames: int, num_prev_frames: int) -> list[torch.Tensor]:
    """Each window's emotion tokens (`_emotion_tokens`), made from a CPU copy of the emotion."""
    emotion = _per_frame_emotion(emotion, total)
    prev_we = emotion[:, :1].expand(-1, num_prev_frames, -1)
    out = []
    for k in range(num_windows(total, num_frames)):
        we = _pad_window(emotion[:, k * num_frames:(k + 1) * num_frames], num_frames)
        out.append(_emotion_tokens(prev_we, we))
        prev_we = we[:, -num_prev_frames:]
    return out


def _emotion_tokens(prev_we: torch.Tensor, we: torch.Tensor) -> torch.Tensor:
    """Emotion for the L' context tokens and the L window tokens.

    A constant emotion collapses to one token, so the FMT repeats a single vector exactly as
    the official code does (and a constant schedule reproduces the plain path bit for bit).
    """
    tokens = torch.cat([prev_we, we], dim=1)
    if tokens.stride(1) == 0 or bool((tokens == tokens[:, :1]).all()):
        return tokens[:, :1].contiguous()
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
