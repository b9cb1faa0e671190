"""Issue 23 on the CPU: the device and precision rules a GPU host relies on, with CUDA's answers
monkeypatched (no GPU is needed or touched)."""

from __future__ import annotations

import logging

import pytest
import torch

from float_models import devices


def _fake_cuda(monkeypatch, current: int = 1, capability: tuple[int, int] = (8, 0)) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: current)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)


# Row 6: ComfyUI finds models to unload by device equality, and cuda != cuda:0.
def test_cuda_without_index_becomes_the_current_device(monkeypatch):
    _fake_cuda(monkeypatch, current=1)
    assert devices.choose_device("cuda") == torch.device("cuda:1")
    assert devices.choose_device("auto") == torch.device("cuda:1")
    assert devices.choose_device("auto", auto=torch.device("cuda")) == torch.device("cuda:1")
    assert devices.choose_device("auto", auto=torch.device("cuda:0")) == torch.device("cuda:0")
    assert devices.choose_device("cpu") == torch.device("cpu")


# Row 7: Pascal under Windows, where ComfyUI says yes to fp16.
def test_host_yes_to_fp16_is_not_taken_before_volta(monkeypatch):
    _fake_cuda(monkeypatch, capability=(6, 1))
    assert devices.choose_dtype("auto", "cuda:0", fp16_ok=True, bf16_ok=False) == torch.float32
    _fake_cuda(monkeypatch, capability=(7, 5))
    assert devices.choose_dtype("auto", "cuda:0", fp16_ok=True, bf16_ok=False) == torch.float16
    assert devices.choose_dtype("auto", "cuda:0", fp16_ok=False, bf16_ok=False) == torch.float32


def test_bf16_check_works_on_torch_without_including_emulation(monkeypatch):
    _fake_cuda(monkeypatch, capability=(6, 1))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)  # torch < 2.3 signature
    assert devices.choose_dtype("auto", "cuda:0") == torch.bfloat16


def test_sampler_runs_float32_by_default_and_under_fp16_accumulation(monkeypatch, caplog):
    cuda = torch.device("cuda:0")
    assert devices.sampler_dtype(None, cuda) == torch.float32
    assert devices.sampler_dtype(None, "cpu") == torch.float32
    assert devices.sampler_dtype(torch.float16, cuda) == torch.float16  # chosen explicitly: kept
    assert devices.sampler_dtype(torch.bfloat16, "cpu") == torch.float32
    monkeypatch.setattr(devices, "fp16_accumulation", lambda: True)
    with caplog.at_level(logging.WARNING, logger="float_models"):
        assert devices.sampler_dtype(torch.float16, cuda) == torch.float32
        assert devices.sampler_dtype(torch.bfloat16, cuda) == torch.bfloat16  # bf16 products are not affected
    assert any("ComfyUI --fast" in r.getMessage() for r in caplog.records)


def test_fp16_accumulation_reads_the_process_flag():
    matmul = torch.backends.cuda.matmul
    if not hasattr(matmul, "allow_fp16_accumulation"):
        pytest.skip("this torch has no fp16 accumulation flag")
    before = matmul.allow_fp16_accumulation
    try:
        matmul.allow_fp16_accumulation = True
        assert devices.fp16_accumulation()
        matmul.allow_fp16_accumulation = False
        assert not devices.fp16_accumulation()
    finally:
        matmul.allow_fp16_accumulation = before
