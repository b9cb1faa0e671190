"""The ComfyUI node pack, run on ComfyUI stand-ins (tests/comfy_stubs) and the tiny fixture weights.

The pack is imported the way ComfyUI imports it: as a package under a name of its own, from its
__init__.py, never through sys.path. Shipped workflows are converted from their UI format and run
node by node, with small test-only stand-ins for the core nodes they use.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import comfy_stubs
from tiny_weights import expected, write_tiny_files

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / "workflows"
EDIT_WORKFLOWS = {"floatkit_motion_intensity.json", "floatkit_motion_time.json", "floatkit_motion_blend.json",
                  "floatkit_emotion_schedule.json", "floatkit_motion_from_video.json", "floatkit_save_load_motion.json",
                  "floatkit_rest_on_silence.json", "floatkit_paste_back.json", "floatkit_calm_head.json",
                  "floatkit_face_fps_mask.json"}  # run by tests/test_nodes_edit.py
STREAMING_WORKFLOWS = {"floatkit_long_speech.json"}  # run by tests/test_video_nodes.py
UI_WORKFLOWS = sorted(p.name for p in WORKFLOWS.glob("*.json")
                      if not p.name.endswith("_api.json") and p.name not in EDIT_WORKFLOWS | STREAMING_WORKFLOWS)
SAMPLES = 4800  # 0.3 s of the golden speech at 16 kHz -> 8 video frames: keeps the decoder cheap
FRAMES = 8
REPOS = ("yuvraj108c/float", "facebook/wav2vec2-base-960h", "r-f/wav2vec-english-speech-emotion-recognition")


def import_pack():
    name = "comfyui_floatkit"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def models_home(tmp_path_factory) -> Path:
    """A ComfyUI base folder whose models/float has the default layout, filled with the tiny weights."""
    home = tmp_path_factory.mktemp("comfy-home")
    files = write_tiny_files(home / "models" / "float")
    files.checkpoint.rename(files.checkpoint.with_name("float.pth"))
    files.checkpoint.with_suffix(".json").rename(files.checkpoint.with_name("float.json"))
    return home


@pytest.fixture
def pack(models_home):
    comfy_stubs.install(models_home)
    return import_pack()


def node_inputs(samples: int) -> dict:
    """The golden portrait as an IMAGE and the first `samples` of its speech as a stereo AUDIO."""
    golden = expected()
    image = ((golden["in.image"] + 1) / 2).permute(0, 2, 3, 1).contiguous()  # IMAGE [1, 64, 64, 3]
    waveform = golden["in.waveform_16k"][:, None, :samples].repeat(1, 2, 1)  # stereo AUDIO [1, 2, N]
    return {"image": image, "audio": {"waveform": waveform, "sample_rate": 16000}}


@pytest.fixture(scope="module")
def inputs() -> dict:
    return node_inputs(SAMPLES)


def sample_tiny(inputs: dict, label: str = "neutral"):
    """(pipe, identity, audio features, motion) through the nodes' own steps on the tiny weights: the
    default layout without the emotion classifier, emotion `label`, nfe 2, seed 15. Call it after the
    stand-ins are installed (the `pack` fixture)."""
    from comfyui_floatkit.nodes import encode, models, sample

    pipe = models.load("float.pth", "wav2vec2-base-960h", "none")
    identity = encode.identity_of(pipe, inputs["image"])
    features = encode.audio_features_of(pipe, inputs["audio"])
    return pipe, identity, features, sample.motion_of(pipe, identity, features, encode.emotion_of_label(label), nfe=2)


# ------------------------------------------------------------------ stand-ins for core nodes

def core_nodes(inputs: dict, saved: list, require_audio: bool = True) -> dict:
    """LoadImage / LoadAudio give the golden inputs; CreateVideo / SaveVideo check what they receive.

    `require_audio=False` lets CreateVideo take a silent video (some editing workflows have no sound).
    """
    from comfy_api.latest import io

    class LoadImage(io.ComfyNode):
        @classmethod
        def define_schema(cls):
            pictures = ["portrait.png", "two_faces.png"]  # both give the golden portrait here
            return io.Schema(node_id="LoadImage", inputs=[io.Combo.Input("image", options=pictures,
                                                                         upload=io.UploadType.image)],
                             outputs=[io.Image.Output(), io.Mask.Output()])

        @classmethod
        def execute(cls, image):
            return io.NodeOutput(inputs["image"], torch.zeros(1, 64, 64))

    class LoadAudio(io.ComfyNode):
        @classmethod
        def define_schema(cls):
            return io.Schema(node_id="LoadAudio", inputs=[io.Combo.Input("audio", options=["speech.wav"],
                                                                         upload=io.UploadType.audio)],
                             outputs=[io.Audio.Output()])

        @classmethod
        def execute(cls, audio):
            return io.NodeOutput(inputs["audio"])

    class CreateVideo(io.ComfyNode):
        @classmethod
        def define_schema(cls):
            return io.Schema(node_id="CreateVideo", inputs=[io.Image.Input("images"),
                                                            io.Float.Input("fps", default=30.0, min=1.0, max=120.0),
                                                            io.Audio.Input("audio", optional=True)],
                             outputs=[io.Video.Output()])

        @classmethod
        def execute(cls, images, fps, audio=None):
            assert images.dtype == torch.float32 and images.dim() == 4 and images.shape[-1] == 3
            assert images.device.type == "cpu" and 0 <= images.min() and images.max() <= 1
            assert isinstance(fps, float)
            assert audio is not None or not require_audio
            if audio is None:
                return io.NodeOutput({"images": images, "fps": fps, "audio": audio})
            assert audio["waveform"].dim() == 3 and audio["waveform"].dtype == torch.float32
            assert audio["waveform"].device.type == "cpu" and isinstance(audio["sample_rate"], int)
            return io.NodeOutput({"images": images, "fps": fps, "audio": audio})

    class SaveVideo(io.ComfyNode):
        @classmethod
        def define_schema(cls):
            return io.Schema(node_id="SaveVideo", is_output_node=True, outputs=[],
                             inputs=[io.Video.Input("video"), io.String.Input("filename_prefix", default="video/x"),
                                     io.Combo.Input("format", options=["auto", "mp4"]),
                                     io.Combo.Input("codec", options=["auto", "h264"])])

        @classmethod
        def execute(cls, video, filename_prefix, format, codec=None):
            # The newest Save Video takes `format` as a nested choice ({"format": "mp4", "codec": {...}}) and
            # keeps `codec` as a hidden, optional input for saved workflows; 0.3.64 takes two plain strings.
            nested = format if isinstance(format, dict) else {"format": format}
            chosen = nested.get("codec") or codec or "auto"
            chosen = chosen["codec"] if isinstance(chosen, dict) else chosen
            assert nested["format"] in ("auto", "mp4") and chosen in ("auto", "h264")
            saved.append(video)
            return io.NodeOutput()

    return {c.__name__: c for c in (LoadImage, LoadAudio, CreateVideo, SaveVideo)}


def without_face_crop(prompt: dict) -> dict:
    """The golden picture is rule-made noise, not a photo: the face detector would find nothing in it."""
    for node in prompt.values():
        if node["class_type"] == "FloatKitAnimate":
            node["inputs"]["face_crop"] = False
        if node["class_type"] == "FloatKitCropPortrait":
            node["inputs"]["mode"] = "no crop"
    return prompt


_RUNS: dict[str, dict] = {}


def run_workflow(pack, inputs: dict, name: str) -> dict:
    """Run a shipped UI workflow once per session; returns what reached Save Video."""
    if name not in _RUNS:
        before = {"image": inputs["image"].clone(), "waveform": inputs["audio"]["waveform"].clone()}
        saved: list = []
        mappings = {**pack.NODE_CLASS_MAPPINGS, **core_nodes(inputs, saved)}
        prompt = without_face_crop(comfy_stubs.ui_to_api(json.loads((WORKFLOWS / name).read_text()), mappings))
        comfy_stubs.run_graph(prompt, mappings)
        assert torch.equal(inputs["image"], before["image"]), "a node changed its IMAGE input in place"
        assert torch.equal(inputs["audio"]["waveform"], before["waveform"]), "a node changed its AUDIO input"
        assert len(saved) == 1
        _RUNS[name] = saved[0]
    return _RUNS[name]


# ------------------------------------------------------------------ registration and schemas

def test_mapping_keys_are_node_ids_and_every_node_is_documented(pack):
    assert pack.WEB_DIRECTORY == "./web"
    assert set(pack.NODE_DISPLAY_NAME_MAPPINGS) == set(pack.NODE_CLASS_MAPPINGS)
    for key, cls in pack.NODE_CLASS_MAPPINGS.items():
        schema = cls.define_schema()
        assert schema.node_id == key and key.startswith("FloatKit")
        assert schema.display_name == pack.NODE_DISPLAY_NAME_MAPPINGS[key], key  # the literal map Manager reads
        assert schema.category.startswith("FLOAT") and len(schema.description) > 40, key
        assert all(i.tooltip for i in schema.inputs), f"{key}: input without tooltip"
        assert all(o.tooltip for o in schema.outputs), f"{key}: output without tooltip"


def test_main_nodes_have_help_pages(pack):
    for key in ("FloatKitLoadModels", "FloatKitAnimate", "FloatKitSampleMotion", "FloatKitDecode"):
        assert (ROOT / "web" / "docs" / f"{key}.md").is_file(), key


def test_importing_the_pack_loads_the_library_but_no_heavy_dependency():
    """In a fresh interpreter: the node files import float_models at the top (the real dependency), but
    ComfyUI's start-up pays for none of the heavy optional parts: transformers (built when a tower is
    loaded), OpenCV (when a face is cropped), torchdiffeq and the scipy it pulls in (when sampling)."""
    code = ("import sys, tempfile, importlib.util; sys.path[:0] = [sys.argv[1]]; import comfy_stubs; "
            "comfy_stubs.install(tempfile.mkdtemp()); "
            "s = importlib.util.spec_from_file_location('any_name_x_pack', sys.argv[2] + '/__init__.py', "
            "submodule_search_locations=[sys.argv[2]]); m = importlib.util.module_from_spec(s); "
            "sys.modules[s.name] = m; s.loader.exec_module(m); "
            "print('any_name_x_pack.float_models.pipeline' in sys.modules, "
            "sorted(k for k in ('torchdiffeq', 'scipy', 'transformers', 'cv2') if k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "tests"), str(ROOT)], capture_output=True,
                         text=True, check=True, cwd="/")
    assert out.stdout.strip() == "True []"


def test_input_types_work_with_an_empty_models_folder(tmp_path):
    comfy_stubs.install(tmp_path)
    pack = import_pack()
    for cls in pack.NODE_CLASS_MAPPINGS.values():
        cls.INPUT_TYPES()
    types = pack.NODE_CLASS_MAPPINGS["FloatKitLoadModels"].INPUT_TYPES()
    required = types["required"]
    # The checkpoint combo lists only files that are there (an absent float.pth, still the default, is what
    # frontend 1.58 flags as a missing model with its download); the tower folders the download fetches are
    # offered even when absent, as ComfyUI checks those values against the list.
    assert required["checkpoint"][1]["options"] == []
    assert required["checkpoint"][1]["default"] == "float.pth"
    assert required["audio_encoder"][1]["options"] == ["wav2vec2-base-960h", "(inside checkpoint)"]
    assert required["audio_encoder"][1]["default"] == "wav2vec2-base-960h"
    assert required["emotion_encoder"][1]["options"] == ["wav2vec-english-speech-emotion-recognition",
                                                         "(inside checkpoint)", "none"]
    assert types["optional"]["download"][1]["options"] == ["never", "if missing"]
    assert types["optional"]["download"][1]["default"] == "never"


def _touch(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_combos_list_the_default_and_peer_layouts(tmp_path):
    comfy_stubs.install(tmp_path)
    import folder_paths

    extra = tmp_path / "elsewhere"  # as extra_model_paths.yaml adds it: a new name, no extensions yet
    folder_paths.add_model_folder_path("float", str(extra))
    models = tmp_path / "models"
    for name in ("models/float/float.pth", "models/float/FLOAT.safetensors", "models/float/old/float_v0.pth",
                 "models/float/README.md", "models/float/wav2vec2-base-960h/model.safetensors",
                 "elsewhere/mine.safetensors"):
        _touch(tmp_path / name)
    _touch(models / "float/wav2vec2-base-960h/config.json", "{}")
    _touch(models / "audio/wav2vec-english-speech-emotion-recognition/config.json", "{}")
    _touch(models / "audio/not-a-model/readme.txt")
    pack = import_pack()
    required = pack.NODE_CLASS_MAPPINGS["FloatKitLoadModels"].INPUT_TYPES()["required"]
    assert required["checkpoint"][1]["options"] == ["FLOAT.safetensors", "float.pth", "mine.safetensors",
                                                    "old/float_v0.pth"]
    assert required["checkpoint"][1]["default"] == "float.pth"
    assert required["audio_encoder"][1]["options"] == [
        "wav2vec2-base-960h", "wav2vec-english-speech-emotion-recognition", "(inside checkpoint)"]
    assert required["audio_encoder"][1]["default"] == "wav2vec2-base-960h"
    assert required["emotion_encoder"][1]["default"] == "wav2vec-english-speech-emotion-recognition"
    assert str(models / "float") in folder_paths.get_folder_paths("float")


def test_a_missing_checkpoint_says_where_to_put_it_and_where_to_get_it(tmp_path):
    comfy_stubs.install(tmp_path)
    pack = import_pack()
    message = pack.NODE_CLASS_MAPPINGS["FloatKitLoadModels"].validate_inputs(checkpoint="float.pth")
    assert isinstance(message, str) and str(tmp_path / "models" / "float") in message
    assert all(repo in message for repo in REPOS) and "set download to 'if missing'" in message
    assert pack.NODE_CLASS_MAPPINGS["FloatKitLoadModels"].validate_inputs(checkpoint="float.pth",
                                                                          download="if missing") is True
    assert "not found" in pack.NODE_CLASS_MAPPINGS["FloatKitLoadModels"].validate_inputs(
        checkpoint="FLOAT.safetensors", download="if missing")  # not a file the download fetches
    _touch(tmp_path / "secret.pth")
    assert "not found" in pack.NODE_CLASS_MAPPINGS["FloatKitLoadModels"].validate_inputs(checkpoint="../../secret.pth")
    from comfyui_floatkit.nodes import _comfy, models

    with pytest.raises(_comfy.MissingModelError, match="wav2vec2-base-960h"):
        _touch(tmp_path / "models/float/float.pth")
        models.load("float.pth", "wav2vec2-base-960h", "none")


# ------------------------------------------------------------------ loading

def test_loader_caches_and_wraps_every_network_in_a_model_patcher(pack):
    from comfyui_floatkit.nodes import models

    loader = pack.NODE_CLASS_MAPPINGS["FloatKitLoadModels"]
    args = ("float.pth", "wav2vec2-base-960h", "wav2vec-english-speech-emotion-recognition", "auto", "auto")
    first, second = loader.execute(*args)[0], models.load(*args)
    assert first is second
    assert set(first.patchers) == {"float", "audio", "emotion"}
    assert next(first.pipeline.model.parameters()).dtype == torch.float32  # auto on the CPU
    import comfy.model_management as mm

    first.ready("float")
    assert mm._load_calls[-1]["force_full_load"] and mm._load_calls[-1]["models"] == [first.patchers["float"]]
    without = models.load("float.pth", "wav2vec2-base-960h", "none", "cpu", "bf16")
    assert without.pipeline.emotion_encoder is None and "emotion" not in without.patchers
    assert next(without.pipeline.model.parameters()).dtype == torch.float32  # never bf16 on the CPU


def test_loaded_models_live_only_while_comfyui_holds_them(pack):
    """The pack keeps no model of its own: once ComfyUI drops the loader's output (its cache, "free
    memory"), the networks are freed; while one holder remains, the same files are not loaded twice."""
    import gc
    import weakref

    from comfyui_floatkit.nodes import models

    args = ("float.pth", "wav2vec2-base-960h", "none")
    held = models.load(*args)
    assert models.load(*args) is held
    gone = weakref.ref(held.pipeline.model)
    del held
    gc.collect()
    assert gone() is None, "a loaded model outlived every holder: ComfyUI could not free it"


# ------------------------------------------------------------------ the shipped workflows

# One shipped workflow end to end in the default suite; the others (same nodes, other wiring) under integration.
@pytest.mark.parametrize("name", [n if n == "floatkit_basic.json" else pytest.param(n, marks=pytest.mark.integration)
                                  for n in UI_WORKFLOWS])
def test_shipped_workflow_runs_and_feeds_create_video(pack, inputs, name):
    video = run_workflow(pack, inputs, name)
    assert video["images"].shape == (FRAMES, 64, 64, 3)
    assert video["fps"] == 25.0
    audio = video["audio"]["waveform"]
    assert audio.shape[:2] == (1, 2) and video["audio"]["sample_rate"] == 16000
    assert abs(audio.shape[-1] - SAMPLES) <= 16000 / 25  # the speech, cut to whole frames at most


def test_workflow_files_are_ui_graphs_with_a_note():
    assert set(UI_WORKFLOWS) == {"floatkit_basic.json", "floatkit_emotion_redirect.json", "floatkit_pipeline.json"}
    for name in UI_WORKFLOWS:
        graph = json.loads((WORKFLOWS / name).read_text())
        assert {"nodes", "links", "version"} <= set(graph)
        assert any(n["type"] == "Note" and len(n["widgets_values"][0]) > 100 for n in graph["nodes"]), name


def test_api_copy_matches_the_basic_ui_workflow(pack):
    mappings = {**pack.NODE_CLASS_MAPPINGS, **core_nodes({}, [])}
    converted = comfy_stubs.ui_to_api(json.loads((WORKFLOWS / "floatkit_basic.json").read_text()), mappings)
    shipped = json.loads((WORKFLOWS / "api" / "floatkit_basic_api.json").read_text())
    assert {k: (v["class_type"], v["inputs"]) for k, v in converted.items()} == \
           {k: (v["class_type"], v["inputs"]) for k, v in shipped.items()}


def test_animate_gives_the_same_frames_as_the_separate_nodes(pack, inputs):
    together = run_workflow(pack, inputs, "floatkit_basic.json")
    apart = run_workflow(pack, inputs, "floatkit_pipeline.json")
    assert torch.equal(together["images"], apart["images"])
    redirected = run_workflow(pack, inputs, "floatkit_emotion_redirect.json")
    assert not torch.equal(together["images"], redirected["images"])  # the chosen emotion changes the motion


def test_trimmed_audio_matches_the_frames_for_a_batch_of_clips(pack, inputs):
    from comfyui_floatkit.nodes import animate, models

    pipe = models.load("float.pth", "wav2vec2-base-960h", "none")
    audio = {"waveform": inputs["audio"]["waveform"][..., :2400].repeat(2, 1, 1), "sample_rate": 16000}
    frames, trimmed, fps = animate.animate(pipe, inputs["image"], audio, emotion="sad", face_crop=False, nfe=2)
    assert frames.shape == (2 * 4, 64, 64, 3) and fps == 25.0  # 0.15 s -> 4 frames per clip
    assert trimmed["waveform"].shape == (1, 2, 2 * 4 * 16000 // 25)  # each clip's speech padded to its frames


# ------------------------------------------------------------------ progress and cancel

def test_cancel_during_sampling_stops_within_one_step(pack, inputs):
    import comfy.model_management as mm
    import comfy.utils
    from comfyui_floatkit.nodes import encode, models, sample

    pipe = models.load("float.pth", "wav2vec2-base-960h", "none")
    identity = encode.identity_of(pipe, inputs["image"])
    features = encode.audio_features_of(pipe, inputs["audio"])
    steps = []

    def press_cancel(value, total, preview, node_id=None):
        steps.append(value)
        mm.interrupt_current_processing(True)

    comfy.utils.set_progress_bar_global_hook(press_cancel)
    with pytest.raises(mm.InterruptProcessingException):
        pack.NODE_CLASS_MAPPINGS["FloatKitSampleMotion"].execute(
            pipe, identity, features, encode.emotion_of_label("happy"), 2.0, 1.0, 1.0, 50, "euler", 1)
    assert steps == [1]  # 49 steps asked for; the first step's progress update was the last


def test_decode_reports_progress_per_batch(pack, inputs, monkeypatch):
    import comfy.utils
    from comfyui_floatkit.nodes import encode, models, sample

    monkeypatch.setattr(comfy.utils, "PROGRESS_THROTTLE_MIN_INTERVAL", 0)
    monkeypatch.setattr(comfy.utils, "PROGRESS_THROTTLE_MIN_PERCENT", 0)
    pipe = models.load("float.pth", "wav2vec2-base-960h", "none")
    identity = encode.identity_of(pipe, inputs["image"])
    motion = sample.motion_of(pipe, identity, encode.audio_features_of(pipe, inputs["audio"]),
                              encode.emotion_of_label("neutral"), nfe=2)
    comfy_stubs.progress_events.clear()
    images, fps = pack.NODE_CLASS_MAPPINGS["FloatKitDecode"].execute(pipe, identity, motion, 3)
    assert [e["value"] for e in comfy_stubs.progress_events] == [3, 6, 8] and images.shape[0] == FRAMES


def test_crop_without_a_face_suggests_no_crop_and_no_crop_passes_through(pack, inputs):
    crop = pack.NODE_CLASS_MAPPINGS["FloatKitCropPortrait"]
    noise = torch.rand(1, 240, 200, 3, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="choose 'no crop'"):
        crop.execute(noise, "face crop", 1.6, 512)
    portrait, boxes, mask = crop.execute(inputs["image"], "no crop", 1.6, 512)
    assert portrait is inputs["image"] and boxes == (None,)
    assert mask.shape == inputs["image"].shape[:3] and bool((mask == 1).all())  # the whole picture is the portrait
