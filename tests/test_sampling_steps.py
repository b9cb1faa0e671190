"""The graph-captured sampling path (sampling.VelocityStep): same motion as eager, bit for bit.

Without CUDA the graph path is tested through the same code with capture disabled ("static":
the inputs go through the per-shape buffers a graph is captured on); with CUDA the captured
graph itself is compared with eager on the same device.
"""

from __future__ import annotations

import pytest
import torch

from float_models import devices, emotion_label
from float_models.sampling import Guidance, VelocityStep, sample_motion
from tiny_weights import fixture


@pytest.fixture(scope="module")
def inputs(tiny_pipe, golden):
    identity = tiny_pipe.encode_image(golden["in.image"])
    audio = tiny_pipe.encode_audio(golden["in.waveform_16k"], 16000)
    return identity, audio


def _sample(pipe, identity, audio, mode: str, solver: str = "euler", **settings) -> torch.Tensor:
    config = pipe.config
    with torch.inference_mode():
        return sample_motion(pipe.model.fmt, audio.features, identity.motion, emotion_label("happy"),
                             num_frames=config.num_frames, num_prev_frames=config.num_prev_frames,
                             nfe=fixture()["nfe"], seed=fixture()["seed"], solver=solver, step_mode=mode,
                             **settings)


@pytest.mark.parametrize("guidance", [Guidance(2.0, 3.0, 1.0), Guidance(1.0, 1.0, 1.0)], ids=["cfg", "nocfg"])
def test_static_buffers_give_eager_motion_bit_for_bit(tiny_pipe, inputs, guidance):
    identity, audio = inputs
    eager = _sample(tiny_pipe, identity, audio, "eager", guidance=guidance)
    static = _sample(tiny_pipe, identity, audio, "static", guidance=guidance)
    assert torch.equal(static, eager)
    # A second clip reuses the buffers kept on the FMT module: still the same numbers.
    assert torch.equal(_sample(tiny_pipe, identity, audio, "static", guidance=guidance), eager)


def test_static_buffers_with_a_multi_evaluation_solver(tiny_pipe, inputs):
    """rk4 keeps four evaluations alive at once: each must be its own tensor, not the buffer."""
    identity, audio = inputs
    audio_short = type(audio)(audio.features[:, :30], audio.fps)
    eager = _sample(tiny_pipe, identity, audio_short, "eager", solver="rk4")
    assert torch.equal(_sample(tiny_pipe, identity, audio_short, "static", solver="rk4"), eager)


def test_static_runner_is_rebuilt_when_the_weights_move(tiny_pipe):
    fmt = tiny_pipe.model.fmt
    first = VelocityStep.for_model(fmt, Guidance(), 10, "static")
    assert VelocityStep.for_model(fmt, Guidance(), 10, "static") is first
    assert VelocityStep.for_model(fmt, Guidance(3.0), 10, "static") is first  # scales are inputs, not keys
    assert VelocityStep.for_model(fmt, Guidance(1.0, 1.0, 1.0), 10, "static") is not first  # no CFG batch
    with pytest.raises(ValueError, match="unknown step mode"):
        VelocityStep(fmt, Guidance(), 10, "compiled")


def test_a_full_runner_table_keeps_the_runners_it_is_asked_for_again(tiny_pipe):
    # Four kinds of runner (guided or not, static or graph) fill the table; asking for one of them
    # again must not clear it (each clear drops captured graphs, so a fifth ask would recapture).
    from float_models.sampling import RUNNERS_KEPT

    fmt = tiny_pipe.model.fmt
    kinds = [(g, mode) for g in (Guidance(), Guidance(1.0, 1.0, 1.0)) for mode in ("static", "graph")]
    assert len(kinds) == RUNNERS_KEPT
    runners = [VelocityStep.for_model(fmt, g, 10, mode) for g, mode in kinds]
    assert all(VelocityStep.for_model(fmt, g, 10, mode) is r for (g, mode), r in zip(kinds, runners))
    assert VelocityStep.for_model(fmt, Guidance(), 9, "static") not in runners  # a fifth kind: a new table


def test_pipeline_default_matches_golden_motion(tiny_pipe, inputs, golden):
    """The default mode on this device (eager on the CPU) still gives the recorded official motion."""
    identity, audio = inputs
    settings = fixture()["runs"]["happy_e3"]
    motion = _sample(tiny_pipe, identity, audio, "static",
                     guidance=Guidance(settings["a_cfg_scale"], settings["e_cfg_scale"], settings["r_cfg_scale"]))
    assert (motion - golden["happy_e3.motion"]).abs().max().item() <= 1e-3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (run on a GPU machine)")
@pytest.mark.parametrize("solver", ["euler", "rk4"])
def test_cuda_graph_replay_matches_eager_bit_for_bit(tiny_pipe, inputs, solver):
    identity, audio = inputs
    fmt = tiny_pipe.model.fmt
    fmt.cuda()
    try:
        cuda_audio = type(audio)(audio.features.cuda(), audio.fps)
        cuda_identity = type(identity)(identity.latent.cuda(), tuple(f.cuda() for f in identity.features),
                                       identity.motion.cuda(), identity.coefficients.cuda())
        eager = _sample(tiny_pipe, cuda_identity, cuda_audio, "eager", solver=solver)
        graph = _sample(tiny_pipe, cuda_identity, cuda_audio, "graph", solver=solver)
        again = _sample(tiny_pipe, cuda_identity, cuda_audio, "graph", solver=solver)  # replays only
        steps = devices.device_caches(fmt)["velocity_steps"].values()
        assert any(slot.graph is not None for step in steps for slot in step.slots.values())
        assert torch.equal(graph, eager) and torch.equal(again, eager)
    finally:
        fmt.cpu()
