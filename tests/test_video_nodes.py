"""FLOAT Render Video and FLOAT Animate to Video: long clips rendered straight into an MP4.

Run on the ComfyUI stand-ins and the tiny fixture weights (64 px frames). Checked: the MP4 read back
with PyAV (frame count, fps, audio length), the frames equal the IMAGE path's, paste-back on the
streaming path, progress per batch, Cancel and errors leave no file, and peak memory does not grow
with the length of the clip (measured in fresh subprocesses).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import pytest
import torch

import comfy_stubs
from test_nodes import FRAMES, ROOT, import_pack, sample_tiny, inputs, models_home, pack  # noqa: F401 (fixtures)


def _pipe():
    from comfyui_floatkit.nodes import models

    return models.load("float.pth", "wav2vec2-base-960h", "none")


@pytest.fixture(scope="module")
def made(models_home, inputs):
    """Identity, motion (8 frames, label 'neutral', nfe 2, seed 15) and the IMAGE path's frames."""
    comfy_stubs.install(models_home)
    pack = import_pack()
    pipe, identity, _, motion = sample_tiny(inputs)
    images = pack.NODE_CLASS_MAPPINGS["FloatKitDecode"].execute(pipe, identity, motion, 0)[0]
    return {"identity": identity, "motion": motion, "images": images}


@pytest.fixture
def written(monkeypatch) -> list:
    """Every batch of pixels the video writer receives, as uint8 (what H.264 then encodes)."""
    from comfyui_floatkit.float_models.app import video

    batches, write = [], video.VideoWriter.write

    def spy(self, frames):
        batches.append(torch.from_numpy(video.to_uint8_frames(frames)))
        return write(self, frames)

    monkeypatch.setattr(video.VideoWriter, "write", spy)
    return batches


def _read(path: str) -> dict:
    with av.open(path) as container:
        video = container.streams.video[0]
        rate = video.average_rate
        frames = sum(1 for _ in container.decode(video=0))
        container.seek(0)
        audio = container.streams.audio[0] if container.streams.audio else None
        samples = sum(f.samples for f in container.decode(audio)) if audio is not None else 0
        sample_rate = audio.sample_rate if audio is not None else None
        size = (video.width, video.height)
    return {"frames": frames, "fps": rate, "samples": samples, "sample_rate": sample_rate, "size": size}


def _uint8(images: torch.Tensor) -> torch.Tensor:
    """IMAGE -> uint8 as Create Video / Save Video convert it (scale by 255, truncate)."""
    return (images * 255).clamp(0, 255).to(torch.uint8)


def _same_pixels(got: torch.Tensor, want: torch.Tensor) -> None:
    """Equal up to the decoder's batch-size rounding: the frames were decoded in batches of another
    size than the reference, so a value on a truncation boundary may move by one step of 255."""
    assert got.shape == want.shape
    diff = (got.int() - want.int()).abs()
    assert diff.max() <= 1 and (diff > 0).float().mean() < 0.01, (diff.max(), (diff > 0).float().mean())


def _temp_files() -> list[Path]:
    import folder_paths

    folder = Path(folder_paths.get_temp_directory())
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_render_video_writes_the_frames_fps_and_speech(pack, inputs, made, written):
    out = pack.NODE_CLASS_MAPPINGS["FloatKitRenderVideo"].execute(_pipe(), made["identity"], made["motion"], crf=18,
                                                                 batch_size=3, audio=inputs["audio"])
    video = out.args[0]
    path = Path(video.get_stream_source())
    assert path.parent == Path(__import__("folder_paths").get_temp_directory()) and path.suffix == ".mp4"
    got = _read(str(path))
    assert got["frames"] == FRAMES and got["fps"] == 25 and got["size"] == (64, 64)
    # the speech is muxed and cut to the frames: 8 frames = 0.32 s = 5120 samples at 16 kHz (AAC pads
    # to whole 1024-sample frames)
    assert got["sample_rate"] == 16000 and abs(got["samples"] - FRAMES * 16000 // 25) < 1024
    assert out.ui.as_dict() == {"images": [{"filename": path.name, "subfolder": "", "type": "temp"}],
                                "animated": (True,)}
    # batch by batch, exactly the pixels the IMAGE path (Decode -> Create Video) gives
    assert [b.shape[0] for b in written] == [3, 3, 2]
    _same_pixels(torch.cat(written), _uint8(made["images"]))


def test_progress_per_batch_and_the_video_reads_back_through_the_video_api(pack, made, monkeypatch):
    import comfy.utils

    monkeypatch.setattr(comfy.utils, "PROGRESS_THROTTLE_MIN_INTERVAL", 0)
    monkeypatch.setattr(comfy.utils, "PROGRESS_THROTTLE_MIN_PERCENT", 0)
    comfy_stubs.progress_events.clear()
    video = pack.NODE_CLASS_MAPPINGS["FloatKitRenderVideo"].execute(_pipe(), made["identity"], made["motion"],
                                                                   crf=18, batch_size=3).args[0]
    assert [e["value"] for e in comfy_stubs.progress_events] == [3, 6, 8]
    components = video.get_components()  # what Get Video Components / Save Video read
    assert components.images.shape == (FRAMES, 64, 64, 3) and components.frame_rate == 25
    assert components.audio is None and video.get_dimensions() == (64, 64)


def test_a_video_the_disk_cannot_hold_is_refused_before_decoding(pack, made, monkeypatch):
    # Issue 25 #5 for the node: a full disk was found only by the writer, after decoding.
    import shutil

    from comfyui_floatkit.float_models import partfiles

    usage = shutil.disk_usage("/")
    monkeypatch.setattr(partfiles.shutil, "disk_usage", lambda path: usage._replace(free=1000))
    before = _temp_files()
    decoded = []
    monkeypatch.setattr(type(_pipe().pipeline), "decode_batches", lambda *a, **k: decoded.append(1) or iter(()))
    with pytest.raises(OSError, match=r"not enough free space for the video \(8 frames at crf 18\)"):
        pack.NODE_CLASS_MAPPINGS["FloatKitRenderVideo"].execute(_pipe(), made["identity"], made["motion"], crf=18,
                                                               batch_size=3)
    assert not decoded and _temp_files() == before


def test_cancel_mid_way_and_errors_leave_no_file(pack, inputs, made, monkeypatch):
    import comfy.model_management as mm
    import comfy.utils

    before = _temp_files()
    seen = []

    def press_cancel(value, total, preview, node_id=None):
        seen.append(value)
        if value >= 2:
            mm.interrupt_current_processing(True)
        comfy_stubs.server_progress_hook(value, total, preview, node_id=node_id)

    monkeypatch.setattr(comfy.utils, "PROGRESS_THROTTLE_MIN_INTERVAL", 0)
    monkeypatch.setattr(comfy.utils, "PROGRESS_THROTTLE_MIN_PERCENT", 0)
    comfy.utils.set_progress_bar_global_hook(press_cancel)
    with pytest.raises(mm.InterruptProcessingException):
        pack.NODE_CLASS_MAPPINGS["FloatKitRenderVideo"].execute(_pipe(), made["identity"], made["motion"], crf=18,
                                                                batch_size=1, audio=inputs["audio"])
    assert seen == [1, 2] and _temp_files() == before  # stopped after the second batch, no file, no .part
    comfy.utils.set_progress_bar_global_hook(comfy_stubs.server_progress_hook)

    pipe = _pipe()

    def broken(*args, **kwargs):
        yield 0, 0, torch.zeros(1, 3, 64, 64)
        raise RuntimeError("decoder failed")

    monkeypatch.setattr(type(pipe.pipeline), "decode_batches", broken)
    with pytest.raises(RuntimeError, match="^FLOAT Render Video: decoder failed"):
        pack.NODE_CLASS_MAPPINGS["FloatKitRenderVideo"].execute(pipe, made["identity"], made["motion"], crf=18,
                                                                batch_size=1)
    assert _temp_files() == before


@pytest.mark.parametrize("base", [BaseException, Exception], ids=["newest", "0.3.64"])
@pytest.mark.parametrize("node", ["FloatKitRenderVideo", "FloatKitAnimateToVideo"])
def test_cancel_while_a_writer_is_mid_file_leaves_no_file_with_either_interrupt(pack, inputs, made, monkeypatch,
                                                                                 node, base):
    """The newest ComfyUI raises Cancel as a BaseException, 0.3.64 as an Exception: the pack's `except`
    clauses must pass either through unchanged (ComfyUI tells Cancel by its type) and drop the part file."""
    import comfy.model_management as mm
    from comfyui_floatkit.float_models.app import video

    interrupt = type("InterruptProcessingException", (base,), {})
    monkeypatch.setattr(mm, "InterruptProcessingException", interrupt)
    write = video.VideoWriter.write

    def write_then_cancel(self, frames):
        write(self, frames)
        mm.interrupt_current_processing(True)  # the user presses Cancel once the file has frames

    monkeypatch.setattr(video.VideoWriter, "write", write_then_cancel)
    before = _temp_files()
    args = {"FloatKitRenderVideo": (_pipe(), made["identity"], made["motion"]),
            "FloatKitAnimateToVideo": (_pipe(), inputs["image"], inputs["audio"])}[node]
    kwargs = {"FloatKitRenderVideo": dict(crf=18, batch_size=1),
              "FloatKitAnimateToVideo": dict(emotion="neutral", face_crop=False, paste_back=False, crf=18,
                                             batch_size=1, a_cfg_scale=2.0, e_cfg_scale=1.0, r_cfg_scale=1.0,
                                             nfe=2, solver="euler", seed=15)}[node]
    with pytest.raises(interrupt) as caught:
        pack.NODE_CLASS_MAPPINGS[node].execute(*args, **kwargs)
    assert type(caught.value) is interrupt and not str(caught.value)  # not renamed into an error message
    assert _temp_files() == before
    mm.interrupt_current_processing(False)


def test_paste_back_on_the_streaming_path_matches_the_paste_back_node(pack, made, written):
    from comfyui_floatkit.float_models.app.face_crop import CropBox

    photo = torch.rand(1, 90, 120, 3, generator=torch.Generator().manual_seed(1))
    box = CropBox(left=30, top=10, size=70, source_width=120, source_height=90)  # reaches past the right edge
    video = pack.NODE_CLASS_MAPPINGS["FloatKitRenderVideo"].execute(
        _pipe(), made["identity"], made["motion"], crf=18, batch_size=2, feather=8, original=photo,
        crop_box=(box,)).args[0]
    got = _read(video.get_stream_source())
    assert got["frames"] == FRAMES and got["size"] == (120, 90)
    pasted = pack.NODE_CLASS_MAPPINGS["FloatKitPasteBack"].execute(made["images"], photo, (box,), 8)[0]
    _same_pixels(torch.cat(written), _uint8(pasted))
    with pytest.raises(ValueError, match="needs both the original photo and the crop_box"):
        pack.NODE_CLASS_MAPPINGS["FloatKitRenderVideo"].execute(_pipe(), made["identity"], made["motion"], crf=18,
                                                                batch_size=0, original=photo)


def test_animate_to_video_is_animate_written_to_a_file(pack, inputs, made, written):
    args = dict(emotion="neutral", face_crop=False, a_cfg_scale=2.0, e_cfg_scale=1.0, r_cfg_scale=1.0, nfe=2,
                solver="euler", seed=15)  # the settings `made` sampled with
    video = pack.NODE_CLASS_MAPPINGS["FloatKitAnimateToVideo"].execute(
        _pipe(), inputs["image"], inputs["audio"], paste_back=False, crf=18, batch_size=0, **args).args[0]
    got = _read(video.get_stream_source())
    assert got["frames"] == FRAMES and abs(got["samples"] - FRAMES * 16000 // 25) < 1024
    _same_pixels(torch.cat(written), _uint8(made["images"]))
    with pytest.raises(ValueError, match="^FLOAT Animate to Video: paste_back needs face_crop"):
        pack.NODE_CLASS_MAPPINGS["FloatKitAnimateToVideo"].execute(
            _pipe(), inputs["image"], inputs["audio"], paste_back=True, crf=18, batch_size=0, **args)


def test_long_speech_workflow_runs_and_save_video_gets_the_file(pack, inputs, tmp_path):
    from test_nodes import core_nodes, without_face_crop

    graph = json.loads((ROOT / "workflows" / "floatkit_long_speech.json").read_text())
    assert any(n["type"] == "Note" and len(n["widgets_values"][0]) > 100 for n in graph["nodes"])
    saved: list = []
    mappings = {**pack.NODE_CLASS_MAPPINGS, **core_nodes(inputs, saved)}
    prompt = comfy_stubs.ui_to_api(graph, mappings)
    assert {n["class_type"] for n in prompt.values()} >= {"FloatKitAnimateToVideo", "SaveVideo"}
    for node in prompt.values():  # the rule-made test picture has no face to find; 2 steps keep it cheap
        if node["class_type"] == "FloatKitAnimateToVideo":
            node["inputs"].update(face_crop=False, nfe=2, emotion="neutral")
    comfy_stubs.run_graph(without_face_crop(prompt), mappings)
    assert len(saved) == 1
    saved[0].save_to(str(tmp_path / "kept.mp4"))  # what core Save Video does with a VIDEO (a re-mux)
    got = _read(str(tmp_path / "kept.mp4"))
    assert got["frames"] == FRAMES and got["fps"] == 25 and abs(got["samples"] - FRAMES * 16000 // 25) < 1024


def test_long_clips_refused_as_images_name_the_streaming_nodes(pack, inputs, monkeypatch):
    from comfyui_floatkit.float_models import Motion
    from comfyui_floatkit.nodes import _errors

    motion = Motion(torch.zeros(1, 1, 1).expand(1, 1000, 512), 30.0, torch.zeros(1, 512))
    identity = pack.NODE_CLASS_MAPPINGS["FloatKitEncodeImage"].execute(_pipe(), inputs["image"].repeat(3, 1, 1, 1))[0]
    # 1000 frames of 64 px are 49 MB, but three portraits make three clips (147 MB), at the motion's fps
    monkeypatch.setattr(_errors, "available_memory", lambda: 100 * 10 ** 6)
    with pytest.raises(MemoryError, match=r"the 3000 frames \(1\.7 min at 30 fps\).*FLOAT Render Video"):
        pack.NODE_CLASS_MAPPINGS["FloatKitDecode"].execute(_pipe(), identity, motion, 0)
    photo = torch.zeros(1, 1, 1, 3).expand(1, 1080, 1920, 3)  # 1000 full-HD frames pasted: ~25 MB each
    box = __import__("comfyui_floatkit.float_models.app.face_crop", fromlist=["CropBox"]).CropBox(800, 300, 512,
                                                                                                   1920, 1080)
    frames = torch.zeros(1, 1, 1, 1).expand(1000, 64, 64, 3)
    monkeypatch.setattr(_errors, "available_memory", lambda: 10 * 10 ** 9)
    with pytest.raises(MemoryError, match=r"^FLOAT Paste Back: the 1000 frames of 1920x1080 would need about "
                                          r"25\.0 GB .*plus 0\.1 GB while making them.*connect original and "
                                          r"crop_box to FLOAT Render Video"):
        pack.NODE_CLASS_MAPPINGS["FloatKitPasteBack"].execute(frames, photo, (box,), 16)
    hour = torch.zeros(1, 1, 1).expand(1, 1, 3600 * 16000)  # 90000 frames of 64 px: 4.4 GB
    monkeypatch.setattr(_errors, "available_memory", lambda: 2 * 10 ** 9)
    with pytest.raises(MemoryError, match="FLOAT Animate to Video"):
        pack.NODE_CLASS_MAPPINGS["FloatKitAnimate"].execute(_pipe(), inputs["image"],
                                                            {"waveform": hour, "sample_rate": 16000}, "neutral",
                                                            False, 2.0, 1.0, 1.0, 2, "euler", 1)


# ------------------------------------------------------------------ flat memory

CHILD = r"""
import json, sys
sys.path[:0] = [sys.argv[1]]
import torch
torch.set_num_threads(1)
import comfy_stubs
from test_nodes import import_pack
home, seconds, image_path = sys.argv[2], float(sys.argv[3]), sys.argv[4] == "image"
comfy_stubs.install(home)
pack = import_pack()
from comfyui_floatkit.float_models import Motion
from comfyui_floatkit.nodes import encode, models
pipe = models.load("float.pth", "wav2vec2-base-960h", "none")
identity = encode.identity_of(pipe, torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(0)))
# The decoder's own memory is per batch whatever the length; a cheap stand-in with its output shape
# (n, 3, 64, 64) lets the test reach lengths where frames held in memory would show.
pipe.pipeline.model.motion_autoencoder.decode = lambda one, chunk: torch.nn.functional.interpolate(
    chunk[:, :192].reshape(-1, 3, 8, 8), size=64, mode="bilinear")
def status_kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
def reset_peak():  # Linux: the peak resident size (VmHWM) starts again from the current size
    open("/proc/self/clear_refs", "w").write("5")
def peak_kib():
    return status_kib("VmHWM")
def clip(seconds):
    frames = int(seconds * 25)
    latents = torch.randn(1, frames, 512, generator=torch.Generator().manual_seed(1))
    audio = {"waveform": 0.1 * torch.randn(1, 1, int(seconds * 16000)), "sample_rate": 16000}
    return Motion(latents, 25.0, identity.motion), audio
node = pack.NODE_CLASS_MAPPINGS["FloatKitRenderVideo"]
node.execute(pipe, identity, *clip(0.4)[:1], crf=18, batch_size=4, audio=clip(0.4)[1])  # warm up: imports, x264
motion, audio = clip(seconds)
reset_peak()
result = {"before_kib": status_kib("VmRSS")}
video = node.execute(pipe, identity, motion, crf=18, batch_size=4, audio=audio).args[0]
result["render_kib"] = peak_kib()
import av
with av.open(video.get_stream_source()) as container:
    result["frames"] = container.streams.video[0].frames
if image_path:  # the IMAGE path on the same clip, after: shows that the measurement sees held frames
    del video
    reset_peak()
    pack.NODE_CLASS_MAPPINGS["FloatKitDecode"].execute(pipe, identity, motion, 4)
    result["image_kib"] = peak_kib()
print(json.dumps(result))
"""


def _peaks(home: Path, seconds: float, image_path: bool = False) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "tests"), str(home), str(seconds),
                           "image" if image_path else "-"], capture_output=True, text=True, timeout=600, cwd="/")
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.integration  # two subprocesses that render 4 s and 60 s of speech: ~15 s
@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="resets the peak RSS the Linux way")
def test_peak_memory_does_not_grow_with_the_length(models_home):
    """Peak RSS (VmHWM, reset after loading and a warm-up render; a fresh process for each length) of Render Video on 4 s and 60 s of speech
    (100 and 1500 frames, speech muxed): within 10 %. The same 60 s through Decode Motion (IMAGE) in
    the same process raises the peak well past that, so the measurement does see frames held in RAM."""
    short, long = _peaks(models_home, 4.0), _peaks(models_home, 60.0, image_path=True)
    assert (short["frames"], long["frames"]) == (100, 1500)
    assert long["render_kib"] <= 1.10 * short["render_kib"], (short, long)
    assert long["image_kib"] > 1.10 * short["render_kib"], (short, long)
