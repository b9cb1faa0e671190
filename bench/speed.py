"""Speed: this pack's default path against a reference path that does what the official
inference does, measured side by side in one run on the same inputs.

    python bench/speed.py                  # full size, 10 s of audio (tens of minutes on 2 CPU cores)
    python bench/speed.py --decode-frames 250   # decode every frame instead of a sample
    python bench/speed.py --quick          # smoke run: 64 px model, tiny towers, 1 s

Reference: fp32, both encoders over the whole clip, frames decoded one at a time with the
official weight modulation (grouped convolution, contiguous memory). Default: the library's
defaults (windowed encoders beyond WINDOW_SECONDS, activation modulation, channels-last,
automatic decode batch). Decoding is timed on the first --decode-frames frames of the clip
and the end-to-end time counts the rest at the measured rate (said so in the output).
Weights are rule-made (bench/full_size.py): speed depends on shapes, not values.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import full_size  # noqa: E402
from float_models import Emotion  # noqa: E402
from float_models.pipeline import FloatPipeline, auto_decode_batch_size  # noqa: E402
from float_models.nets.stylegan2_layers import use_weight_modulation  # noqa: E402


def decoder_flops_per_frame(pipe: FloatPipeline, identity, reference: bool) -> float:  # noqa: ANN001
    """Multiply-adds x 2 of one decoded frame, counted by torch.utils.flop_counter."""
    from torch.utils.flop_counter import FlopCounterMode

    mae = pipe.model.motion_autoencoder
    use_weight_modulation(mae, reference)
    try:
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            mae.decode(identity, identity.motion)
    finally:
        use_weight_modulation(mae, False)
    return float(counter.get_total_flops())


def timed(step):  # noqa: ANN001, ANN201
    start = time.perf_counter()
    out = step()
    return out, time.perf_counter() - start


def run_path(pipe: FloatPipeline, name: str, reference: bool, image, speech, emotion_label, nfe: int,  # noqa: ANN001
             decode_frames: int, batch: int | None) -> dict:
    window = None if reference else "default"
    kwargs = {} if window == "default" else {"window_seconds": None}
    identity, t_image = timed(lambda: pipe.encode_image(image))
    audio, t_audio = timed(lambda: pipe.encode_audio(speech, 16000, **kwargs))
    if emotion_label is None:
        emotion, t_emotion = timed(lambda: pipe.encode_emotion(speech, 16000, **kwargs))
    else:
        emotion, t_emotion = Emotion(emotion_label), 0.0
    motion, t_sample = timed(lambda: pipe.sample_motion(identity, audio, emotion, nfe=nfe))
    mae = pipe.model.motion_autoencoder
    use_weight_modulation(mae, reference)
    try:
        part = dataclasses.replace(motion, latents=motion.latents[:, :decode_frames])
        size = 1 if reference else (batch or auto_decode_batch_size("cpu", pipe.config.input_size))
        first = dataclasses.replace(part, latents=part.latents[:, :1])
        pipe.decode(identity, first, batch_size=1)  # warm-up: caches, oneDNN primitives
        frames, t_decode = timed(lambda: pipe.decode(identity, part, batch_size=size))
    finally:
        use_weight_modulation(mae, False)
    total = motion.num_frames
    per_frame = t_decode / part.num_frames
    end_to_end = t_image + t_audio + t_emotion + t_sample + per_frame * total
    return {"name": name, "batch": size, "image": t_image, "audio": t_audio, "emotion": t_emotion,
            "sample": t_sample, "decode_per_frame": per_frame, "frames": frames, "total_frames": total,
            "end_to_end": end_to_end, "motion": motion, "identity": identity}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small smoke run (no meaningful timings)")
    parser.add_argument("--seconds", type=float, default=None, help="audio length (default 10)")
    parser.add_argument("--decode-frames", type=int, default=None, help="frames decoded per path (default 12)")
    parser.add_argument("--batch", type=int, default=None, help="decode batch of the default path (default: auto)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--label-emotion", action="store_true", help="use an emotion label, skip the classifier")
    args = parser.parse_args(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads)  # when called in-process (tests), leave the caller's setting


def _run(args: argparse.Namespace) -> dict:
    seconds = args.seconds or (1.0 if args.quick else 10.0)
    decode_frames = args.decode_frames or (2 if args.quick else 12)
    if args.quick:
        pipe = FloatPipeline(full_size.float_model(full_size.SMALL), full_size.small_tower(), None)
    else:
        pipe = FloatPipeline(full_size.float_model(), full_size.audio_tower(),
                             None if args.label_emotion else full_size.emotion_tower())
    from float_models import emotion_label

    label = emotion_label("neutral") if (args.quick or args.label_emotion) else None
    generator = torch.Generator().manual_seed(0)
    side = pipe.config.input_size
    image = torch.rand(1, 3, side, side, generator=generator) * 2 - 1
    speech = torch.randn(1, int(16000 * seconds), generator=generator) * 0.1
    print(f"{side} px, {seconds:.0f} s of audio, {torch.get_num_threads()} threads, "
          f"decode timed on {decode_frames} frames")
    ref = run_path(pipe, "reference", True, image, speech, label, 10, decode_frames, args.batch)
    new = run_path(pipe, "default", False, image, speech, label, 10, decode_frames, args.batch)
    flops_ref = decoder_flops_per_frame(pipe, new["identity"], True)
    flops = decoder_flops_per_frame(pipe, new["identity"], False)
    diff = (new["frames"] - ref["frames"]).abs()
    motion_diff = (new["motion"].latents - ref["motion"].latents).abs().max().item()
    print(f"{'':22}{'reference':>12}{'default':>12}{'ratio':>8}")
    for key, label_ in [("audio", "audio encoder s"), ("emotion", "emotion encoder s"), ("sample", "motion sampling s"),
                        ("decode_per_frame", "decode s/frame")]:
        ratio = ref[key] / new[key] if new[key] else math.nan
        print(f"{label_:22}{ref[key]:12.3f}{new[key]:12.3f}{ratio:8.2f}")
    fps_ref, fps_new = 1 / ref["decode_per_frame"], 1 / new["decode_per_frame"]
    print(f"{'decode frames/s':22}{fps_ref:12.3f}{fps_new:12.3f}{fps_new / fps_ref:8.2f}")
    print(f"{'decoder GFLOP/s':22}{flops_ref * fps_ref / 1e9:12.1f}{flops * fps_new / 1e9:12.1f}"
          f"   (GFLOP per frame, torch.utils.flop_counter: reference {flops_ref / 1e9:.1f}, "
          f"default {flops / 1e9:.1f}, executed)")
    print(f"{'end-to-end s':22}{ref['end_to_end']:12.1f}{new['end_to_end']:12.1f}"
          f"{ref['end_to_end'] / new['end_to_end']:8.2f}   (decode of {ref['total_frames']} frames at the measured rate)")
    print(f"default decode batch {new['batch']}; frames vs reference: max {diff.max().item():.2e}, "
          f"mean {diff.mean().item():.2e}; motion max {motion_diff:.2e}")
    return {"reference": ref, "default": new, "flops_per_frame": flops, "frame_max_diff": diff.max().item(),
            "frame_mean_diff": diff.mean().item()}


if __name__ == "__main__":
    main()
