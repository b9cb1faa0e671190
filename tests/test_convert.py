"""Property tests of the ComfyUI <-> FLOAT layout conversions (nodes/convert.py imports no ComfyUI,
only the library)."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import comfy_stubs
from test_nodes import import_pack

# nodes/convert.py imports the library's conversions (one implementation each), so it is loaded as
# part of the pack, on the stand-ins.
comfy_stubs.install(tempfile.mkdtemp(prefix="floatkit-convert-"))
import_pack()
from comfyui_floatkit.nodes import convert  # noqa: E402

sizes = st.integers(1, 5)


class LazyAudio(Mapping):
    """Like VideoHelperSuite's lazy AUDIO: decodes only when a key is read."""

    def __init__(self, waveform, rate):
        self._data = {"waveform": waveform, "sample_rate": rate}

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return 2


@settings(max_examples=30, deadline=None)
@given(b=sizes, h=sizes, w=sizes, c=st.sampled_from([1, 3, 4]), seed=st.integers(0, 2 ** 16))
def test_image_to_portraits(b, h, w, c, seed):
    image = torch.rand(b, h, w, c, generator=torch.Generator().manual_seed(seed))
    before = image.clone()
    out = convert.image_to_portraits(image)
    assert out.shape == (b, 3, h, w) and out.dtype == torch.float32
    assert out.min() >= -1 and out.max() <= 1
    assert torch.allclose((out[:, 0] + 1) / 2, image[..., 0], atol=1e-6)  # channel 0 stays channel 0
    assert torch.equal(image, before)


@settings(max_examples=30, deadline=None)
@given(b=sizes, t=sizes, s=sizes, scale=st.floats(0.1, 5))
def test_frames_to_image(b, t, s, scale):
    frames = torch.randn(b, t, 3, s, s) * scale
    before = frames.clone()
    image = convert.frames_to_image(frames)
    assert image.shape == (b * t, s, s, 3) and image.dtype == torch.float32 and image.device.type == "cpu"
    assert image.min() >= 0 and image.max() <= 1
    assert torch.allclose(image[t - 1, 0, 0], (frames[0, t - 1, :, 0, 0].clamp(-1, 1) + 1) / 2)
    assert torch.equal(frames, before)


@settings(max_examples=30, deadline=None)
@given(b=sizes, c=st.integers(1, 3), n=st.integers(1, 500), rate=st.sampled_from([8000, 16000, 44100]),
       lazy=st.booleans())
def test_audio_to_mono_averages_channels(b, c, n, rate, lazy):
    waveform = torch.randn(b, c, n, dtype=torch.float64)
    audio = LazyAudio(waveform, rate) if lazy else {"waveform": waveform, "sample_rate": rate}
    mono, got_rate = convert.audio_to_mono(audio)
    assert mono.shape == (b, n) and mono.dtype == torch.float32 and got_rate == rate
    assert torch.allclose(mono, waveform.mean(1).float(), atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(b=sizes, c=st.integers(1, 2), n=st.integers(1, 3000), frames=st.integers(1, 20), clips=st.integers(1, 3))
def test_audio_for_frames_spans_exactly_the_frames(b, c, n, frames, clips):
    waveform = torch.randn(b, c, n)
    before = waveform.clone()
    out = convert.audio_for_frames({"waveform": waveform, "sample_rate": 16000}, frames, 25.0, clips)
    length = frames * 16000 // 25
    assert out["waveform"].shape == (1, c, clips * length) and out["sample_rate"] == 16000
    kept = min(n, length)
    assert torch.equal(out["waveform"][0, :, :kept], waveform[0, :, :kept])
    assert torch.equal(waveform, before)


def test_bad_audio_says_what_is_wrong():
    import pytest

    with pytest.raises(ValueError, match="no 'waveform'"):
        convert.audio_to_mono({"sample_rate": 16000})
    with pytest.raises(TypeError, match="AUDIO"):
        convert.audio_to_mono(torch.zeros(3))
    with pytest.raises(ValueError, match="channels"):
        convert.image_to_portraits(torch.zeros(1, 4, 4, 2))
