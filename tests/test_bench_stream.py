"""bench/memory.py's streaming node path runs (smoke test: --quick, small model; nothing timed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))


@pytest.mark.integration  # the benchmark's smoke run, like the other memory-bench rows
def test_memory_quick_stream_rows(capsys):
    import memory

    rows = memory.main(["--quick", "--kinds", "stream", "--seconds", "1", "--decode-frames", "3"])
    assert [(r["frames"], r["decoded"]) for r in rows] == [(25, 3)]
    assert all(r["peak_bytes"] > 0 and r["side"] == 64 for r in rows)
    assert "GPU not measured (no CUDA)" in capsys.readouterr().out or rows[0]["gpu_peak_bytes"]
