from __future__ import annotations

import pytest
import torch

from tiny_weights import TinyFiles, expected, write_tiny_files

torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


@pytest.fixture(scope="session")
def tiny_files(tmp_path_factory) -> TinyFiles:
    return write_tiny_files(tmp_path_factory.mktemp("float-tiny"))


@pytest.fixture(scope="session")
def tiny_pipe(tiny_files):
    from float_models import load_pipeline

    return load_pipeline(tiny_files.checkpoint, tiny_files.audio_encoder, tiny_files.emotion_encoder, device="cpu")


@pytest.fixture(scope="session")
def golden() -> dict[str, torch.Tensor]:
    return expected()
