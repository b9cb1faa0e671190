"""Issue 23 on a GPU: what the CPU cannot show. Every test here is skipped without CUDA.

Run on a GPU machine: `pytest tests/test_cuda_only.py -q` (a few minutes on one GPU; the
multi-GPU test needs two). Each allocator backend needs its own process (PyTorch reads it when
CUDA starts), so those tests run the device check in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from float_models import sampling
from float_models.devices import device_caches
from float_models.transfer import overlapped_to_host

ROOT = Path(__file__).resolve().parents[1]
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (run on a GPU machine)")
two_gpus = pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA GPUs")


@cuda
@pytest.mark.parametrize("allocator", ["native", "cudaMallocAsync"])
def test_device_check_agrees_with_each_allocator(tmp_path, allocator):
    """Row 8: graphs under ComfyUI's default allocator on NVIDIA (cudaMallocAsync) and the native one."""
    out = tmp_path / "check.json"
    env = dict(os.environ, PYTORCH_CUDA_ALLOC_CONF=f"backend:{allocator}", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "float_models", "check-device", "--device", "cuda",
                           "--quick", "--json", str(out)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert result["allocator"] == allocator and all(row["agrees"] for row in result["rows"])


@two_gpus
def test_graphs_capture_on_the_models_gpu_not_the_current_one(tiny_pipe):
    """Row 1: the FMT on cuda:1 while cuda:0 is current; the graph must replay real steps."""
    import copy

    fmt = copy.deepcopy(tiny_pipe.model.fmt).to("cuda:1")
    config = tiny_pipe.config
    generator = torch.Generator().manual_seed(0)
    audio = torch.randn(1, 120, config.dim_a, generator=generator).to("cuda:1")
    reference = torch.randn(1, config.dim_w, generator=generator).to("cuda:1")
    emotion = torch.full((1, 7), 1 / 7)
    torch.cuda.set_device(0)

    def run(mode: str) -> torch.Tensor:
        with torch.inference_mode():
            return sampling.sample_motion(fmt, audio, reference, emotion, num_frames=config.num_frames,
                                          num_prev_frames=config.num_prev_frames, nfe=5, step_mode=mode)

    eager = run("eager")
    assert torch.equal(run("graph"), eager) and torch.equal(run("graph"), eager)
    assert sampling.graphs_on()
    steps = device_caches(fmt)["velocity_steps"].values()
    assert any(slot.graph is not None for step in steps for slot in step.slots.values())


@cuda
def test_offloading_the_fmt_returns_its_runner_memory(tiny_pipe):
    """Row 3 on the device: after .to("cpu") (ComfyUI's offload) no runner memory stays allocated."""
    import copy

    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    fmt = copy.deepcopy(tiny_pipe.model.fmt).cuda()
    config = tiny_pipe.config
    audio = torch.randn(1, 60, config.dim_a, device="cuda")
    reference = torch.randn(1, config.dim_w, device="cuda")
    with torch.inference_mode():
        sampling.sample_motion(fmt, audio, reference, torch.full((1, 7), 1 / 7), num_frames=config.num_frames,
                               num_prev_frames=config.num_prev_frames, nfe=4, step_mode="graph")
    del audio, reference
    fmt.to("cpu")
    torch.cuda.synchronize()
    assert "velocity_steps" not in device_caches(fmt)
    assert torch.cuda.memory_allocated() <= before


@cuda
def test_a_yielded_host_batch_stays_valid_until_the_next_is_requested():
    """Row 9: transfer.py's promise, on real overlapped copies."""
    batches = [(i, torch.full((4, 3, 8, 8), float(i), device="cuda")) for i in range(4)]
    stream = overlapped_to_host(iter(batches))
    seen = []
    for index, host in stream:
        assert bool((host == index).all())  # valid now ...
        seen.append(host)
    assert [int(h[0, 0, 0, 0]) for h in seen[-1:]] == [3]  # ... the last one also after the loop
