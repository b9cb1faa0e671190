"""`python -m float_models` (or `floatkit`): FLOAT from the command line, outside ComfyUI.

    render    portrait + speech -> talking-portrait MP4 with the speech muxed in
    download  fetch the three model sets from HuggingFace into models/float
    convert   float.pth -> float.safetensors (config stored as metadata)
    check-device  the fast GPU path against its reference on this device, with frames/s
                  (rule-made weights, no model files; exit 1 when a fast path disagrees)

`render` runs the same library calls as the nodes, stage by stage (paper, Fig. 2): encode the
portrait (identity s_r, r_s), encode the speech (wa) and its emotion (we), sample the motion
latents by flow matching, decode them in batches, and stream the frames into the MP4 as they
come, so memory does not grow with the length of the clip.

Exit codes: 0 done; 2 bad input or option (one line on stderr); 3 model files missing or
unusable (with the steps to fix it); 4 download failed; 130 interrupted by Ctrl-C, 143 by SIGTERM,
129 by SIGHUP (no partial output either way).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import stat
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Callable, Sequence

ASSETS = Path(__file__).resolve().parents[2] / "assets"
EXIT_INPUT, EXIT_MODELS, EXIT_DOWNLOAD, EXIT_INTERRUPTED = 2, 3, 4, 130
VIDEO_SUFFIX = ".mp4"  # the container VideoWriter writes (H.264 + AAC)


class InputError(ValueError):
    """A bad command-line input: reported as one line, exit code 2."""


# ----------------------------------------------------------------------------- progress

class Progress:
    """A progress bar on stderr: tqdm when installed, else a plain one of our own.

    `bar(done, total)` is the `callback(done, total)` the library calls after each step.
    """

    def __init__(self, label: str, unit: str, quiet: bool = False):
        self.label, self.unit, self.quiet = label, unit, quiet
        self._tqdm = None
        self._last = -1.0
        self._start = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        if self.quiet:
            return
        if self._tqdm is None and self._last < 0:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._tqdm = tqdm(total=total, desc=self.label, unit=self.unit, file=sys.stderr, leave=True,
                                  dynamic_ncols=True)
        if self._tqdm is not None:
            self._tqdm.total = total
            self._tqdm.update(done - self._tqdm.n)
            self._last = done
            return
        self._plain(done, total)

    def _plain(self, done: int, total: int) -> None:
        # Redraw in place on a terminal; in a log, one line per tenth so logs stay short.
        tty = sys.stderr.isatty()
        fraction = done / total if total else 1.0
        if not tty and done < total and fraction - max(self._last, 0) / max(total, 1) < 0.1:
            return
        self._last = done
        width = 30
        fill = int(width * fraction)
        rate = done / max(time.perf_counter() - self._start, 1e-9)
        line = f"{self.label:<8} [{'#' * fill}{'.' * (width - fill)}] {done}/{total} {self.unit} ({rate:.1f}/s)"
        sys.stderr.write(("\r" + line) if tty else line + "\n")
        if tty and done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()


def _shown(path: Path) -> str:
    """A path printable on any stdout: a byte that is not UTF-8 in a name (kept by Python as a lone
    surrogate) is shown as \\xNN rather than failing the print once the work is done."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _say(message: str, quiet: bool = False) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- render

def _add_render(sub: argparse._SubParsersAction) -> None:
    from ..devices import DEVICES, PRECISIONS
    from ..types import EMOTIONS, FROM_SPEECH_CLI as FROM_SPEECH
    from ..sampling import SOLVERS

    p = sub.add_parser("render", help="portrait + speech -> talking-portrait MP4",
                       description="Animate a portrait with a speech clip and write an MP4 with the speech in it.")
    p.add_argument("--image", type=Path, default=ASSETS / "portrait.png",
                   help="portrait with one face (PNG/JPEG; default: the bundled assets/portrait.png)")
    p.add_argument("--audio", type=Path, default=ASSETS / "speech.wav",
                   help="speech (wav, mp3, flac, m4a, ...; default: the bundled assets/speech.wav)")
    p.add_argument("--crop", action=argparse.BooleanOptionalAction, default=True,
                   help="find the face and crop the official FLOAT square around it (default: on)")
    p.add_argument("--face", type=_face_choice, default="largest", metavar="largest|N",
                   help="with several faces: 'largest' (default, also -1) or N = the N-th face from the left, from 0")
    p.add_argument("--emotion", default=FROM_SPEECH, choices=(FROM_SPEECH, *EMOTIONS),
                   help="'speech' recognises it from the audio (official default); a label redirects it")
    p.add_argument("--intensity", type=float, default=1.0,
                   help="scales the emotion vector (label one-hot or speech probabilities); 1 = official")
    p.add_argument("--a-cfg", type=float, default=2.0, help="audio guidance scale (official 2)")
    p.add_argument("--e-cfg", type=float, default=1.0, help="emotion guidance scale (official 1)")
    p.add_argument("--r-cfg", type=float, default=1.0,
                   help="reference guidance scale (official 1; as officially, only switches guidance on)")
    p.add_argument("--nfe", type=int, default=10, help="ODE time points per window (10 = 9 Euler steps)")
    p.add_argument("--seed", type=int, default=15, help="noise seed (same motion on every device)")
    p.add_argument("--solver", default="euler", choices=SOLVERS, help="ODE solver (official: euler)")
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="networks' precision; auto = fp16 on CUDA GPUs with tensor cores (else bf16 or fp32) "
                        "with the motion sampler in fp32, fp32 on CPU/MPS; the CPU always runs fp32 "
                        "(README, Precision)")
    p.add_argument("--fps", type=float, default=25.0,
                   help="output frame rate, 8 to 60 (default 25, the model's): the motion is resampled in time")
    p.add_argument("--offset-ms", type=float, default=0.0,
                   help="sync offset in ms, rounded to frames: positive delays the motion, negative advances it; "
                        "the gap shows the portrait's own pose (default 0)")
    p.add_argument("--batch-size", type=int, default=None, help="frames decoded at once (default: by memory)")
    p.add_argument("--crf", type=int, default=18, help="H.264 quality, 0 (lossless) .. 51 (default 18)")
    _add_model_paths(p)
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="MP4 to write (default: output/<image>-<audio>-seed<seed>.mp4)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars, only the summary")
    p.set_defaults(run=render)


def _add_model_paths(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", type=Path, default=None,
                   help="model folder (default: $COMFYUI_MODELS/float if set, else ./models/float)")
    p.add_argument("--checkpoint", type=Path, default=None, help="FLOAT checkpoint (overrides --models)")
    p.add_argument("--audio-encoder", type=Path, default=None, help="wav2vec2-base-960h folder")
    p.add_argument("--emotion-encoder", type=Path, default=None, help="speech-emotion classifier folder")


def _check_render_args(args: argparse.Namespace) -> None:
    """Everything that can be checked before a model loads or a render starts."""
    from ..edit.frame_rate import OFFSET_MS_RANGE, check_output_fps
    from ..settings import INTENSITY_RANGE, SettingError, check_number, check_sampling

    for name, path in (("--image", args.image), ("--audio", args.audio)):
        hint = ("; the bundled example inputs (assets/) are only in a source checkout: give your own " + name
                if path.parent == ASSETS else "")
        _usable_file(name, path, hint)
    if args.checkpoint is not None:
        _usable_file("--checkpoint", args.checkpoint, "; give float.pth or float.safetensors, or use --models")
    for name, folder in (("--audio-encoder", args.audio_encoder), ("--emotion-encoder", args.emotion_encoder)):
        if folder is not None and not folder.is_dir():
            raise InputError(f"{name} {folder}: {_why_unusable(folder, folder=True)}")
    if args.nfe < 2:
        raise InputError(f"--nfe {args.nfe}: needs at least 2 time points (one ODE step)")
    if args.batch_size is not None and args.batch_size < 1:
        raise InputError(f"--batch-size {args.batch_size}: must be at least 1")
    if not 0 <= args.crf <= 51:
        raise InputError(f"--crf {args.crf}: must be between 0 and 51")
    if args.intensity < 0:
        raise InputError(f"--intensity {args.intensity}: must not be negative")
    if args.seed < 0:
        raise InputError(f"--seed {args.seed}: must not be negative")
    try:
        check_number("--intensity", args.intensity, *INTENSITY_RANGE)
        check_output_fps(args.fps, "--fps")
        check_number("--offset-ms", args.offset_ms, *OFFSET_MS_RANGE)
        check_sampling(args.a_cfg, args.e_cfg, args.r_cfg, args.nfe, args.seed,
                       ("--a-cfg", "--e-cfg", "--r-cfg", "--nfe", "--seed"))
    except SettingError as err:
        raise InputError(str(err)) from None
    args.output = args.output or _default_output(args)
    _check_output(args.output, VIDEO_SUFFIX, inputs=[args.image, args.audio, args.checkpoint])


def _usable_file(name: str, path: Path, hint: str = "") -> None:
    """Refuse a path that is not a readable file, naming the flag, the path and the reason."""
    if not path.is_file():
        raise InputError(f"{name} {path}: {_why_unusable(path)}{hint}")
    try:
        with open(path, "rb"):
            pass
    except OSError as err:
        raise InputError(f"{name} {path}: cannot be read ({err.strerror or err}){hint}") from None


def _why_unusable(path: Path, folder: bool = False) -> str:
    try:
        mode = path.stat().st_mode
    except OSError as err:  # the reason the system gives: no such file, symlink loop, permission ...
        return {errno.ENOENT: f"no such {'folder' if folder else 'file'}",
                errno.ELOOP: "a symbolic link that loops (it never reaches a file)"}.get(
            err.errno, f"cannot be used ({err.strerror or err})")
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    return "is not a folder" if folder else "is not a regular file"


def _check_output(output: Path, suffix: str, inputs: Sequence[Path | None] = ()) -> None:
    """Refuse, before any work, an output that could only fail at the end or would destroy an input:
    the wrong container, an existing folder, a pipe or device, an unwritable folder, or the same file
    as an input."""
    if output.is_dir():
        raise InputError(f"-o {output}: is a folder; give a file name inside it, e.g. {output / ('clip' + suffix)}")
    if output.suffix.lower() != suffix:
        raise InputError(f"-o {output}: FloatKit writes {suffix} files here; give the output a {suffix} name")
    for source in inputs:
        if source is not None and _same_file(output, source):
            raise InputError(f"-o {output}: is the input {source}; writing would destroy it: choose another name")
    from ..partfiles import OutputPathError, nearest_existing, output_target

    try:
        target = output_target(output)  # a link's target is what gets written; a pipe or device is refused
    except OutputPathError as err:
        raise InputError(f"-o {err}") from None
    folder = nearest_existing(target.parent)  # the folder is created later: test where it will go
    if not folder.is_dir():
        raise InputError(f"-o {output}: {folder} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise InputError(f"-o {output}: cannot write in {folder} ({err.strerror or err}); "
                         "choose a folder you can write to") from None


def _same_file(a: Path, b: Path) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links: same inode
    except OSError:
        return False


def _device_and_dtype(device: str, precision: str, quiet: bool = False):
    """The library's device and precision rule (`float_models.devices`); a bad choice exits 2."""
    import logging

    from ..devices import choose_device, choose_dtype

    # The library logs one line when a precision is not used on this device; --quiet hides it.
    logging.getLogger("float_models").setLevel(logging.ERROR if quiet else logging.WARNING)
    try:
        dev = choose_device(device)
    except ValueError as err:
        raise InputError(f"--device {device}: {err}") from None
    return dev, choose_dtype(precision, dev)


def _default_output(args: argparse.Namespace) -> Path:
    return Path("output") / f"{args.image.stem}-{args.audio.stem}-seed{args.seed}.mp4"


class _Timer:
    def __init__(self):
        self.stages: dict[str, float] = {}
        self._start = time.perf_counter()

    def stage(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.stages[name] = self.stages.get(name, 0.0) + now - since
        return now

    @property
    def total(self) -> float:
        return time.perf_counter() - self._start


def render(args: argparse.Namespace) -> int:
    _check_render_args(args)
    import torch

    from .. import load_pipeline
    from ..edit.frame_rate import retime
    from ..media import emotion_condition, uint8_to_portrait
    from ..types import is_from_speech
    from .download import locate_models
    from .video import mix_to_mono, read_audio

    timer = _Timer()
    from_speech = is_from_speech(args.emotion)
    # Missing models are reported before the device is touched: starting CUDA can be slow or fail on a
    # busy shared GPU, and that must not hide the one-line models message.
    paths = locate_models(args.models, args.checkpoint, args.audio_encoder, args.emotion_encoder,
                          need_emotion=from_speech)
    device, dtype = _device_and_dtype(args.device, args.precision, args.quiet)

    t = time.perf_counter()
    image = _read_portrait(args.image)
    if args.crop:
        image = _crop(image, args.image, args.quiet, args.face)
    waveform, rate = read_audio(args.audio)
    t = timer.stage("read inputs", t)

    _say(f"loading FLOAT on {device} ({str(dtype).replace('torch.', '')})\n{paths.describe()}", args.quiet)
    pipe = load_pipeline(paths.checkpoint, paths.audio_encoder, paths.emotion_encoder if from_speech else None,
                         device=device, dtype=dtype, with_emotion=from_speech,
                         motion_dtype=None if args.precision == "auto" else dtype)
    t = timer.stage("load models", t)

    speech = torch.from_numpy(mix_to_mono(waveform))[None]
    identity = pipe.encode_image(uint8_to_portrait(image))
    audio = pipe.encode_audio(speech, rate)
    emotion = emotion_condition(pipe, args.emotion, speech, rate, args.intensity)
    t = timer.stage("encode", t)
    _check_video_space(args, audio, pipe.config.input_size, waveform, rate)

    bar = Progress("sample", "steps", args.quiet)
    motion = pipe.sample_motion(identity, audio, emotion, a_cfg_scale=args.a_cfg, r_cfg_scale=args.r_cfg,
                                e_cfg_scale=args.e_cfg, nfe=args.nfe, seed=args.seed, solver=args.solver,
                                callback=bar)
    bar.close()
    motion = retime(motion, args.fps, args.offset_ms, seconds=waveform.shape[-1] / rate)
    t = timer.stage("sample motion", t)

    _write_video(args, pipe, identity, motion, (waveform, rate))
    timer.stage("decode + write", t)
    _summary(args.output, motion.num_frames, pipe.config, waveform, rate, timer, motion.fps)
    return 0


def _check_video_space(args: argparse.Namespace, audio, side: int, waveform, rate: int) -> None:
    """Refuse, before sampling and decoding, a render whose video surely will not fit on the disk
    (a generous estimate of the MP4's size against the free space; OSError, reported in one line).
    The frames are counted at the output rate, as `retime` will make them."""
    from ..edit.frame_rate import resampled_length
    from .video import check_video_space

    seconds = waveform.shape[-1] / rate
    frames = (audio.num_frames if float(args.fps) == float(audio.fps)
              else resampled_length(audio.num_frames, audio.fps, args.fps, seconds))
    check_video_space(args.output, frames, side, side, args.crf, seconds, waveform.shape[0])


def _write_video(args: argparse.Namespace, pipe, identity, motion, audio: tuple) -> None:
    """Decode in batches and stream the frames into the MP4 (which appears whole or not at all)."""
    from .video import VideoWriter, frames_to_uint8

    frames_total, side = motion.num_frames, pipe.config.input_size
    args.output.parent.mkdir(parents=True, exist_ok=True)
    bar = Progress("decode", "frames", args.quiet)
    with VideoWriter(args.output, motion.fps, side, side, audio=audio, crf=args.crf) as video:
        for _, start, frames in pipe.decode_batches(identity, motion, args.batch_size):
            video.write(frames_to_uint8(frames))
            bar(start + frames.shape[0], frames_total)
    bar.close()


def _summary(output: Path, frames_total: int, config, waveform, rate: int, timer: "_Timer",
             fps: float | None = None) -> None:
    side, fps = config.input_size, fps or config.fps
    times = " | ".join(f"{k} {v:.1f} s" for k, v in timer.stages.items())
    print(f"wrote {_shown(output.resolve())}\n"
          f"  {frames_total} frames of {side}x{side} at {fps:g} fps = {frames_total / fps:.2f} s of video "
          f"(speech {waveform.shape[-1] / rate:.2f} s, {waveform.shape[0]} channel(s) at {rate} Hz)\n"
          f"  time: {times} | total {timer.total:.1f} s", flush=True)


def _read_portrait(path: Path):
    """The picture, with the reader's warnings (a truncated file) shown as one line each."""
    from .video import TruncatedImageWarning, read_image

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TruncatedImageWarning)
        image = read_image(path)
    for warning in caught:
        _say(f"warning: {warning.message}")
    return image


def _face_choice(text: str) -> int | str:
    """--face: 'largest' (or -1, as the nodes' widget says it) or a face number counted from the left."""
    if text.strip().lower() in ("largest", "-1"):
        return "largest"
    try:
        number = int(text)
    except ValueError:
        number = -2
    if number < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give 'largest' or a face number 0, 1, 2 ... from the left")
    return number


def _crop(image, path: Path, quiet: bool, face: int | str = "largest"):
    from .face_crop import DetectorUnavailableError, FaceIndexError, NoFaceError, crop_portrait

    try:
        cropped, _, info = crop_portrait(image, face_index=face)
    except FaceIndexError as err:
        raise InputError(f"--face {err.asked}: {err.found} face(s) found in {path}, numbered 0 to {err.found - 1} "
                         "from the left; choose one of those, or --face largest") from None
    except NoFaceError as err:
        raise InputError(f"--image {path}: {err} (or use --no-crop)") from None
    except DetectorUnavailableError as err:
        raise InputError(f"--crop: the face detector cannot run here ({err}); use --no-crop") from None
    if info.message:
        more = " --face N picks another." if info.faces_found > 1 and face == "largest" else ""
        _say(f"face crop: {info.message}{more}", quiet)
    return cropped


# ----------------------------------------------------------------------------- download / convert

def _add_download(sub: argparse._SubParsersAction) -> None:
    from .download import PARTS

    p = sub.add_parser("download", help="fetch the model files from HuggingFace",
                       description="Download FLOAT's three model sets (only the files FloatKit reads) into "
                                   "ComfyUI's models/float, then check that they load.")
    p.add_argument("parts", nargs="*", metavar="PART",
                   help=f"which sets: {', '.join(PARTS)} (default: all three)")
    p.add_argument("--to", type=Path, default=None,
                   help="destination (default: $COMFYUI_MODELS/float if set, else ./models/float)")
    p.add_argument("--source", choices=("mirror", "original"), default="mirror",
                   help="mirror: all from yuvraj108c/float; original: the towers from facebook/ and r-f/")
    p.add_argument("--convert", action="store_true", help="also write float.safetensors next to float.pth")
    p.add_argument("--no-verify", action="store_true", help="skip loading the files to check them")
    p.set_defaults(run=download)


def download(args: argparse.Namespace) -> int:
    from .download import PARTS, default_models_dir, download_models

    dest = args.to = args.to or default_models_dir()
    _check_folder("--to", dest)
    parts = args.parts or list(PARTS)
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise InputError(f"unknown model set {', '.join(unknown)}: choose among {', '.join(PARTS)}")

    started = time.perf_counter()
    fetched = download_models(dest, parts, source=args.source, progress=_DownloadReport(),
                              convert=args.convert, verify=not args.no_verify)
    state = f"downloaded {len(fetched)} file(s)" if fetched else "all files were already there"
    print(f"models ready in {_shown(Path(dest).resolve())} ({state}, {time.perf_counter() - started:.1f} s)",
          flush=True)
    return 0


class _DownloadReport:
    """One line per file ("[2/7] repo/path (378 MB)") and one bar of the megabytes of all files."""

    def __init__(self) -> None:
        self._said = ""
        self._bar: Progress | None = None

    def __call__(self, state) -> None:  # state: download.DownloadProgress, after every read
        if state.current != self._said:
            if state.files_done == state.files_total and self._bar is not None:
                self._bar.close()
                self._bar = None
            _say(f"[{state.files_done}/{state.files_total}] {state.current}")
            self._said = state.current
        if state.bytes_total and state.files_done < state.files_total:
            self._bar = self._bar or Progress("download", "MB")
            self._bar(state.bytes_done // 1_000_000, max(1, state.bytes_total // 1_000_000))


def _check_folder(flag: str, folder: Path) -> None:
    """A folder to create or fill: it, or its nearest existing parent, must be a folder."""
    from ..partfiles import nearest_existing

    here = nearest_existing(folder)
    if here.exists() and not here.is_dir():
        what = "is a file" if here == folder else f"is inside {here}, which is a file"
        raise InputError(f"{flag} {folder}: {what}, not a folder; give the folder to put the models in, "
                         f"e.g. {folder.parent / 'float'}")


def _add_convert(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="float.pth -> float.safetensors",
                       description="Rewrite a FLOAT checkpoint as .safetensors (loaded with weights_only, every "
                                   "tensor unchanged, the resolved config stored as metadata 'float_config'). "
                                   "For your own use: the official weights' licence forbids sharing copies.")
    p.add_argument("source", type=Path, help="float.pth (or any FLOAT checkpoint)")
    p.add_argument("-o", "--output", type=Path, default=None, help="default: the source with .safetensors")
    p.set_defaults(run=convert)


def convert(args: argparse.Namespace) -> int:
    from .download import convert_checkpoint

    if not args.source.is_file():
        raise InputError(f"{args.source}: no such file")
    target = args.output = args.output or args.source.with_suffix(".safetensors")
    if target.resolve() == args.source.resolve():
        raise InputError(f"-o {target}: would overwrite the source; choose another name")
    _check_output(target, ".safetensors", inputs=[args.source])
    started = time.perf_counter()
    written = convert_checkpoint(args.source, target)
    size = written.stat().st_size / 1e6
    print(f"wrote {_shown(written.resolve())} ({size:.1f} MB, {time.perf_counter() - started:.1f} s)", flush=True)
    return 0


# ----------------------------------------------------------------------------- entry point

def _add_check_device(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-device", help="check the fast GPU path against its reference on this device",
                       description="On rule-made weights made on the fly (no model file needed): CUDA graph replay "
                                   "against eager sampling, the fast decoder formulation against the official one, "
                                   "and the chosen precision against fp32, with frames/s; under a minute on a GPU. "
                                   "Exit status 1 when a fast path disagrees (the table says how to turn it off).")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps (default auto)")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "fp16", "bf16"))
    p.add_argument("--quick", action="store_true", help="a 64 px model and 1 s of speech (CI and smoke runs)")
    p.add_argument("--seconds", type=float, default=None, help="speech to sample, in seconds (default 10; quick 1)")
    p.add_argument("--decode-frames", type=int, default=None, help="frames to decode (default 64 on CUDA, else 2)")
    p.add_argument("--json", type=Path, default=None, help="also write the result as JSON here")
    p.set_defaults(run=check_device)


def check_device(args: argparse.Namespace) -> int:
    from . import check_device as check

    try:
        return check.main(args.device, args.precision, args.quick, args.seconds, args.decode_frames,
                          str(args.json) if args.json else None)
    except (ValueError, RuntimeError) as err:
        if "device" not in str(err).lower():
            raise
        raise InputError(f"--device {args.device}: {err}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m float_models",
                                     description="FLOAT talking portraits (FloatKit) from the command line.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_render(sub)
    _add_download(sub)
    _add_convert(sub)
    _add_check_device(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (errors are reported without a traceback)."""
    args = build_parser().parse_args(argv)
    with _signals_interrupt():
        return _run(args.run, args)


class _Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled like Ctrl-C: the writers remove their temporary files."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _signals_interrupt():
    """Turn SIGTERM and SIGHUP into an interruption for the duration of the command (main thread only)."""
    def stop(signum, frame):  # noqa: ANN001 - signal handler signature
        raise _Stopped(signum)

    wanted = [getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, stop) for sig in wanted}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    from ..nets.checkpoint import CheckpointError
    from .download import DownloadError, ModelsMissing
    from ..media import AudioInputError
    from .video import MediaError

    try:
        return command(args)
    except (InputError, MediaError, AudioInputError) as err:
        _say(f"error: {err}")
        return EXIT_INPUT
    except ModelsMissing as err:
        _say(f"error: {err}")
        return EXIT_MODELS
    except CheckpointError as err:
        _say(f"error: a model file cannot be used: {err}")
        return EXIT_MODELS
    except DownloadError as err:
        _say(f"error: {err}")
        return EXIT_DOWNLOAD
    except OSError as err:  # the disk, not the inputs: full, read-only, over quota, gone
        _say(f"error: {_os_error_line(err, args)}")
        return EXIT_DOWNLOAD if command is download else EXIT_INPUT
    except KeyboardInterrupt as err:
        _say("interrupted: nothing was written")
        return 128 + err.signum if isinstance(err, _Stopped) else EXIT_INTERRUPTED


_DISK_ADVICE = {errno.ENOSPC: "free some space or choose another folder",
                errno.EDQUOT: "free some space or choose another folder",
                errno.EROFS: "the file system is read-only: choose another folder",
                errno.EACCES: "choose a folder you can write to", errno.EPERM: "choose a folder you can write to"}


def _os_error_line(err: OSError, args: argparse.Namespace) -> str:
    """A file-system error as one line naming the output option (or the file), what happened and what
    to do. The output's own errors come from its folder (the hidden part file there) or name no file."""
    flag, target = ("--to", args.to) if hasattr(args, "to") else ("-o", getattr(args, "output", None))
    reason = err.strerror or str(err) or type(err).__name__
    advice = _DISK_ADVICE.get(err.errno, "check the disk and the folder, then run this again")
    if target is None or not (err.filename is None or _within(err.filename, target, flag == "--to")):
        return f"{err.filename or 'a file'}: {reason}: {advice}"
    written = "; nothing was written" if flag == "-o" else ""
    return f"{flag} {target}: {reason}{written}: {advice}"


def _within(path, target: Path, is_folder: bool) -> bool:
    folder = os.path.realpath(target) if is_folder else os.path.dirname(os.path.realpath(target))
    return os.path.commonpath([os.path.realpath(path), folder]) == folder


if __name__ == "__main__":
    sys.exit(main())
