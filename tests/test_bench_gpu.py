"""bench/gpu.py --quick runs on the CPU and writes its JSON report (smoke test: no timing is asserted)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

BENCH = str(Path(__file__).resolve().parents[1] / "bench")


def test_gpu_bench_quick_on_cpu(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(BENCH)
    import gpu

    out = tmp_path / "gpu.json"
    threads = torch.get_num_threads()
    try:
        result = gpu.main(["--quick", "--device", "cpu", "--seconds", "0.5", "--decode-frames", "1",
                           "--batches", "1", "--out", str(out)])
    finally:
        torch.set_num_threads(threads)
    written = json.loads(out.read_text())
    assert written["device"] == "cpu" and set(written["pack"]) == {"fp32"}
    pack, official = written["pack"]["fp32"], written["official_fp32"]
    for row in (pack, official):
        assert row["decode_fps_host"] > 0 and row["end_to_end_fps"] > 0 and row["sampling_s"] > 0
        assert set(row["stages"]) >= {"image_s", "audio_s", "emotion_s", "sampling_s", "decode_host_s"}
    assert pack["motion_graph_equals_eager"] and pack["step_mode"] == "eager"
    assert pack["frames_vs_official"]["max"] <= 5e-2
    assert pack["decoder_gflop_per_frame"]["official_algorithm"] > 0 and pack["peak"]["matmul_tflops_measured"] > 0
    assert [row["batch"] for row in written["sweep"]] == [1]
    assert written["targets"]["precision"] == "fp32" and written["targets"]["end_to_end_vs_official"] > 0
    assert result["quick"] is True


def test_allocator_switch_sets_the_backend_before_cuda_starts(monkeypatch):
    monkeypatch.syspath_prepend(BENCH)
    import gpu

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        pytest.skip("CUDA already started in this process")
    monkeypatch.setenv("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True,backend:native")
    gpu.use_allocator("cudaMallocAsync")
    assert os.environ["PYTORCH_CUDA_ALLOC_CONF"] == "expandable_segments:True,backend:cudaMallocAsync"
