"""Issue 23, the sampler's CUDA-graph path on the CPU (rows 1, 2, 4, 7, 9 and the self-check).

The CUDA calls are replaced by stand-ins: `sampling.GRAPHS` by a backend whose "graphs" replay
correctly, replay stale values (what an empty capture on the wrong GPU does), or fail to capture;
torch.cuda's stream and graph calls by recorders where the capture's own code is checked.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import weakref

import pytest
import torch
from torch import nn

from float_models import sampling
from float_models.devices import DropsCachesOnMove, device_caches
from float_models.sampling import Guidance, VelocityStep, sample_motion

DIM, PREV, WINDOW = 4, 2, 5


class TinyFMT(DropsCachesOnMove, nn.Module):
    """An FMT-shaped field: (t, x, wa, wr, we, prev_x, prev_wa) -> (B, L'+L, D)."""

    def __init__(self, bias: float = 0.0):
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(DIM, DIM)
        with torch.no_grad():
            self.lin.bias.add_(bias)

    def forward(self, t, x, wa, wr, we, prev_x, prev_wa):  # noqa: ANN001
        seq = torch.cat([prev_x, x], 1)
        audio = torch.cat([prev_wa, wa], 1)
        return self.lin(seq) * (1 + t[:, None, None]) + 0.1 * audio + we.mean(-1, keepdim=True) + wr[:, None]


class FakeGraphs:
    """sampling.GRAPHS for the CPU: `mode` "good" replays the function, "stale" returns what the
    capture call left (an empty graph), "fail" raises at capture."""

    def __init__(self, mode: str = "good"):
        self.mode, self.captures, self.warm_ups = mode, 0, 0

    def warm_up(self, fn, buffers, device):  # noqa: ANN001
        self.warm_ups += 1
        return fn(*buffers)

    def capture(self, fn, buffers, device):  # noqa: ANN001
        self.captures += 1
        if self.mode == "fail":
            raise RuntimeError("CUDA error: operation not permitted when stream is capturing")
        output = fn(*buffers)
        return _FakeGraph(fn, buffers, output, stale=self.mode == "stale"), output


class _FakeGraph:
    def __init__(self, fn, buffers, output, stale: bool):  # noqa: ANN001
        self.fn, self.buffers, self.output, self.stale = fn, buffers, output, stale

    def replay(self) -> None:
        if not self.stale:
            self.output.copy_(self.fn(*self.buffers))


@pytest.fixture
def graphs(monkeypatch):
    """Graphs on (as on a fresh process), with the given stand-in backend."""
    monkeypatch.setattr(sampling, "_GRAPHS_OFF", [])
    monkeypatch.setattr(sampling, "CUDA_GRAPHS", True)

    def use(mode: str) -> FakeGraphs:
        backend = FakeGraphs(mode)
        monkeypatch.setattr(sampling, "GRAPHS", backend)
        return backend

    return use


def _sample(fmt: nn.Module, mode: str, frames: int = 12, guidance: Guidance = Guidance(), emotion=None,
            callback=None) -> torch.Tensor:  # noqa: ANN001
    generator = torch.Generator().manual_seed(1)
    audio = torch.randn(1, frames, DIM, generator=generator)
    reference = torch.randn(1, DIM, generator=generator)
    emotion = torch.full((1, 7), 1 / 7) if emotion is None else emotion
    with torch.inference_mode():
        return sample_motion(fmt, audio, reference, emotion, num_frames=WINDOW, num_prev_frames=PREV,
                             guidance=guidance, nfe=4, seed=3, step_mode=mode, callback=callback)


def test_checked_graphs_replay_with_eager_numbers_and_cfg_shares_them(graphs):
    backend = graphs("good")
    fmt = TinyFMT()
    eager = _sample(fmt, "eager")
    assert torch.equal(_sample(fmt, "graph"), eager)
    assert torch.equal(_sample(fmt, "graph"), eager)  # replays only
    assert backend.captures == 1 and backend.warm_ups == 1
    # Row 9: another cfg is another set of input values, not another runner or capture.
    other = Guidance(a_cfg_scale=3.5, e_cfg_scale=1.5)
    assert torch.equal(_sample(fmt, "graph", guidance=other), _sample(fmt, "eager", guidance=other))
    assert backend.captures == 1 and not sampling._GRAPHS_OFF


def test_a_failed_capture_switches_graphs_off_for_the_process_once(graphs, caplog):
    backend = graphs("fail")
    first, second = TinyFMT(), TinyFMT(bias=0.5)
    with caplog.at_level(logging.WARNING, logger="float_models"):
        assert torch.equal(_sample(first, "graph"), _sample(first, "eager"))  # the run continues eagerly
        assert torch.equal(_sample(second, "graph", frames=7), _sample(second, "eager", frames=7))
    assert backend.captures == 1  # no other runner, shape or model tries again
    lines = [r.getMessage() for r in caplog.records if "CUDA graphs are off" in r.getMessage()]
    assert len(lines) == 1 and "capture of the FMT step failed" in lines[0] and "FLOATKIT_CUDA_GRAPHS=0" in lines[0]
    assert sampling.default_step_mode(torch.device("cuda", 0)) == "eager"


def test_a_graph_that_disagrees_with_eager_is_caught_at_its_first_replay(graphs, caplog):
    """Row 1's failure: a capture on the wrong GPU records nothing, and every replay returns the
    velocity of the capture call. The self-check replays on the warm-up's inputs and compares."""
    graphs("stale")
    fmt = TinyFMT()
    with caplog.at_level(logging.WARNING, logger="float_models"):
        motion = _sample(fmt, "graph")
    assert torch.equal(motion, _sample(fmt, "eager"))
    assert any("differed from eager" in r.getMessage() for r in caplog.records)
    assert sampling._GRAPHS_OFF and not sampling.graphs_on()


class _Recorder:
    """Stand-ins for torch.cuda's device, stream and graph calls, recording what they were given."""

    def __init__(self):
        self.events: list[tuple] = []
        self.current = None

    def device(self, device):  # noqa: ANN001
        @contextlib.contextmanager
        def ctx():
            before, self.current = self.current, torch.device(device)
            self.events.append(("device", self.current))
            yield
            self.current = before
        return ctx()

    def Stream(self, device=None):  # noqa: ANN001, N802
        stream = _FakeStream(torch.device(device) if device is not None else None, self.current, self.events)
        self.events.append(("stream", stream.device, self.current))
        return stream

    def current_stream(self, device=None):  # noqa: ANN001
        return _FakeStream(device, self.current, self.events)

    def stream(self, stream):  # noqa: ANN001
        return contextlib.nullcontext()

    def graph(self, graph, stream=None, capture_error_mode="global"):  # noqa: ANN001
        self.events.append(("graph", stream, capture_error_mode))
        return contextlib.nullcontext()


class _FakeStream:
    def __init__(self, device, current, events):  # noqa: ANN001
        self.device, self.current, self.events = device, current, events

    def wait_stream(self, other) -> None:  # noqa: ANN001
        pass


def test_capture_and_warm_up_run_on_the_models_device_with_their_own_stream(monkeypatch):
    recorder = _Recorder()
    for name in ("device", "Stream", "current_stream", "stream", "graph"):
        monkeypatch.setattr(torch.cuda, name, getattr(recorder, name))
    monkeypatch.setattr(torch.cuda, "CUDAGraph", lambda: "graph")
    gpu1 = torch.device("cuda", 1)
    recorded = []

    class Out:
        def record_stream(self, stream) -> None:  # noqa: ANN001
            recorded.append(stream)

    graph, _ = sampling.CudaGraphs.capture(lambda *b: "out", (torch.zeros(1),), gpu1)
    assert ("device", gpu1) in recorder.events
    streams = [e for e in recorder.events if e[0] == "stream"]
    assert streams and all(e[1] == gpu1 and e[2] == gpu1 for e in streams)  # made on cuda:1, inside its guard
    captured = [e for e in recorder.events if e[0] == "graph"]
    assert captured and captured[0][1] is not None and captured[0][1].device == gpu1  # its own capture stream
    sampling.CudaGraphs.warm_up(lambda *b: Out(), (torch.zeros(1),), gpu1)
    assert len(recorded) == 1  # row 9: the warm-up output is recorded on the stream that uses it


def test_a_freed_fmt_dies_without_a_garbage_collection():
    """Row 4: the runner kept on the FMT must not keep the FMT alive (a reference cycle)."""
    gc.collect()
    gc.disable()
    try:
        fmt = TinyFMT()
        _sample(fmt, "static")
        assert device_caches(fmt)["velocity_steps"]
        alive = weakref.ref(fmt)
        del fmt
        assert alive() is None
    finally:
        gc.enable()


def test_runners_are_dropped_when_the_fmt_is_moved_and_not_copied():
    """Row 3: ComfyUI offloads with module.to(); the runner's buffers and graphs must not stay behind
    (and a copy of the FMT, e.g. a benchmark's, must not carry graphs, which cannot be copied)."""
    import copy

    fmt = TinyFMT()
    _sample(fmt, "static")
    step = next(iter(device_caches(fmt)["velocity_steps"].values()))
    assert step.slots
    assert "velocity_steps" not in device_caches(copy.deepcopy(fmt))
    fmt.to("cpu")
    assert "velocity_steps" not in device_caches(fmt)


def test_a_half_sampler_overflow_is_refused_at_the_window_not_after_the_run():
    """Row 7: with 3 windows the run stops at the second window at the latest."""
    fmt = TinyFMT(bias=65504.0).half()
    steps = []
    with pytest.raises(FloatingPointError, match="overflowed in float16 .* in window 1 of 3: load the models"):
        _sample(fmt, "eager", frames=15, callback=lambda done, total: steps.append((done, total)))
    assert steps[-1][0] < steps[-1][1] and steps[-1][0] <= 2 * 3  # 3 steps per window, 9 in all


def test_emotion_tokens_are_decided_before_the_fmt_runs(monkeypatch):
    """Row 9: deciding whether a window's emotion collapses reads values (a host sync on a GPU):
    it happens for every window before the first FMT call, not once per window during sampling."""
    fmt = TinyFMT()
    order = []
    original = sampling._emotion_tokens
    monkeypatch.setattr(sampling, "_emotion_tokens", lambda *a: order.append("tokens") or original(*a))
    fmt.register_forward_hook(lambda *a: order.append("fmt"))
    schedule = torch.softmax(torch.randn(1, 15, 7, generator=torch.Generator().manual_seed(0)), -1)
    _sample(fmt, "eager", frames=15, emotion=schedule)
    assert order[:3] == ["tokens"] * 3 and "tokens" not in order[3:]


def test_step_runner_holds_no_strong_reference():
    fmt = TinyFMT()
    step = VelocityStep.for_model(fmt, Guidance(), PREV, "static")
    assert step.fmt is fmt
    assert not any(value is fmt for value in vars(step).values())
