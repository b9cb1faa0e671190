"""The benchmarks' --quick code paths run (smoke test: no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

BENCH = str(Path(__file__).resolve().parents[1] / "bench")


@pytest.fixture(autouse=True)
def bench_on_path_and_threads_restored(monkeypatch):
    """The benchmarks set the thread count; give the rest of the suite back its own."""
    monkeypatch.syspath_prepend(BENCH)
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_speed_quick_runs_both_paths(capsys):
    import speed

    result = speed.main(["--quick", "--seconds", "0.5", "--decode-frames", "1", "--threads", "1"])
    assert result["flops_per_frame"] > 0
    assert result["reference"]["frames"].shape == result["default"]["frames"].shape
    assert result["frame_max_diff"] <= 5e-2 and result["frame_mean_diff"] <= 5e-3
    assert "decode frames/s" in capsys.readouterr().out


@pytest.mark.integration  # a child process per row, 512 px decoder: the slowest smoke test
@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="peak-RSS reset needs Linux /proc")
def test_memory_quick_decode_rows():
    import memory

    rows = memory.main(["--quick", "--kinds", "decode"])
    assert [r["batch"] for r in rows] == [1, 2] and all(r["batch_peak"] > 0 for r in rows)
    assert memory.attention_bytes("emotion", 600) == 16 * 30000 ** 2 * 4
