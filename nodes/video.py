"""Long clips inside ComfyUI: decode FLOAT's motion batch by batch straight into an MP4 in ComfyUI's
temp folder and hand it on as a VIDEO (backed by that file), so frames never pile up in RAM as an
IMAGE batch does (about 3 MiB per 512 px frame, 44 GB for 10 minutes). Core Save Video, Preview and
Get Video Components take the VIDEO as they take any other."""

from __future__ import annotations

import os
import uuid

import torch
from comfy_api.latest import InputImpl, io, ui

from ..float_models.app.render import PasteInto, render_video
from . import _comfy, _errors, animate, convert, sockets

DEFAULT_CRF = 18  # float_models.app.video.DEFAULT_CRF: visually near-lossless H.264
PREFIX = "floatkit_render"


def _crf_input():
    return io.Int.Input("crf", default=DEFAULT_CRF, min=0, max=51,
                        tooltip="H.264 quality: 0 lossless, 18 near-lossless (default), 23 smaller files; "
                                "lower is better and bigger.")


def _batch_input():
    return io.Int.Input("batch_size", default=0, min=0, max=256,
                        tooltip="Frames decoded (and held) at once; 0 = automatic (fits free memory). Memory stays "
                                "the same at any length of speech.")


def _video_output():
    return sockets.output(io.Video, "video", "The talking video (H.264 MP4 with the speech), written to ComfyUI's "
                                             "temp folder; connect Save Video to keep it.")


def temp_video_path() -> str:
    """A fresh .mp4 name in ComfyUI's temp folder (ComfyUI empties that folder when it starts)."""
    import folder_paths

    folder = folder_paths.get_temp_directory()
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, f"{PREFIX}_{uuid.uuid4().hex[:12]}.mp4")


def paste_of(original=None, crop_box=None, feather: int = 16):
    """The optional paste-back of Render Video -> float_models.app.render.PasteInto or None."""
    if original is None and crop_box is None:
        return None
    if original is None or crop_box is None:
        raise ValueError("paste-back needs both the original photo and the crop_box from FLOAT Crop Portrait; "
                         "connect both, or neither for the square portrait video")
    boxes = tuple(crop_box) if isinstance(crop_box, (tuple, list)) else (crop_box,)
    if not boxes or any(box is None for box in boxes):
        raise ValueError("no crop box: FLOAT Crop Portrait ran with 'no crop'. Choose 'face crop' there, or "
                         "disconnect original and crop_box")
    if original.shape[0] not in (1, len(boxes)):
        raise ValueError(f"give the photo that was cropped: {original.shape[0]} pictures for {len(boxes)} crop boxes")
    return PasteInto(tuple(original.float()), boxes, int(feather))


def mask_of(pipe, identity, motion, paste=None):
    """The MASK Render Video hands on: the feathered paste-back mask, one for all frames or one per
    frame where clips were pasted through different boxes; without paste-back the whole square frame."""
    if paste is None:
        side = pipe.pipeline.config.input_size
        return torch.ones(1, side, side)
    clips = max(identity.batch_size, motion.latents.shape[0])
    masks = [paste.mask(clip) for clip in range(clips)]
    if any(not torch.equal(mask, masks[0]) for mask in masks[1:]):  # checked before the render, not after
        _errors.check_masks_fit(clips * motion.num_frames, *paste.size)
    return convert.clip_masks(masks, motion.num_frames)


def render(pipe, identity, motion, audio=None, crf: int = DEFAULT_CRF, batch_size: int = 0, paste=None):
    """-> (VIDEO backed by a new MP4 in the temp folder, its file name)."""
    clips = max(identity.batch_size, motion.latents.shape[0])
    sound = None
    if audio is not None:  # each clip's speech cut to its frames, clips back to back like the frames
        joined = convert.audio_for_frames(audio, motion.num_frames, motion.fps, clips)
        sound = (joined["waveform"][0], joined["sample_rate"])
    path = temp_video_path()
    callback, preview = _comfy.progress_with_preview()  # the newest frame shows on the node as it renders
    render_video(pipe.ready("float"), identity, motion, path, motion.fps, audio=sound, crf=crf,
                 batch_size=batch_size or None, callback=callback, paste=paste, preview=preview)
    return InputImpl.VideoFromFile(path), os.path.basename(path)


def _output(video, name: str, *more) -> io.NodeOutput:
    return io.NodeOutput(video, *more, ui=ui.PreviewVideo([ui.SavedResult(name, "", io.FolderType.temp)]))


class RenderVideo(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitRenderVideo", "FLOAT Render Video",
            "Decodes the motion straight into a video file, a few frames at a time, with the speech: memory stays "
            "flat however long the clip (minutes or an hour). Use it instead of FLOAT Decode Motion + Create Video "
            "for long speech; connect Save Video to keep the result.",
            inputs=[sockets.pipe_in(), sockets.identity_in("From FLOAT Encode Portrait: whose face moves."),
                    sockets.motion_in(),
                    io.Audio.Input("audio", optional=True,
                                   tooltip="The speech, muxed into the video and cut to the frames (optional)."),
                    _crf_input(), _batch_input(),
                    io.Image.Input("original", optional=True,
                                   tooltip="Optional: the photo that went into FLOAT Crop Portrait; with crop_box "
                                           "the animated face is pasted back into it (full-size video)."),
                    sockets.CropBox.Input("crop_box", optional=True,
                                          tooltip="Optional: from FLOAT Crop Portrait (mode 'face crop'), with "
                                                  "original."),
                    io.Int.Input("feather", default=16, min=0, max=256,
                                 tooltip="Paste-back only: width in pixels of the soft blend at the crop's edges.")],
            outputs=[_video_output(),
                     sockets.output(io.Mask, "mask", "With paste-back: the feathered mask the face was pasted "
                                                     "through (1 = animated), one for all frames (one per frame if "
                                                     "clips differ); else the whole frame.")],
        )

    @classmethod
    def execute(cls, pipe, identity, motion, crf: int, batch_size: int, feather: int = 16, audio=None,
                original=None, crop_box=None) -> io.NodeOutput:
        paste = paste_of(original, crop_box, feather)
        mask = mask_of(pipe, identity, motion, paste)
        return _output(*render(pipe, identity, motion, audio, crf, batch_size, paste), mask)


class AnimateToVideo(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitAnimateToVideo", "FLOAT Animate to Video",
            "FLOAT Animate Portrait for long speech: the same steps, but the frames go straight into a video file "
            "with the speech, a few at a time, so memory stays flat at any length. Connect Save Video to keep it.",
            inputs=[sockets.pipe_in(),
                    *animate.portrait_and_speech_inputs(
                        "A photo with a face (or several, one clip each, played one after another).",
                        "The speech to lip-sync (any sample rate); muxed into the video."),
                    io.Boolean.Input("paste_back", default=False,
                                     tooltip="With face_crop: put the animated face back into the whole photo "
                                             "(full-size video) instead of the square portrait."),
                    *sockets.guidance_inputs(), _crf_input(), _batch_input(), *animate.timing_inputs(),
                    animate.emotion_override_in(), sockets.face_in()],
            outputs=[_video_output()],
        )

    @classmethod
    def execute(cls, pipe, image, audio, emotion: str, face_crop: bool, paste_back: bool, a_cfg_scale: float,
                e_cfg_scale: float, r_cfg_scale: float, nfe: int, solver: str, seed: int, crf: int,
                batch_size: int, output_fps: float = 25.0, offset_ms: float = 0.0,
                emotion_override=None, face: int = sockets.LARGEST_FACE) -> io.NodeOutput:
        if paste_back and not face_crop:
            raise ValueError("paste_back needs face_crop on (without a crop there is nothing to paste back); "
                             "turn face_crop on or paste_back off")
        identity, motion, boxes = animate.motion_for(pipe, image, audio, emotion, face_crop, a_cfg_scale,
                                                     e_cfg_scale, r_cfg_scale, nfe, solver, seed, emotion_override,
                                                     crop_box=True, fps=output_fps, offset_ms=offset_ms,
                                                     face=face)
        paste = paste_of(image, boxes) if paste_back else None
        return _output(*render(pipe, identity, motion, audio, crf, batch_size, paste))


NODES: list[type[io.ComfyNode]] = [RenderVideo, AnimateToVideo]
