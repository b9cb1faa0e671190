"""Hostile and careless inputs on the node code path (issue 17), on the ComfyUI stand-ins and the tiny
weights. A prompt author controls every widget value and file name, and JSON prompts may carry NaN
and Infinity, which ComfyUI's min/max comparisons let through. The command-line cases are in
tests/test_cli_inputs.py. Covered here:

| # | hostile input                                                   | expected                                   |
|---|-----------------------------------------------------------------|--------------------------------------------|
| 2 | Load Motion `../../x.safetensors`, an absolute path, `/etc/passwd`, a link out of input/ | the same "not found" as a missing file |
| 3 | IMAGE above the pixel limit, AUDIO above samples x channels     | one line naming the limit, before copies   |
| 4 | Sample Motion nfe 1000, seed 2**64 (library calls too)          | refused before any sampling                |
| 5 | NaN / inf in FLOAT inputs (guidance, intensity, edit gains)     | refused, naming the input                  |
| 5 | motion file with NaN / inf / 1e30 latents, width 256, int64, 0 frames, fps nan / 0 / -25 / inf | refused, naming the file |
| 9 | two `-> .` links in output/motion                               | list made at once, no duplicates           |
|10 | Save Motion with an empty or dot-led prefix                     | a visible file that Load Motion lists      |
|10 | saved motion file mode                                          | 0644 under umask 022, like other outputs   |
|25.7 | Save Motion prefix `takes/hero`, empty, `...`, `/abs/take`    | saved under output/motion; Load Motion and `(latest saved motion)` load it |
|25.7 | Save Motion prefix with `..`                                  | refused, naming the input, nothing written |
|25.9 | tower weights stored as int8 (right names and shapes)         | short error naming the file and the fix    |
|25.11| Paste Back 25 frames into 800x600 (box 400)                   | measured peak within the memory check's count |
|25   | literal JSON (dict, number, text) on a FLOATKIT_* socket      | one line naming the input and what to connect |
"""

from __future__ import annotations

import math
import os
import threading
import time

import pytest
import torch
from safetensors.torch import save_file

from test_nodes import models_home, node_inputs, pack  # noqa: F401 (fixtures)

LOADER = ("float.pth", "wav2vec2-base-960h", "none")
SAMPLES = 1920  # 3 video frames


@pytest.fixture(scope="module")
def inputs() -> dict:
    return node_inputs(SAMPLES)


@pytest.fixture
def pipe(pack):
    from comfyui_floatkit.nodes import models

    return models.load(*LOADER)


@pytest.fixture
def parts(pack, pipe, inputs):
    nodes = pack.NODE_CLASS_MAPPINGS
    identity = nodes["FloatKitEncodeImage"].execute(pipe, inputs["image"])[0]
    features = nodes["FloatKitEncodeAudio"].execute(pipe, inputs["audio"])[0]
    emotion = nodes["FloatKitEmotionFromLabel"].execute("happy", 1.0)[0]
    return nodes, identity, features, emotion


# ----------------------------------------------------------------------------- 2: Load Motion's paths

def test_load_motion_reads_only_inside_its_folders_and_is_no_file_oracle(pack, pipe, parts, models_home, tmp_path):
    import folder_paths

    nodes, identity, features, emotion = parts
    load = nodes["FloatKitLoadMotion"]
    motion = nodes["FloatKitSampleMotion"].execute(pipe, identity, features, emotion, 2.0, 1.0, 1.0, 2, "euler", 0)[0]
    nodes["FloatKitSaveMotion"].execute(pipe, motion, "motion/ok")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.replace(os.path.join(folder_paths.get_output_directory(), "motion", "ok_00001_.safetensors"),
               elsewhere / "x.safetensors")
    nodes["FloatKitSaveMotion"].execute(pipe, motion, "motion/ok")  # one legitimate file stays
    link = os.path.join(folder_paths.get_input_directory(), "link.safetensors")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(elsewhere / "x.safetensors", link)
    relative = os.path.relpath(elsewhere / "x.safetensors", folder_paths.get_input_directory())
    hostile = [relative, str(elsewhere / "x.safetensors"), "/etc/passwd", "/etc/no-such-file", "link.safetensors",
               "motion/../../" + relative + " [output]", "nothing-here.safetensors"]
    answers = []
    for name in hostile:
        message = load.validate_inputs(motion_file=name)
        assert isinstance(message, str), name
        answers.append(message.replace(repr(name), "NAME"))
        with pytest.raises(FileNotFoundError):
            load.execute(pipe, name)
    assert len(set(answers)) == 1  # an existing file outside and a missing one get the same answer
    assert load.validate_inputs(motion_file="motion/ok_00001_.safetensors [output]") is True
    assert load.execute(pipe, "motion/ok_00001_.safetensors [output]")[0].num_frames == motion.num_frames
    os.remove(link)


# ----------------------------------------------------------------------------- 9, 10: listing and saving

def test_link_loops_in_the_motion_folder_do_not_hang_the_list(pack, pipe, parts, models_home):
    import folder_paths

    nodes, identity, features, emotion = parts
    motion = nodes["FloatKitSampleMotion"].execute(pipe, identity, features, emotion, 2.0, 1.0, 1.0, 2, "euler", 0)[0]
    nodes["FloatKitSaveMotion"].execute(pipe, motion, "motion/loop")
    folder = os.path.join(folder_paths.get_output_directory(), "motion")
    for name in ("again", "more"):
        if not os.path.lexists(os.path.join(folder, name)):
            os.symlink(".", os.path.join(folder, name))
    from comfyui_floatkit.nodes import edit_io

    found: list = []
    worker = threading.Thread(target=lambda: found.append(edit_io.motion_file_names()), daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(timeout=20)
    try:
        assert not worker.is_alive(), "the motion file list did not finish within 20 s"
        names = found[0]
        assert len(names) == len(set(names)) and "motion/loop_00001_.safetensors [output]" in names
        assert not any("again" in n or "more" in n for n in names)
        assert time.monotonic() - started < 20
    finally:
        for name in ("again", "more"):
            os.remove(os.path.join(folder, name))


@pytest.mark.parametrize("prefix", ["", "  ", "motion/", "motion/.hidden"])
def test_save_motion_never_writes_a_hidden_file_and_uses_the_usual_mode(prefix, pack, pipe, parts, models_home):
    import folder_paths

    nodes, identity, features, emotion = parts
    motion = nodes["FloatKitSampleMotion"].execute(pipe, identity, features, emotion, 2.0, 1.0, 1.0, 2, "euler", 0)[0]
    old = os.umask(0o022)
    try:
        nodes["FloatKitSaveMotion"].execute(pipe, motion, prefix)
    finally:
        os.umask(old)
    output = folder_paths.get_output_directory()
    written = [os.path.join(here, f) for here, _, files in os.walk(output) for f in files
               if f.endswith(".safetensors")]
    assert written and not any(os.path.basename(p).startswith(".") for p in written)
    newest = max(written, key=os.path.getmtime)
    assert oct(os.stat(newest).st_mode & 0o777) == oct(0o644)
    if prefix.startswith("motion/"):
        listed = nodes["FloatKitLoadMotion"].INPUT_TYPES()["required"]["motion_file"][1]["options"]
        assert f"motion/{os.path.basename(newest)} [output]" in listed
    for path in written:
        os.remove(path)


# ----------------------------------------------------------------------------- 5: loaded motion

def _write_motion(path, pipe, latents, reference=None, fps="25.0"):
    from comfyui_floatkit.float_models.edit.files import FORMAT, VERSION, basis_fingerprint

    weight = pipe.pipeline.model.motion_autoencoder.dec.direction.weight.detach().float().contiguous()
    reference = latents[:, 0].clone() if reference is None and latents.dim() == 3 and latents.shape[1] else (
        reference if reference is not None else torch.zeros(latents.shape[0], latents.shape[-1]))
    save_file({"latents": latents.contiguous(), "reference": reference.contiguous(), "direction_weight": weight},
              str(path), metadata={"format": FORMAT, "version": VERSION, "fps": fps,
                                   "frames": str(latents.shape[1]), "clips": str(latents.shape[0]),
                                   "basis_fingerprint": basis_fingerprint(weight)})


@pytest.mark.parametrize("case", ["nan", "inf", "huge", "width256", "int64", "no frames", "fps nan", "fps 0",
                                  "fps -25", "fps inf", "fps 1e-300", "fps 1e-9", "fps 0.0004", "fps 1000"])
def test_load_motion_refuses_broken_motion(case, pack, pipe, models_home):
    import folder_paths

    width = int(pipe.pipeline.model.motion_autoencoder.dec.direction.weight.shape[0])
    latents, fps = torch.zeros(1, 3, width), "25.0"
    if case in ("nan", "inf", "huge"):
        latents[0, 1, 0] = {"nan": math.nan, "inf": math.inf, "huge": 1e30}[case]
    elif case == "width256":
        latents = torch.zeros(1, 3, 256)
    elif case == "int64":
        latents = torch.zeros(1, 3, width, dtype=torch.int64)
    elif case == "no frames":
        latents = torch.zeros(1, 0, width)
    else:
        fps = case.split()[1]
    name = f"broken-{case.replace(' ', '_')}.safetensors"
    path = os.path.join(folder_paths.get_input_directory(), name)
    _write_motion(path, pipe, latents, torch.zeros(1, latents.shape[-1], dtype=latents.dtype), fps)
    try:
        with pytest.raises(ValueError, match=r"^FLOAT Load Motion: .*broken-.*save the motion again"):
            pack.NODE_CLASS_MAPPINGS["FloatKitLoadMotion"].execute(pipe, name)
    finally:
        os.remove(path)


# ----------------------------------------------------------------------------- 4, 5: numbers

@pytest.mark.parametrize("a_cfg, e_cfg, nfe, seed, words", [
    (math.nan, 1.0, 2, 0, "a_cfg_scale is nan"), (2.0, math.inf, 2, 0, "e_cfg_scale is inf"),
    (2.0, 1.0, 1000, 0, "nfe=1000: at most 100"), (2.0, 1.0, 2, 2 ** 64, "seed=")])
def test_sampler_numbers_are_refused_before_sampling(a_cfg, e_cfg, nfe, seed, words, parts, pipe):
    nodes, identity, features, emotion = parts
    with pytest.raises(ValueError, match=r"^FLOAT Sample Motion: ") as caught:
        nodes["FloatKitSampleMotion"].execute(pipe, identity, features, emotion, a_cfg, e_cfg, 1.0, nfe, "euler", seed)
    assert words in str(caught.value)


@pytest.mark.parametrize("node, args, name", [
    ("FloatKitEmotionFromLabel", ("happy", math.nan), "intensity"),
    ("FloatKitMotionIntensity", (None, -math.inf), "intensity"),
])
def test_non_finite_widget_values_are_refused_naming_the_input(node, args, name, pack):
    with pytest.raises(ValueError, match=rf"{name} is -?(nan|inf)"):
        pack.NODE_CLASS_MAPPINGS[node].execute(*args)


def test_library_sampling_refuses_huge_nfe_and_seed(pipe, parts):
    _, identity, features, emotion = parts
    for kwargs, words in (({"nfe": 10 ** 12}, "at most 100"), ({"seed": 2 ** 64}, r"2\*\*63-1"),
                          ({"a_cfg_scale": math.nan}, "finite")):
        with pytest.raises(ValueError, match=words):
            pipe.pipeline.sample_motion(identity, features, emotion, **kwargs)


# ----------------------------------------------------------------------------- 3: IMAGE and AUDIO sizes

def test_image_and_audio_inputs_have_the_library_bounds(pack, pipe, inputs, monkeypatch):
    from comfyui_floatkit.float_models import media

    nodes = pack.NODE_CLASS_MAPPINGS
    monkeypatch.setattr(media, "MAX_IMAGE_PIXELS", 32 * 32)
    with pytest.raises(ValueError, match=r"^FLOAT Encode Portrait: this IMAGE is 64x64 .* limit of"):
        nodes["FloatKitEncodeImage"].execute(pipe, inputs["image"])
    monkeypatch.setattr(media, "MAX_AUDIO_VALUES", 1000)
    with pytest.raises(ValueError, match=r"^FLOAT Encode Speech: this AUDIO has 1920 samples x 2 channel.*limit of 1000"):
        nodes["FloatKitEncodeAudio"].execute(pipe, inputs["audio"])


# ----------------------------------------------------------------------------- issue 25 (parsers, values, Cancel)

def _cancel_pending():
    import comfy.model_management as mm

    mm.interrupt_current_processing(True)
    return mm.InterruptProcessingException


@pytest.mark.parametrize("schedule, words", [
    ("0-: nan nan nan nan nan nan nan", "emotion value 'nan'"), ("0-: happy 1e30", "intensity '1e30'"),
    ("0-: happy -1", "intensity '-1'"), ("3-1: happy", "not after its start"), ("0-" + "9" * 400 + ": happy", "above"),
])
def test_emotion_schedule_node_refuses_black_and_empty_lines_in_one_line(schedule, words, pack):
    node = pack.NODE_CLASS_MAPPINGS["FloatKitEmotionSchedule"]
    with pytest.raises(ValueError, match=r"^FLOAT Emotion Schedule: .*line 1 .*" + words) as caught:
        node.execute(schedule, "neutral", 0.4, 50, 25.0)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 400


def test_cancel_stops_schedule_parsing_and_rest_on_silence(pack, parts):
    from comfyui_floatkit.float_models.edit.emotion_schedule import POLL_LINES
    from comfyui_floatkit.float_models.edit.silence import POLL_FRAMES
    from comfyui_floatkit.float_models.types import Motion

    nodes = pack.NODE_CLASS_MAPPINGS
    interrupted = _cancel_pending()
    with pytest.raises(interrupted):
        nodes["FloatKitEmotionSchedule"].execute("0-1: happy\n" * (2 * POLL_LINES), "neutral", 0.0, 50, 25.0)
    frames = 2 * POLL_FRAMES
    motion = Motion(torch.zeros(1, frames, 512), 25.0, torch.zeros(1, 512))
    audio = {"waveform": torch.zeros(1, 1, frames * 640), "sample_rate": 16000}
    _cancel_pending()
    with pytest.raises(interrupted):
        nodes["FloatKitRestOnSilence"].execute(motion, audio, -40.0, 3, 5, 1.0)


def test_motion_trim_in_frames_refuses_fractions_instead_of_keeping_the_whole_clip(pack):
    from comfyui_floatkit.float_models.types import Motion

    motion = Motion(torch.zeros(1, 10, 512), 25.0, torch.zeros(1, 512))
    node = pack.NODE_CLASS_MAPPINGS["FloatKitMotionTrim"]
    with pytest.raises(ValueError, match=r"^FLOAT Motion Trim: trim start 0.5: frame numbers are whole"):
        node.execute(motion, 0.5, 0.9, "frames")
    assert node.execute(motion, 2.0, 5.0, "frames")[0].num_frames == 3


@pytest.mark.parametrize("spec", ["5-3", "19-0", "0--1"])
def test_direction_specs_that_select_nothing_are_refused(spec, pack, pipe, parts):
    _, identity, _, _ = parts
    from comfyui_floatkit.float_models.types import Motion

    motion = Motion(identity.motion[:, None].repeat(1, 3, 1), 25.0, identity.motion)
    with pytest.raises(ValueError, match=r"^FLOAT Motion Direction Gains: .*(backwards|cannot read)"):
        pack.NODE_CLASS_MAPPINGS["FloatKitMotionDirectionGains"].execute(pipe, motion, spec, 0.0, 1.0)
# ----------------------------------------------------------------------------- issue 25: literals on sockets

@pytest.mark.parametrize("literal", [{"fps": 25}, 25, "motion.safetensors", 2.5, True])
def test_a_literal_on_a_socket_names_the_input_and_what_to_connect(literal, pack):
    # Issue 25: a prompt's JSON may put any value where a link belongs; ComfyUI hands it to the node
    # (a list is taken for a broken link and refused by ComfyUI itself).
    import comfy_stubs

    prompt = {"1": {"class_type": "FloatKitLoadModels", "inputs": {}},
              "2": {"class_type": "FloatKitSaveMotion",
                    "inputs": {"pipe": ["1", 0], "motion": literal, "filename_prefix": "motion/x"}}}
    with pytest.raises(ValueError) as caught:
        comfy_stubs.run_graph(prompt, pack.NODE_CLASS_MAPPINGS, fill_defaults=True)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("FLOAT Save Motion: input 'motion' got the value ")
    assert "FLOATKIT_MOTION" in message and "connect it to the output of FLOAT Sample Motion" in message


@pytest.mark.parametrize("literal, shown", [({"source_width": 640, "x": 0}, r"\{'source_width': "),
                                           ([[0, 0, 64, 64]], r"\[\[0, 0, 64, 64\]\]"), ([], r"\[\]")])
def test_a_literal_crop_box_is_refused_before_any_work(literal, shown, pack, inputs):
    paste = pack.NODE_CLASS_MAPPINGS["FloatKitPasteBack"]
    with pytest.raises(ValueError, match=rf"^FLOAT Paste Back: input 'crop_box' got the value {shown}"
                                         r".*FLOATKIT_CROP_BOX.*FLOAT Crop Portrait$"):
        paste.execute(inputs["image"], inputs["image"], literal, 16)


def test_the_named_sources_of_each_socket_give_that_socket(pack):
    from comfyui_floatkit.nodes.sockets import SOURCES

    outputs: dict[str, set] = {}
    for node_id, node in pack.NODE_CLASS_MAPPINGS.items():
        for out in node.define_schema().outputs:
            outputs.setdefault(out.get_io_type(), set()).add(pack.NODE_DISPLAY_NAME_MAPPINGS[node_id])
    for io_type, text in SOURCES.items():
        named = [n.strip() for part in text.split(" or ") for n in part.split(",")]
        named = [n for n in named if n and n != "a motion edit"]
        assert named and set(named) <= outputs[io_type], (io_type, named)
    assert {t for t in outputs if t.startswith("FLOATKIT_")} == set(SOURCES)


# ----------------------------------------------------------------------------- issue 25 #7: saved -> loadable

@pytest.mark.parametrize("prefix, saved_as", [
    ("takes/hero", "motion/takes/hero_00001_.safetensors"), ("", "motion/FloatKit_"), ("...", "motion/FloatKit_"),
    ("/abs/take", "motion/abs/take_00001_.safetensors"), ("motion/kept", "motion/kept_00001_.safetensors")])
def test_every_saved_motion_can_be_loaded_again(prefix, saved_as, pack, pipe, parts, models_home):
    # Issue 25 #7: prefixes outside motion/ wrote files that Load Motion refused and "latest" ignored.
    import folder_paths

    nodes, identity, features, emotion = parts
    motion = nodes["FloatKitSampleMotion"].execute(pipe, identity, features, emotion, 2.0, 1.0, 1.0, 2, "euler", 0)[0]
    text = nodes["FloatKitSaveMotion"].execute(pipe, motion, prefix).ui.as_dict()["text"][0]
    name = text.split("load it with Load Motion as '")[1].rstrip("'")
    assert name.startswith(saved_as) and name.endswith(" [output]")
    load = nodes["FloatKitLoadMotion"]
    assert name in load.INPUT_TYPES()["required"]["motion_file"][1]["options"]
    assert load.validate_inputs(motion_file=name) is True
    for choice in (name, "(latest saved motion)"):
        loaded = load.execute(pipe, choice)[0]
        assert torch.equal(loaded.latents, motion.latents.float()), choice
    output = folder_paths.get_output_directory()
    os.remove(os.path.join(output, name.removesuffix(" [output]")))


def test_save_motion_refuses_a_prefix_that_leaves_the_motion_folder(pack, pipe, parts, models_home):
    import folder_paths

    nodes, identity, features, emotion = parts
    motion = nodes["FloatKitSampleMotion"].execute(pipe, identity, features, emotion, 2.0, 1.0, 1.0, 2, "euler", 0)[0]
    before = sorted(os.walk(folder_paths.get_output_directory()))
    with pytest.raises(ValueError, match=r"^FLOAT Save Motion: filename_prefix 'motion/../x': '\.\.' cannot be "
                                         r"used.*'motion/takes/hero'"):
        nodes["FloatKitSaveMotion"].execute(pipe, motion, "motion/../x")
    assert sorted(os.walk(folder_paths.get_output_directory())) == before


# ----------------------------------------------------------------------------- issue 25 #11: Paste Back's memory

PASTE_PEAK_SCRIPT = """
import sys
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests"]
import torch
torch.set_num_threads(2)
import comfy_stubs
comfy_stubs.install(sys.argv[2])
from test_nodes import import_pack
pack = import_pack()
from comfyui_floatkit.float_models.app.face_crop import CropBox
from comfyui_floatkit.nodes import _errors
counted = []
check = _errors.check_frames_fit
def record(frames, size, available=None, fps=None, height=None, advice=None, **extra):
    counted.append(_errors.frames_bytes(frames, size, height) + int(extra.get("working", 0)))
    return check(frames, size, available, fps, height, advice, **extra)
_errors.check_frames_fit = record
images, photo = torch.rand(25, 512, 512, 3), torch.rand(1, 600, 800, 3)
box = CropBox(left=200, top=100, size=400, source_width=800, source_height=600)
def status(field):
    with open("/proc/self/status") as lines:
        return next(int(l.split()[1]) * 1024 for l in lines if l.startswith(field + ":"))
with open("/proc/self/clear_refs", "w") as reset:  # the peak (VmHWM) starts again from the present size
    reset.write("5")
base = status("VmRSS")
out = pack.NODE_CLASS_MAPPINGS["FloatKitPasteBack"].execute(images, photo, (box,), 16).result[0]
print(status("VmHWM") - base, counted[0], out.numel() * 4)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="measures the peak through Linux's /proc")
def test_paste_back_counts_the_memory_it_really_uses(models_home, tmp_path):
    # Issue 25 #11: only the output frames were counted; resizing chunks, blending temporaries and the
    # final join took more than as much again (25 frames into 4000x3000, 2400 px box: +7.7 GB, 3.6 counted).
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", PASTE_PEAK_SCRIPT, str(root), str(tmp_path)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    peak, counted, output = map(int, done.stdout.split()[-3:])
    assert output <= peak <= counted, (peak / 1e6, counted / 1e6)  # measured above the output, within the count
    assert counted < 2.5 * peak  # and not so generous that it refuses what fits


def test_paste_back_refuses_what_would_fit_only_without_its_working_memory(pack, monkeypatch):
    from comfyui_floatkit.float_models.app.face_crop import CropBox
    from comfyui_floatkit.nodes import _errors

    images, photo = torch.rand(4, 64, 64, 3), torch.rand(1, 600, 800, 3)
    box = CropBox(left=200, top=100, size=400, source_width=800, source_height=600)
    monkeypatch.setattr(_errors, "available_memory", lambda: _errors.frames_bytes(4, 800, 600) + 1000)
    with pytest.raises(MemoryError, match=r"^FLOAT Paste Back: the 4 frames of 800x600 .* plus 0\.\d GB while "
                                          r"making them"):
        pack.NODE_CLASS_MAPPINGS["FloatKitPasteBack"].execute(images, photo, (box,), 16)
