"""Which face, the crop and paste-back masks, and pictures without a face (issue 24, items 1, 4, 7).

Crop Portrait runs with a stand-in detector (fixed faces in the 360-px detection copy's pixels), so the
face numbering, the preview, the MASK and the missing-face choice are checked without depending on what
the real detector finds in a rule-made picture. Paste Back and Render Video run on the tiny weights.
"""

from __future__ import annotations

import argparse
import logging

import numpy as np
import pytest
import torch

from test_nodes import sample_tiny, import_pack, inputs, models_home, pack  # noqa: F401  (shared fixtures)
from test_nodes_images import FakeDetector

THREE_FACES = ((250, 100, 330, 180), (20, 120, 80, 180), (130, 60, 230, 160))  # middle one largest; not in order


class RuleDetector(FakeDetector):
    """Faces chosen by `rule(detection copy)` (boxes in its pixels)."""

    def __init__(self, rule):
        super().__init__()
        self.rule = rule

    def __call__(self, image):
        self.faces = self.rule(image)
        return super().__call__(image)


@pytest.fixture
def faces(monkeypatch, pack):
    """Use a stand-in detector: faces(*boxes) for fixed faces, faces(rule=f) for faces depending on the picture."""
    from comfyui_floatkit.float_models.app import face_crop

    def use(*boxes, rule=None):
        fake = FakeDetector(*boxes) if rule is None else RuleDetector(rule)
        monkeypatch.setattr(face_crop, "default_detector", lambda: fake)
        return fake

    return use


def crop_node(pack):
    return pack.NODE_CLASS_MAPPINGS["FloatKitCropPortrait"]


def picture(height=360, width=360, seed=0, batch=1):
    return torch.rand(batch, height, width, 3, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------ which face

def test_face_counts_from_the_left_and_minus_one_is_the_largest(pack, faces):
    faces(*THREE_FACES)
    photo = picture()
    centres = {}
    for face in (-1, 0, 1, 2):
        _, boxes, _ = crop_node(pack).execute(photo, "face crop", 1.6, 64, face=face)
        centres[face] = boxes[0].left + boxes[0].size // 2
    assert centres[0] == 50 and centres[1] == 180 and centres[2] == 290  # x centres of the faces, left to right
    assert centres[-1] == centres[1]  # the largest (100 px wide) is the middle one
    assert crop_node(pack).execute(photo, "face crop", 1.6, 64)[1] == crop_node(pack).execute(
        photo, "face crop", 1.6, 64, face=-1)[1]  # a prompt without `face` keeps today's choice


def test_a_face_past_the_last_fails_with_the_count_found(pack, faces):
    faces(*THREE_FACES)
    with pytest.raises(ValueError, match=r"^FLOAT Crop Portrait: picture 0 of the batch: face 3 asked for, but 3 "
                                         r"face\(s\) were found \(numbered 0 to 2 from the left\)"):
        crop_node(pack).execute(picture(), "face crop", 1.6, 64, face=3)


def test_the_node_shows_the_faces_numbered_as_face_counts_them(pack, faces):
    from PIL import Image

    faces(*THREE_FACES)
    out = crop_node(pack).execute(picture(batch=2), "face crop", 1.6, 64, face=2)
    shown = out.ui.as_dict()["images"]
    assert len(shown) == 2 and all(item["type"] == "temp" for item in shown)  # one per picture of the batch
    import folder_paths

    preview = np.asarray(Image.open(f"{folder_paths.get_temp_directory()}/{shown[0]['filename']}").convert("RGB"))
    assert preview.shape == (360, 360, 3)
    green, amber = (0, 220, 0), (255, 190, 0)
    assert tuple(preview[150, 250]) == green  # the left edge of face 2, the one used
    assert tuple(preview[150, 130]) == amber and tuple(preview[150, 20]) == amber  # faces 1 and 0


def test_draw_faces_numbers_and_shrinks():
    from float_models.app.face_crop import FaceBox, draw_faces

    photo = np.full((2000, 1000, 3), 100, np.uint8)
    drawn = draw_faces(photo, [FaceBox(100, 100, 400, 400, 1.0), FaceBox(500, 900, 900, 1300, 1.0)], used=0)
    assert drawn.shape == (512, 256, 3) and drawn.dtype == np.uint8
    assert tuple(drawn[80, 26]) == (0, 220, 0) and tuple(drawn[300, 128]) == (255, 190, 0)  # left edges
    assert (photo == 100).all()  # drawn on a copy


def test_the_animate_nodes_pass_face_to_the_crop(pack, inputs, monkeypatch):
    from comfyui_floatkit.nodes import crop, models

    asked = []

    def record(image, mode="face crop", margin=1.6, size=512, face=-1):
        asked.append(face)
        raise KeyboardInterrupt  # stop before any model work

    monkeypatch.setattr(crop, "crop_of", record)
    pipe = models.load("float.pth", "wav2vec2-base-960h", "none")
    nodes = pack.NODE_CLASS_MAPPINGS
    common = dict(emotion="neutral", face_crop=True, a_cfg_scale=2.0, e_cfg_scale=1.0, r_cfg_scale=1.0, nfe=2,
                  solver="euler", seed=1)
    for node, extra in (("FloatKitAnimate", {}), ("FloatKitAnimateToVideo", dict(paste_back=False, crf=18,
                                                                                  batch_size=0))):
        with pytest.raises(KeyboardInterrupt):
            nodes[node].execute(pipe, inputs["image"], inputs["audio"], face=2, **common, **extra)
        with pytest.raises(KeyboardInterrupt):
            nodes[node].execute(pipe, inputs["image"], inputs["audio"], **common, **extra)
    assert asked == [2, -1, 2, -1]


def test_new_inputs_are_optional_and_last_so_saved_workflows_keep_working(pack):
    """Saved UI workflows list widget values in input order, and API prompts saved before may lack them."""
    nodes = pack.NODE_CLASS_MAPPINGS
    for node, new in (("FloatKitCropPortrait", ["face", "on_missing_face"]), ("FloatKitAnimate", ["face"]),
                      ("FloatKitAnimateToVideo", ["face"])):
        inputs = nodes[node].define_schema().inputs
        assert [i.id for i in inputs[-len(new):]] == new and all(i.optional for i in inputs[-len(new):])
        kind, options = nodes[node].INPUT_TYPES()["optional"]["face"]
        assert kind == "INT" and (options["default"], options["min"]) == (-1, -1)
    assert list(nodes["FloatKitCropPortrait"].INPUT_TYPES()["required"]) == ["image", "mode", "margin", "size"]
    assert nodes["FloatKitCropPortrait"].INPUT_TYPES()["optional"]["on_missing_face"][1]["options"] == [
        "stop", "use whole picture"]
    assert list(nodes["FloatKitCropPortrait"].RETURN_TYPES) == ["IMAGE", "FLOATKIT_CROP_BOX", "MASK"]


# ------------------------------------------------------------------ the crop MASK

def test_the_mask_is_the_crop_square_in_the_photo(pack, faces):
    faces((0, 100, 80, 180), (200, 100, 300, 200))  # the first touches the left edge: its square leaves the photo
    photo = picture(360, 480)
    for face in (0, 1):
        _, boxes, mask = crop_node(pack).execute(photo, "face crop", 1.6, 64, face=face)
        box = boxes[0]
        assert mask.shape == (1, 360, 480) and mask.dtype == torch.float32
        x0, y0, x1, y1 = box.visible()
        expected = torch.zeros(360, 480)
        expected[y0:y1, x0:x1] = 1
        assert torch.equal(mask[0], expected) and mask.sum() == (x1 - x0) * (y1 - y0)
    assert boxes[0].left > 150  # face 1's square, not face 0's


# ------------------------------------------------------------------ pictures without a face

def test_missing_face_stops_by_default_and_says_how_to_go_on(pack, faces):
    faces()
    with pytest.raises(ValueError, match=r"picture 0 of the batch: No face found.*on_missing_face.*use whole picture"):
        crop_node(pack).execute(picture(), "face crop", 1.6, 64)


def test_use_whole_picture_keeps_a_batch_going_and_logs_each_picture(pack, faces, caplog):
    faces(rule=lambda image: [(100, 100, 200, 200)] if image.mean() > 100 else [])  # bright pictures have a face
    photo = torch.cat([picture(180, 320, seed=1) * 0.2, picture(180, 320, seed=2), picture(180, 320, seed=3) * 0.2])
    with caplog.at_level(logging.WARNING):
        out = crop_node(pack).execute(photo, "face crop", 1.6, 64, on_missing_face="use whole picture")
    crops, boxes, mask = out.args
    assert crops.shape == (3, 64, 64, 3)
    assert [r.getMessage() for r in caplog.records if "whole picture" in r.getMessage()] == [
        f"FLOAT Crop Portrait: picture {i} of the batch: no face found; used the whole picture "
        f"(on_missing_face = 'use whole picture')" for i in (0, 2)]
    whole = boxes[0]
    assert (whole.left, whole.top, whole.size) == (0, -70, 320)  # the wide picture padded to a square, centred
    assert boxes[1].size < 320 and boxes[2] == whole
    assert bool((mask[0] == 1).all()) and bool((mask[2] == 1).all()) and 0 < mask[1].mean() < 1
    assert crops[0, :10].max() == 0 and crops[0, 32].mean() > 0.02  # black above and below, the picture between
    assert len(out.ui.as_dict()["images"]) == 3


# ------------------------------------------------------------------ paste-back masks

def test_paste_back_outputs_the_mask_it_blended_with(pack):
    from comfyui_floatkit.float_models.app.face_crop import CropBox

    box = CropBox(left=30, top=10, size=40, source_width=100, source_height=80)
    frames = torch.ones(5, 64, 64, 3)
    photo = torch.zeros(1, 80, 100, 3)
    pasted, mask = pack.NODE_CLASS_MAPPINGS["FloatKitPasteBack"].execute(frames, photo, (box,), 8).args
    assert mask.shape == (1, 80, 100)  # one mask for all frames
    assert torch.allclose(pasted[..., 0], mask.expand(5, -1, -1))  # white into black: the pixels are the mask
    assert mask[0, 30, 50] == 1 and mask[0, 0, 0] == 0 and 0 < mask[0, 10, 50] < 1  # inside, outside, feathered


def test_paste_back_gives_one_mask_per_frame_when_the_clips_boxes_differ(pack):
    from comfyui_floatkit.float_models.app.face_crop import CropBox

    boxes = (CropBox(0, 0, 40, 100, 80), CropBox(50, 20, 40, 100, 80))
    frames = torch.ones(6, 64, 64, 3)  # two clips of three frames
    pasted, mask = pack.NODE_CLASS_MAPPINGS["FloatKitPasteBack"].execute(frames, torch.zeros(1, 80, 100, 3),
                                                                         boxes, 4).args
    assert mask.shape == (6, 80, 100)
    assert torch.allclose(pasted[..., 0], mask)
    assert mask[0, 10, 10] == 1 and mask[3, 10, 10] == 0 and mask[3, 40, 70] == 1


@pytest.fixture(scope="module")
def made(models_home, inputs):
    import comfy_stubs

    comfy_stubs.install(models_home)
    import_pack()
    pipe, identity, _, motion = sample_tiny(inputs)
    return pipe, identity, motion


def test_render_video_outputs_its_paste_mask_and_the_whole_frame_without(pack, made):
    from comfyui_floatkit.float_models.app.face_crop import CropBox
    from comfyui_floatkit.float_models.edit.paste_back import paste_mask

    pipe, identity, motion = made
    render = pack.NODE_CLASS_MAPPINGS["FloatKitRenderVideo"]
    box = CropBox(left=30, top=10, size=70, source_width=120, source_height=90)
    out = render.execute(pipe, identity, motion, crf=18, batch_size=4, feather=8,
                         original=torch.rand(1, 90, 120, 3), crop_box=(box,))
    assert torch.equal(out.args[1], paste_mask(box, 8)[None])
    plain = render.execute(pipe, identity, motion, crf=18, batch_size=4)
    assert torch.equal(plain.args[1], torch.ones(1, 64, 64))  # the square frames are all animation


def test_render_video_refuses_per_frame_masks_that_cannot_fit_before_rendering(pack, made, monkeypatch):
    from comfyui_floatkit.float_models import Motion
    from comfyui_floatkit.nodes import video as video_nodes
    from comfyui_floatkit.float_models.app.face_crop import CropBox
    from comfyui_floatkit.nodes import _errors

    pipe, identity, motion = made
    long = Motion(motion.latents[:, :1].expand(2, 1000, -1), motion.fps, motion.reference.expand(2, -1))
    boxes = (CropBox(0, 0, 64, 1920, 1080), CropBox(900, 300, 64, 1920, 1080))  # two clips, different boxes
    monkeypatch.setattr(_errors, "available_memory", lambda: 10 * 10 ** 9)  # 2000 masks of 1080p: 16.6 GB
    monkeypatch.setattr(video_nodes, "render_video", lambda *a, **k: pytest.fail("rendered before the check"))
    with pytest.raises(MemoryError, match=r"^FLOAT Render Video: the paste-back mask, one per frame .* 16\.6 GB"):
        pack.NODE_CLASS_MAPPINGS["FloatKitRenderVideo"].execute(
            pipe, identity, long, crf=18, batch_size=4, original=torch.zeros(1, 1, 1, 3).expand(1, 1080, 1920, 3),
            crop_box=boxes)


# ------------------------------------------------------------------ the command line: --face

def test_cli_face_takes_largest_or_a_number_from_the_left(capsys):
    from float_models.app import cli

    assert [cli._face_choice(text) for text in ("largest", "-1", "0", "2")] == ["largest", "largest", 0, 2]
    for bad in ("x", "-3", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError, match="give 'largest' or a face number"):
            cli._face_choice(bad)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["render", "--face", "second"])
    assert exit_info.value.code == 2 and "--face" in capsys.readouterr().err


def test_cli_face_crops_the_chosen_face_and_names_the_count_when_past_the_last(monkeypatch, tmp_path):
    from float_models.app import cli, face_crop

    def detector(image):
        return [face_crop.FaceBox(*box, 1.0) for box in THREE_FACES]

    monkeypatch.setattr(face_crop, "default_detector", lambda: detector)
    photo = (np.arange(360 * 360 * 3) % 251).astype(np.uint8).reshape(360, 360, 3)
    expected, _, _ = face_crop.crop_portrait(photo, face_index=0, detector=detector)
    assert np.array_equal(cli._crop(photo, tmp_path / "me.png", True, 0), expected)
    assert not np.array_equal(cli._crop(photo, tmp_path / "me.png", True, "largest"), expected)
    with pytest.raises(cli.InputError, match=r"^--face 3: 3 face\(s\) found in .*me\.png, numbered 0 to 2 from the "
                                             r"left; choose one of those, or --face largest$"):
        cli._crop(photo, tmp_path / "me.png", True, 3)
