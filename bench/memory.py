"""Peak memory against audio length: the encoders whole-clip vs windowed, and decode outputs.

    python bench/memory.py                 # 10 s, 60 s, 600 s (minutes of CPU)
    python bench/memory.py --quick         # smoke run: 2 s and 5 s (3 s windows), 64 px decode
    python bench/memory.py --kinds stream --seconds 20 120 --decode-frames 16   # the streaming node path

Every measurement runs in a fresh subprocess (Linux): the model is built, the peak-RSS
counter is reset (/proc/self/clear_refs), the step runs, and the rise of the peak over the
resident size before the step is reported. Whole-clip encodings whose attention matrices
alone would not fit are not run: their attention size is computed instead.
Decoding: the streaming path holds one batch at a time, so its peak is the measured peak of
one batch at any length; keeping all frames adds T x 3 x S x S x 4 bytes (computed).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import full_size  # noqa: E402
from float_models import Motion  # noqa: E402
from float_models.pipeline import WINDOW_SECONDS  # noqa: E402

RUN_LIMIT_BYTES = 6 * 2 ** 30  # whole-clip attention above this is computed, not run
TOWERS = {"audio": (25.0, 12, 12), "emotion": (50.0, 16, 24)}  # tokens/s, heads, layers


def attention_bytes(kind: str, seconds: float) -> int:
    """One layer's attention probabilities (heads x T x T float32), the part that grows as T^2."""
    rate, heads, _ = TOWERS[kind]
    tokens = int(rate * seconds)
    return heads * tokens * tokens * 4


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _measure(step) -> int:
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak resident size
    before = _status("VmRSS")
    step()
    return _status("VmHWM") - before


def one(kind: str, seconds: float, mode: str, quick: bool) -> dict:
    """Runs in the child process."""
    torch.set_num_threads(2)
    speech = torch.randn(1, int(16000 * seconds)) * 0.1
    window = None if mode == "whole" else 3.0 if quick else None
    config = full_size.SMALL if quick else None
    if kind == "stream":
        return stream(seconds, None if mode == "all" else int(mode), quick)
    if kind == "decode":
        pipe = full_size.FloatPipeline(full_size.float_model(config), None, None)
        side = pipe.config.input_size
        identity = pipe.encode_image(torch.rand(1, 3, side, side) * 2 - 1)
        batch = int(mode)
        motion = Motion(identity.motion[:, None].expand(1, batch, -1).contiguous(), 25.0, identity.motion)
        peak = _measure(lambda: list(pipe.decode_batches(identity, motion, batch)))
        return {"kind": kind, "batch": batch, "side": side, "peak_bytes": peak}
    if kind == "audio":
        pipe = full_size.FloatPipeline(full_size.float_model(config), full_size.audio_tower(), None)
        window = window or (WINDOW_SECONDS if mode == "windowed" else None)
        peak = _measure(lambda: pipe.encode_audio(speech, 16000, window_seconds=window))
    else:
        pipe = full_size.FloatPipeline(full_size.float_model(config), None, full_size.emotion_tower())
        window = window or (WINDOW_SECONDS if mode == "windowed" else None)
        peak = _measure(lambda: pipe.encode_emotion(speech, 16000, window_seconds=window))
    return {"kind": kind, "seconds": seconds, "mode": mode, "peak_bytes": peak}


def stream(seconds: float, decode_frames: int | None, quick: bool) -> dict:
    """The streaming node path (FLOAT Render Video / Animate to Video call `render_video`): motion of
    `seconds` x 25 frames rendered into an MP4 with `seconds` of speech muxed, batch 1 on the CPU, auto
    on CUDA. decode_frames: run the real decoder for the first N frames only and repeat its last batch
    for the rest (a full-size CPU decode takes ~0.6 s per frame); the writer, the speech and the
    motion still span the whole length, and the decoder's own peak is per batch, not per length."""
    import tempfile

    from float_models.app.render import render_video

    torch.set_num_threads(2)
    cuda = torch.cuda.is_available()
    pipe = full_size.FloatPipeline(full_size.float_model(full_size.SMALL if quick else None), None, None)
    if cuda:
        pipe.model.cuda()
    side, fps = pipe.config.input_size, pipe.config.fps
    identity = pipe.encode_image(torch.rand(1, 3, side, side) * 2 - 1)
    frames = math.ceil(seconds * fps)
    latents = identity.motion.cpu()[:, None] + 0.05 * torch.randn(1, frames, identity.motion.shape[-1])
    motion = Motion(latents, fps, identity.motion.cpu())
    speech = (torch.randn(1, int(16000 * seconds)) * 0.1).numpy()
    if decode_frames is not None:
        real = pipe.decode_batches
        pipe.decode_batches = lambda ident, lat, size: _repeat_after(real(ident, lat, size), decode_frames,
                                                                     lat.num_frames)
    with tempfile.TemporaryDirectory() as folder:
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        peak = _measure(lambda: render_video(pipe, identity, motion, Path(folder) / "x.mp4", fps,
                                             audio=(speech, 16000), batch_size=None if cuda else 1))
        gpu = torch.cuda.max_memory_allocated() if cuda else None
    return {"kind": "stream", "seconds": seconds, "frames": frames, "decoded": decode_frames or frames,
            "peak_bytes": peak, "process_peak_bytes": _status("VmHWM"), "gpu_peak_bytes": gpu, "side": side}


def _repeat_after(batches, real_frames: int, total: int):
    """The real decoder's batches up to `real_frames`, then its last batch again up to `total`."""
    last, start = None, 0
    for clip, start, frames in batches:
        last = frames
        yield clip, start, frames
        if start + frames.shape[0] >= real_frames:
            break
    start += last.shape[0]
    while start < total:
        piece = last[:total - start]
        yield 0, start, piece
        start += piece.shape[0]


def run_child(kind: str, seconds: float, mode: str, quick: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, str(seconds), mode] + (["--quick"] if quick else [])
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def gib(n: float) -> str:
    return f"{n / 2 ** 30:.2f} GiB"


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--seconds", type=float, nargs="*", help="audio lengths (default 10 60 600)")
    parser.add_argument("--kinds", nargs="*", default=None, help="audio, emotion, decode (default: all)")
    parser.add_argument("--decode-frames", type=int, default=None,
                        help="stream: decode only the first N frames with the real decoder (default: all)")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "SECONDS", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(one(args.child[0], float(args.child[1]), args.child[2], args.quick)))
        return []
    lengths = args.seconds or ([2.0, 5.0] if args.quick else [10.0, 60.0, 600.0])
    kinds = args.kinds or (["audio", "decode", "stream"] if args.quick else ["audio", "emotion", "decode", "stream"])
    rows = []
    print("encoder   seconds  whole clip                         windowed")
    for kind in [k for k in kinds if k not in ("decode", "stream")]:
        for seconds in lengths:
            attention = attention_bytes(kind, seconds)
            if attention * 3 > RUN_LIMIT_BYTES:
                whole = f"not run: attention {gib(attention)} per layer"
            else:
                whole = gib(run_child(kind, seconds, "whole", args.quick)["peak_bytes"])
            windowed = gib(run_child(kind, seconds, "windowed", args.quick)["peak_bytes"])
            rows.append({"kind": kind, "seconds": seconds, "whole": whole, "windowed": windowed})
            print(f"{kind:9} {seconds:7.0f}  {whole:34} {windowed}", flush=True)
    batches = ([1, 2] if args.quick else [1, 2, 4]) if "decode" in kinds else []
    print("\ndecode (peak of one batch, measured; all-frames output computed)")
    for batch in batches:
        got = run_child("decode", 0, str(batch), args.quick)
        frame_bytes = 3 * got["side"] ** 2 * 4
        per_frame = got["peak_bytes"] / batch
        line = {"batch": batch, "batch_peak": got["peak_bytes"], "per_frame": per_frame}
        rows.append(line)
        outs = ", ".join(f"{s:.0f} s: all frames {gib(math.ceil(s * 25) * frame_bytes + got['peak_bytes'])}"
                         for s in lengths)
        print(f"batch {batch}: streaming {gib(got['peak_bytes'])} at any length "
              f"({per_frame / 2 ** 20:.0f} MiB per frame); {outs}", flush=True)
    if "stream" in kinds:
        rows += stream_rows(lengths, args.decode_frames, args.quick)
    return rows


def stream_rows(lengths: list[float], decode_frames: int | None, quick: bool) -> list[dict]:
    """The streaming node path against speech length, each in a fresh process."""
    mode = "all" if decode_frames is None else str(decode_frames)
    print("\nstreaming node path (render_video into an MP4 with the speech; peak RSS rise during the render)")
    rows = []
    for seconds in lengths:
        got = run_child("stream", seconds, mode, quick)
        gpu = "not measured (no CUDA)" if got["gpu_peak_bytes"] is None else gib(got["gpu_peak_bytes"])
        rows.append(got)
        print(f"{seconds:7.0f} s ({got['frames']} frames of {got['side']} px, {got['decoded']} decoded): "
              f"RSS rise {gib(got['peak_bytes'])} (process peak {gib(got['process_peak_bytes'])}), GPU {gpu}",
              flush=True)
    if len(rows) > 1:
        print(f"longest / shortest: RSS rise {rows[-1]['peak_bytes'] / rows[0]['peak_bytes']:.3f}, process peak "
              f"{rows[-1]['process_peak_bytes'] / rows[0]['process_peak_bytes']:.3f}")
    return rows


if __name__ == "__main__":
    main()
