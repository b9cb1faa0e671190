"""`python -m float_models check-device` runs on the CPU (CI) in its quick form and prints its
agreement table; a fast path that disagrees is named with its off switch, and the exit status is 1."""

from __future__ import annotations

import json

import pytest
import torch

from float_models.app import check_device, cli
from float_models.nets import stylegan2_layers


def test_quick_check_on_the_cpu_prints_the_table(tmp_path, capsys):
    out = tmp_path / "check.json"
    assert cli.main(["check-device", "--quick", "--device", "cpu", "--seconds", "0.5", "--decode-frames", "1",
                     "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("FloatKit device check on cpu: decoder fp32, sampler fp32")
    rows = [line for line in text.splitlines() if line.startswith(("sampling", "decoding"))]
    assert len(rows) == 2 and all(line.endswith("agrees") for line in rows)
    assert "All fast paths agree" in text
    result = json.loads(out.read_text())
    assert [r["what"] for r in result["rows"]] == ["sampling", "decoding"]
    assert all(r["agrees"] and r["frames_per_s"] > 0 and r["difference"] <= r["allowed"] for r in result["rows"])


@pytest.mark.integration  # about 45 s on 2 cores
def test_a_disagreeing_fast_path_is_named_with_its_off_switch(monkeypatch, capsys):
    original = stylegan2_layers.ModulatedConv2d.forward_activation_modulation

    def off_by_a_percent(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        return original(self, *args, **kwargs) * 1.01

    monkeypatch.setattr(stylegan2_layers.ModulatedConv2d, "forward_activation_modulation", off_by_a_percent)
    assert check_device.main("cpu", quick=True, seconds=0.5, decode_frames=1) == 1
    text = capsys.readouterr().out
    decoding = next(line for line in text.splitlines() if line.startswith("decoding"))
    assert "DISAGREES" in decoding
    assert "FLOATKIT_PHASE_UPSAMPLING=0" in text and "Please report it" in text


@pytest.mark.integration  # about 45 s on 2 cores
def test_reduced_precision_rows_compare_against_fp32(monkeypatch):
    """On a GPU the chosen precision gets its own rows; the CPU runs them in fp32 (the rule), so the
    rows are built here from a check whose sampler and decoder precision are forced to bfloat16."""
    monkeypatch.setattr(check_device, "choose_dtype", lambda *a, **k: torch.bfloat16)
    monkeypatch.setattr(check_device, "sampler_dtype", lambda *a, **k: torch.bfloat16)
    result = check_device.run_check("cpu", "bf16", quick=True, seconds=0.5, decode_frames=1)
    what = [(r.what, r.reference) for r in result["rows"]]
    assert what == [("sampling", "eager, bf16"), ("sampling", "eager, fp32"),
                    ("decoding", "weight modulation (official), fp32"), ("decoding", "fast formulation, fp32")]
