"""`python -m float_models` (or `floatkit`): FLOAT from the command line, outside ComfyUI.

    render    portrait + speech -> talking-portrait MP4 with the speech muxed in
    download  fetch the three model sets from HuggingFace into models/float
    convert   float.pth -> float.safetensors (config stored as metadata)

`render` runs the same library calls as the nodes, stage by stage (paper, Fig. 2): encode the
portrait (identity s_r, r_s), encode the speech (wa) and its emotion (we), sample the motion
latents by flow matching, decode them in batches, and stream the frames into the MP4 as they
come, so memory does not grow with the length of the clip.

Exit codes: 0 done; 2 bad input or option (one line on stderr); 3 model files missing or
unusable (with the steps to fix it); 4 download failed; 130 interrupted (no partial output).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXIT_INPUT, EXIT_MODELS, EXIT_DOWNLOAD, EXIT_INTERRUPTED = 2, 3, 4, 130
FROM_SPEECH = "speech"


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


def _say(message: str, quiet: bool = False) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- render

def _add_render(sub: argparse._SubParsersAction) -> None:
    from ..nets.emotion_encoder import EMOTIONS
    from ..sampling import SOLVERS

    p = sub.add_parser("render", help="portrait + speech -> talking-portrait MP4",
                       description="Animate a portrait with a speech clip and write an MP4 with the speech in it.")
    p.add_argument("--image", type=Path, default=EXAMPLES / "portrait.png",
                   help="portrait with one face (PNG/JPEG; default: the bundled examples/portrait.png)")
    p.add_argument("--audio", type=Path, default=EXAMPLES / "speech.wav",
                   help="speech (wav, mp3, flac, m4a, ...; default: the bundled examples/speech.wav)")
    p.add_argument("--crop", action=argparse.BooleanOptionalAction, default=True,
                   help="find the face and crop the official FLOAT square around it (default: on)")
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
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "fp16", "bf16"),
                   help="weights' precision; auto = fp32 on CPU/MPS, bf16 on GPUs that support it")
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
    for name, path in (("--image", args.image), ("--audio", args.audio)):
        if not path.is_file():
            hint = ("; the bundled examples are only in a source checkout: give your own " + name
                    if path.parent == EXAMPLES else "")
            raise InputError(f"{name} {path}: no such file{hint}")
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


def _device_and_dtype(device: str, precision: str):
    import torch

    from ..pipeline import default_device

    if device == "auto":
        dev = default_device()
    elif device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: PyTorch sees no CUDA GPU here; use --device auto or cpu")
    elif device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InputError("--device mps: Apple MPS is not available here; use --device auto or cpu")
    else:
        dev = torch.device(device)
    if dev.type == "cpu":
        if precision in ("fp16", "bf16"):
            _say(f"note: --precision {precision} is not used on the CPU (slow or unsupported there); using fp32")
        return dev, torch.float32
    if precision == "auto":
        bf16 = dev.type == "cuda" and torch.cuda.is_bf16_supported()
        return dev, torch.bfloat16 if bf16 else torch.float32
    return dev, {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


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
    import numpy as np
    import torch

    from .. import load_pipeline
    from .download import locate_models
    from ..nets.emotion_encoder import emotion_label
    from .video import VideoWriter, frames_to_uint8, mix_to_mono, read_audio, read_image

    timer = _Timer()
    # Missing models are reported before the device is touched: starting CUDA can be slow or fail on a
    # busy shared GPU, and that must not hide the one-line models message.
    paths = locate_models(args.models, args.checkpoint, args.audio_encoder, args.emotion_encoder,
                          need_emotion=args.emotion == FROM_SPEECH)
    device, dtype = _device_and_dtype(args.device, args.precision)
    output = args.output or _default_output(args)

    t = time.perf_counter()
    image = read_image(args.image)
    if args.crop:
        image = _crop(image, args.image, args.quiet)
    waveform, rate = read_audio(args.audio)
    t = timer.stage("read inputs", t)

    _say(f"loading FLOAT on {device} ({str(dtype).replace('torch.', '')})\n{paths.describe()}", args.quiet)
    pipe = load_pipeline(paths.checkpoint, paths.audio_encoder,
                         paths.emotion_encoder if args.emotion == FROM_SPEECH else None,
                         device=device, dtype=dtype)
    t = timer.stage("load models", t)

    portrait = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    portrait = (portrait / 255 - 0.5) / 0.5  # the official normalisation to [-1, 1]
    speech = torch.from_numpy(mix_to_mono(waveform))[None]
    identity = pipe.encode_image(portrait)
    audio = pipe.encode_audio(speech, rate)
    if args.emotion == FROM_SPEECH:
        emotion = pipe.encode_emotion(speech, rate).cpu() * args.intensity
    else:
        emotion = emotion_label(args.emotion, args.intensity)
    t = timer.stage("encode", t)

    bar = Progress("sample", "steps", args.quiet)
    motion = pipe.sample_motion(identity, audio, emotion, a_cfg_scale=args.a_cfg, r_cfg_scale=args.r_cfg,
                                e_cfg_scale=args.e_cfg, nfe=args.nfe, seed=args.seed, solver=args.solver,
                                callback=bar)
    bar.close()
    t = timer.stage("sample motion", t)

    frames_total, side, fps = motion.shape[1], pipe.config.input_size, pipe.config.fps
    output.parent.mkdir(parents=True, exist_ok=True)
    bar = Progress("decode", "frames", args.quiet)
    with VideoWriter(output, fps, side, side, audio=(waveform, rate), crf=args.crf) as video:
        for _, start, frames in pipe.decode_batches(identity, motion, args.batch_size):
            video.write(frames_to_uint8(frames))
            bar(start + frames.shape[0], frames_total)
    bar.close()
    timer.stage("decode + write", t)

    seconds = frames_total / fps
    times = " | ".join(f"{k} {v:.1f} s" for k, v in timer.stages.items())
    print(f"wrote {output.resolve()}\n"
          f"  {frames_total} frames of {side}x{side} at {fps:g} fps = {seconds:.2f} s of video "
          f"(speech {waveform.shape[-1] / rate:.2f} s, {np.asarray(waveform).shape[0]} channel(s) at {rate} Hz)\n"
          f"  time: {times} | total {timer.total:.1f} s", flush=True)
    return 0


def _crop(image, path: Path, quiet: bool):
    from .face_crop import DetectorUnavailableError, NoFaceError, crop_portrait

    try:
        cropped, _, info = crop_portrait(image)
    except NoFaceError as err:
        raise InputError(f"--image {path}: {err} (or use --no-crop)") from None
    except DetectorUnavailableError as err:
        raise InputError(f"--crop: the face detector cannot run here ({err}); use --no-crop") from None
    if info.message:
        _say(f"face crop: {info.message}", quiet)
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

    dest = args.to or default_models_dir()
    parts = args.parts or list(PARTS)
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise InputError(f"unknown model set {', '.join(unknown)}: choose among {', '.join(PARTS)}")

    def report(done: int, total: int, what: str) -> None:
        _say(f"[{done}/{total}] {what}")

    started = time.perf_counter()
    fetched = download_models(dest, parts, source=args.source,
                              progress=report, convert=args.convert, verify=not args.no_verify)
    state = f"downloaded {len(fetched)} file(s)" if fetched else "all files were already there"
    print(f"models ready in {Path(dest).resolve()} ({state}, {time.perf_counter() - started:.1f} s)", flush=True)
    return 0


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
    target = args.output or args.source.with_suffix(".safetensors")
    if target.resolve() == args.source.resolve():
        raise InputError(f"-o {target}: would overwrite the source; choose another name")
    started = time.perf_counter()
    written = convert_checkpoint(args.source, target)
    size = written.stat().st_size / 1e6
    print(f"wrote {written.resolve()} ({size:.1f} MB, {time.perf_counter() - started:.1f} s)", flush=True)
    return 0


# ----------------------------------------------------------------------------- entry point

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m float_models",
                                     description="FLOAT talking portraits (FloatKit) from the command line.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_render(sub)
    _add_download(sub)
    _add_convert(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (errors are reported without a traceback)."""
    args = build_parser().parse_args(argv)
    return _run(args.run, args)


def _run(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    from ..nets.checkpoint import CheckpointError
    from .download import DownloadError, ModelsMissing
    from ..media import AudioInputError
    from .video import MediaError

    try:
        return command(args)
    except InputError as err:
        _say(f"error: {err}")
        return EXIT_INPUT
    except (MediaError, AudioInputError) as err:
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
    except KeyboardInterrupt:
        _say("interrupted: nothing was written")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
