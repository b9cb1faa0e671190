"""Frame rate, sync offset and speaking directions as nodes, on the ComfyUI stand-ins and the tiny weights:
every editing node at 30 fps, decoded 50 fps against 25 fps, Animate / Animate to Video with fps and
offset_ms, and the speech-driven direction choices."""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import av
import pytest
import torch

from test_nodes import sample_tiny, import_pack, models_home, node_inputs, pack  # noqa: F401 (fixtures)

SAMPLES = 4800  # 0.3 s -> 8 frames at 25 fps (0.32 s), ceil(0.3 * 30) = 9 at 30 fps
NODES_DIR = Path(__file__).resolve().parent.parent / "nodes"
LOADER = ("float.pth", "wav2vec2-base-960h", "none")


@pytest.fixture(scope="module")
def inputs() -> dict:
    return node_inputs(SAMPLES)


@pytest.fixture
def sampled(pack, inputs):
    return sample_tiny(inputs, "happy")


def motion_edit_nodes(pack) -> set[str]:
    """Every node of nodes/edit*.py that takes a FLOATKIT_MOTION and gives one (the motion edits)."""
    from comfyui_floatkit import nodes

    found = set()
    for path in sorted(NODES_DIR.glob("edit*.py")):
        module = importlib.import_module(f"{nodes.__name__}.{path.stem}")
        for cls in getattr(module, "NODES", ()):
            schema = cls.define_schema()
            takes = any(i.get_io_type() == "FLOATKIT_MOTION" for i in schema.inputs)
            gives = any(o.get_io_type() == "FLOATKIT_MOTION" for o in schema.outputs)
            if takes and gives:
                found.add(schema.node_id)
    return found


def test_every_editing_node_keeps_working_at_30_fps_and_its_neutral_setting_is_exact(pack, sampled, inputs):
    pipe, _, _, sampled_motion = sampled
    nodes = pack.NODE_CLASS_MAPPINGS
    motion = nodes["FloatKitMotionFrameRate"].execute(sampled_motion, 30.0)[0]
    assert motion.fps == 30.0 and motion.num_frames == math.ceil(8 / 25 * 30) == 10
    other = nodes["FloatKitMotionIntensity"].execute(motion, 0.5)[0]
    frames = motion.num_frames
    neutral = {
        "FloatKitMotionIntensity": lambda: nodes["FloatKitMotionIntensity"].execute(motion, 1.0),
        "FloatKitMotionDirectionGains": lambda: nodes["FloatKitMotionDirectionGains"].execute(pipe, motion, "0-19",
                                                                                              1.0, 1.0),
        "FloatKitMotionSmooth": lambda: nodes["FloatKitMotionSmooth"].execute(motion, 0.0, "keep ends"),
        "FloatKitMotionBlend": lambda: nodes["FloatKitMotionBlend"].execute(motion, other, 0.0, 0.0, False),
        "FloatKitMotionMixDirections": lambda: nodes["FloatKitMotionMixDirections"].execute(pipe, motion, other, "",
                                                                                            False),
        "FloatKitMotionTrim": lambda: nodes["FloatKitMotionTrim"].execute(motion, 0.0, frames / 30, "seconds"),
        "FloatKitMotionLoop": lambda: nodes["FloatKitMotionLoop"].execute(motion, frames, "ping-pong"),
        "FloatKitMotionSpeed": lambda: nodes["FloatKitMotionSpeed"].execute(motion, 1.0),
        "FloatKitRestOnSilence": lambda: nodes["FloatKitRestOnSilence"].execute(motion, inputs["audio"], -40.0, 3, 5,
                                                                                0.0),
        "FloatKitMotionFrameRate": lambda: nodes["FloatKitMotionFrameRate"].execute(motion, 30.0),
        "FloatKitMotionOffset": lambda: nodes["FloatKitMotionOffset"].execute(motion, 0.0),
        "FloatKitMotionCalmHead": lambda: nodes["FloatKitMotionCalmHead"].execute(pipe, motion, 1.0, 0.3,
                                                                                  audio=inputs["audio"]),
        # no neutral setting: joining keeps each part exactly, at the parts' rate
        "FloatKitMotionConcat": lambda: nodes["FloatKitMotionConcat"].execute(motion, motion),
    }
    assert set(neutral) == motion_edit_nodes(pack)  # a new motion edit must be added here
    for node_id, run in neutral.items():
        out = run()[0]
        assert out.fps == 30.0, node_id
        if node_id == "FloatKitMotionConcat":
            assert torch.equal(out.latents, torch.cat([motion.latents, motion.latents], dim=1))
        else:
            assert torch.equal(out.latents, motion.latents), node_id
        assert torch.equal(out.reference, motion.reference), node_id
    # speeds and trims read seconds at the motion's own rate
    assert nodes["FloatKitMotionTrim"].execute(motion, 0.1, 0.2, "seconds")[0].num_frames == 3


def test_decoded_50_fps_even_frames_are_the_25_fps_frames(pack, sampled):
    pipe, identity, _, motion = sampled
    nodes = pack.NODE_CLASS_MAPPINGS
    at_25, fps_25 = nodes["FloatKitDecode"].execute(pipe, identity, motion, 4)[:2]
    doubled = nodes["FloatKitMotionFrameRate"].execute(motion, 50.0)[0]
    at_50, fps_50 = nodes["FloatKitDecode"].execute(pipe, identity, doubled, 4)[:2]
    assert (fps_25, fps_50) == (25.0, 50.0) and at_50.shape[0] == 2 * at_25.shape[0]
    # same latents decoded in other batch groupings: equal to float rounding
    assert (at_50[::2] - at_25).abs().max() < 1e-5
    assert (at_50[1::2] - at_25).abs().max() > 1e-3  # the odd frames are new ones


def test_animate_at_30_fps_with_an_80_ms_offset(pack, inputs):
    from comfyui_floatkit.nodes import animate, models

    pipe = models.load(*LOADER)
    plain, _, _ = animate.animate(pipe, inputs["image"], inputs["audio"], emotion="sad", face_crop=False, nfe=2)
    frames, trimmed, fps = animate.animate(pipe, inputs["image"], inputs["audio"], emotion="sad", face_crop=False,
                                           nfe=2, fps=30.0, offset_ms=80.0)
    seconds = SAMPLES / 16000
    assert fps == 30.0 and frames.shape[0] == math.ceil(seconds * 30) == 9
    assert trimmed["waveform"].shape[-1] == round(9 * 16000 / 30)  # the speech cut to the same duration
    still = animate.animate(pipe, inputs["image"], inputs["audio"], emotion="sad", face_crop=False, nfe=2,
                            fps=30.0, offset_ms=2000.0)[0]  # every frame the portrait's own pose
    assert (frames[:2] - still[:2]).abs().max() < 1e-5  # 80 ms = 2 frames of the reference pose
    assert (frames[2] - still[2]).abs().max() > 1e-3
    assert plain.shape[0] == 8


def test_animate_to_video_writes_30_fps(pack, inputs):
    out = pack.NODE_CLASS_MAPPINGS["FloatKitAnimateToVideo"].execute(
        models_pipe(), inputs["image"], inputs["audio"], "sad", False, False, 2.0, 1.0, 1.0, 2, "euler", 15, 18, 4,
        output_fps=30.0, offset_ms=80.0)
    with av.open(out.args[0].get_stream_source()) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == 30
        assert sum(1 for _ in container.decode(video=0)) == math.ceil(SAMPLES / 16000 * 30)


def models_pipe():
    from comfyui_floatkit.nodes import models

    return models.load(*LOADER)


def test_save_and_load_motion_keep_the_new_rate(pack, sampled):
    pipe, _, _, motion = sampled
    nodes = pack.NODE_CLASS_MAPPINGS
    at_24 = nodes["FloatKitMotionFrameRate"].execute(motion, 24.0)[0]
    nodes["FloatKitSaveMotion"].execute(pipe, at_24, "motion/rate")
    loaded = nodes["FloatKitLoadMotion"].execute(pipe, "motion/rate_00001_.safetensors [output]")[0]
    assert loaded.fps == 24.0 and torch.equal(loaded.latents, at_24.latents)


def test_speaking_choices_and_motion_info_need_and_use_the_speech(pack, sampled, inputs):
    pipe, _, features, motion = sampled
    nodes = pack.NODE_CLASS_MAPPINGS
    with pytest.raises(ValueError, match="need the speech"):
        nodes["FloatKitMotionDirectionGains"].execute(pipe, motion, "speaking", 0.0, 1.0)
    with pytest.raises(ValueError, match="audio_features"):
        nodes["FloatKitMotionCalmHead"].execute(pipe, motion, 0.3, 0.3)
    report = nodes["FloatKitMotionInfo"].execute(pipe, motion, 5, audio=inputs["audio"])[0]
    assert "correlation of each direction with the speech loudness" in report
    assert report.count("\ndirection ") == 20  # every direction, after the top-5 energy table
    from_features = nodes["FloatKitMotionInfo"].execute(pipe, motion, 5, audio_features=features)[0]
    assert "speech activity (from the features)" in from_features
    # 'not speaking' at gain 1 / 'speaking' at 0: complementary sets, each an exact Direction Gains choice
    from comfyui_floatkit.float_models.edit import speaking
    from comfyui_floatkit.nodes.edit import basis_of, loudness_of

    basis = basis_of(pipe)
    correlation = speaking.direction_correlation(motion, basis, loudness_of(motion, inputs["audio"]))
    chosen = speaking.choose_directions("not speaking", correlation)
    by_name = nodes["FloatKitMotionDirectionGains"].execute(pipe, motion, "not speaking", 0.25, 1.0,
                                                            audio=inputs["audio"])[0]
    by_list = nodes["FloatKitMotionDirectionGains"].execute(pipe, motion, ",".join(map(str, chosen)) or "", 0.25,
                                                            1.0)[0]
    assert torch.equal(by_name.latents, by_list.latents)
    calm = nodes["FloatKitMotionCalmHead"].execute(pipe, motion, 0.25, 0.3, audio=inputs["audio"])[0]
    assert torch.equal(calm.latents, by_name.latents)
