"""GPU speed in one run: the official algorithm against this pack at each precision, as JSON.

    python bench/gpu.py --out gpu.json            # full size, 10 s of speech (under 5 min on an H100)
    python bench/gpu.py --quick --device cpu      # smoke run: 64 px model, tiny towers, 1 s, fp32

What it measures (full-size rule-made weights, bench/full_size.py: speed depends on shapes,
not values), every stage timed after a warm-up, with the device synchronised:
* table: for the reference (the official algorithm: fp32, encoders over the whole clip,
  eager sampling, bench/official_decoder.py decoding one frame at a time) and for this pack
  at fp32, bf16 and fp16 (the decoder's and towers' precision; the motion sampler runs fp32,
  the library's default): decode frames/s with the frames copied to the CPU, decode time
  with the frames kept on the device, sampling time (first call and steady), end-to-end
  frames/s (encoders included), peak device memory;
* stages: the per-stage times behind the table, and the synchronous-copy decode for scale;
* sweep: decode frames/s and peak memory by batch size at the default precision;
* peak: decoder FLOPs per frame (torch.utils.flop_counter; the official algorithm's "useful"
  count and this pack's executed count) times frames/s, against the card's datasheet dense
  rate (where known) and a measured matrix product in the same dtype;
* checks: sampled motion of the CUDA-graph path against eager (bit-identical expected),
  fp32 frames against the official sequence;
* profile: the decode's top kernels by device time (CUDA only);
* device_check: `python -m float_models check-device`'s rows (the same code), on CUDA by default.

    python bench/gpu.py --allocator cudaMallocAsync   # ComfyUI's default allocator on NVIDIA
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import full_size  # noqa: E402
import official_decoder  # noqa: E402
from float_models import Motion, emotion_label, sampling  # noqa: E402
from float_models.app import check_device  # noqa: E402
from float_models.pipeline import FloatPipeline, auto_decode_batch_size  # noqa: E402

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
DEFAULT_PRECISION = "bf16"
# Dense (no sparsity) datasheet rates, TFLOP/s: fp32 (no tensor cores), tf32, bf16, fp16.
DATASHEET_TFLOPS = {
    "H100 80GB HBM3": {"fp32": 66.9, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4},  # SXM
    "H100 PCIe": {"fp32": 51.2, "tf32": 378.0, "bf16": 756.0, "fp16": 756.0},
    "H200": {"fp32": 66.9, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4},
}
TARGETS = {"decode_fps_default_b32": 1500.0, "sampling_s": 0.06, "end_to_end_vs_official": 10.0,
           "peak_gib_auto_batch": 6.0}


class Clock:
    """Wall time of a callable with the device drained before and after."""

    def __init__(self, device: torch.device):
        self.device = device

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def __call__(self, step: Callable[[], object], repeat: int = 1) -> tuple[object, float]:
        times, out = [], None
        for _ in range(repeat):
            self.sync()
            start = time.perf_counter()
            out = step()
            self.sync()
            times.append(time.perf_counter() - start)
        return out, statistics.median(times)

    def reset_peak(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def peak_gib(self) -> float | None:
        return torch.cuda.max_memory_allocated(self.device) / 2 ** 30 if self.device.type == "cuda" else None


def build(quick: bool) -> FloatPipeline:
    if quick:
        return FloatPipeline(full_size.float_model(full_size.SMALL), full_size.small_tower(), None)
    return FloatPipeline(full_size.float_model(), full_size.audio_tower(), full_size.emotion_tower())


def placed(master: FloatPipeline, device: torch.device, dtype: torch.dtype) -> FloatPipeline:
    """A copy of the fp32 master on `device` in `dtype` (the master stays exact for the next one), with the
    motion sampler in fp32 as the library loads it by default (`devices.sampler_dtype`)."""
    model = copy.deepcopy(master.model)
    for name, child in model.named_children():
        child.to(device, torch.float32 if name == "fmt" else dtype)
    return FloatPipeline(model, copy.deepcopy(master.wav2vec2).to(device, dtype),
                         None if master.emotion_encoder is None else copy.deepcopy(master.emotion_encoder).to(device, dtype))


def inputs(pipe: FloatPipeline, seconds: float) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    side = pipe.config.input_size
    image = torch.rand(1, 3, side, side, generator=generator) * 2 - 1
    speech = torch.randn(1, int(16000 * seconds), generator=generator) * 0.1
    return image, speech


def run_official(pipe: FloatPipeline, clock: Clock, image: torch.Tensor, speech: torch.Tensor, nfe: int,
                 repeat: int, decode_frames: int | None) -> dict:
    """The official algorithm: fp32, whole-clip encoders, eager sampling, frames one at a time."""
    clock.reset_peak()
    whole = {"window_seconds": None}
    identity, t_image = clock(lambda: pipe.encode_image(image), repeat)
    audio, t_audio = clock(lambda: pipe.encode_audio(speech, 16000, **whole), repeat)
    emotion, t_emotion = emotion_of(pipe, clock, speech, repeat, **whole)
    motion, t_sample = clock(lambda: sample(pipe, identity, audio, emotion, nfe, "eager"), repeat)
    dec = pipe.model.motion_autoencoder.dec
    official_decoder.decode(dec, identity, motion[0, :1])  # warm-up
    part = motion[:, :decode_frames]
    frames, t_decode = clock(lambda: official_decoder.decode(dec, identity, part[0]).cpu())
    total = motion.shape[1]
    t_decode *= total / part.shape[1]  # a --decode-frames sample counts the clip at its rate
    stages = {"image_s": t_image, "audio_s": t_audio, "emotion_s": t_emotion, "sampling_s": t_sample,
              "decode_host_s": t_decode}
    return {"stages": stages, "decode_fps_host": total / t_decode, "sampling_s": t_sample,
            "end_to_end_s": sum(stages.values()), "end_to_end_fps": total / sum(stages.values()),
            "peak_gib": clock.peak_gib(), "frames": total, "_motion": motion, "_frames": frames,
            "_identity": identity}


def _motion(latents: torch.Tensor, identity) -> Motion:  # noqa: ANN001
    """The pipeline decodes Motion values; this bench samples raw latents through `sampling` directly."""
    return Motion(latents, 25.0, identity.motion)


def emotion_of(pipe: FloatPipeline, clock: Clock, speech: torch.Tensor, repeat: int,
               **kwargs: object) -> tuple[torch.Tensor, float]:
    """The speech-emotion classifier's output, or a label where the run has no classifier (--quick)."""
    if pipe.emotion_encoder is None:
        return emotion_label("neutral"), 0.0
    return clock(lambda: pipe.encode_emotion(speech, 16000, **kwargs).probabilities, repeat)


def sample(pipe: FloatPipeline, identity, audio, emotion, nfe: int, mode: str) -> torch.Tensor:  # noqa: ANN001
    with torch.inference_mode():
        reference, features = identity.motion, audio.features
        emotion = torch.as_tensor(emotion, dtype=torch.float32)
        return sampling.sample_motion(pipe.model.fmt, features, reference, emotion,
                                      num_frames=pipe.config.num_frames, num_prev_frames=pipe.config.num_prev_frames,
                                      nfe=nfe, seed=15, step_mode=mode)


def run_pack(pipe: FloatPipeline, clock: Clock, image: torch.Tensor, speech: torch.Tensor, nfe: int,
             repeat: int, batch: int, decode_frames: int | None) -> dict:
    """This pack's defaults at the pipeline's precision, stage by stage."""
    device = clock.device
    clock.reset_peak()
    identity, t_image = clock(lambda: pipe.encode_image(image), repeat)
    audio, t_audio = clock(lambda: pipe.encode_audio(speech, 16000), repeat)
    emotion, t_emotion = emotion_of(pipe, clock, speech, repeat)
    mode = sampling.default_step_mode(device)
    motion, t_first = clock(lambda: sample(pipe, identity, audio, emotion, nfe, mode))
    motion, t_sample = clock(lambda: sample(pipe, identity, audio, emotion, nfe, mode), repeat)
    eager, t_eager = clock(lambda: sample(pipe, identity, audio, emotion, nfe, "eager"), repeat)
    full, motion = motion, motion[:, :decode_frames]
    pipe.decode(identity, _motion(motion[:, :batch], identity), batch_size=batch, output_device=device)  # warm-up
    decoded = _motion(motion, identity)
    _, t_device = clock(lambda: pipe.decode(identity, decoded, batch_size=batch, output_device=device), repeat)
    frames, t_host = clock(lambda: pipe.decode(identity, decoded, batch_size=batch), repeat)
    _, t_sync = clock(lambda: [f.cpu() for _, _, f in pipe.decode_batches(identity, decoded, batch)], repeat)
    total = full.shape[1]
    t_device, t_host, t_sync = (t * total / motion.shape[1] for t in (t_device, t_host, t_sync))
    stages = {"image_s": t_image, "audio_s": t_audio, "emotion_s": t_emotion, "sampling_s": t_sample,
              "decode_host_s": t_host}
    return {"stages": {**stages, "sampling_first_call_s": t_first, "sampling_eager_s": t_eager,
                       "decode_device_s": t_device, "decode_host_synchronous_copies_s": t_sync},
            "decode_fps_host": total / t_host, "decode_device_s": t_device, "sampling_s": t_sample,
            "end_to_end_s": sum(stages.values()), "end_to_end_fps": total / sum(stages.values()),
            "peak_gib": clock.peak_gib(), "batch": batch, "frames": total, "step_mode": mode,
            "motion_graph_equals_eager": bool(torch.equal(full, eager)),
            "motion_graph_max_diff": (full - eager).abs().max().item(),
            "_motion": full, "_frames": frames, "_identity": identity}


def sweep(pipe: FloatPipeline, clock: Clock, identity, motion: torch.Tensor, batches: list[int],  # noqa: ANN001
          repeat: int, limit: int | None = None) -> list[dict]:
    """Decode frames/s (frames kept on the device) and peak memory by batch size."""
    rows = []
    for batch in batches:
        part = motion[:, :min(motion.shape[1], limit or 4 * batch, 4 * batch)]
        pipe.decode(identity, _motion(part[:, :batch], identity), batch_size=batch, output_device=clock.device)
        clock.reset_peak()
        whole = _motion(part, identity)
        _, seconds = clock(lambda: pipe.decode(identity, whole, batch_size=batch, output_device=clock.device), repeat)
        rows.append({"batch": batch, "fps": part.shape[1] / seconds, "peak_gib": clock.peak_gib()})
    return rows


def decoder_flops(pipe: FloatPipeline, identity, official: bool) -> float:  # noqa: ANN001
    """FLOPs (2 x multiply-adds) of one decoded frame, counted by torch.utils.flop_counter."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        if official:
            official_decoder.decode(pipe.model.motion_autoencoder.dec, identity, identity.motion)
        else:
            pipe.model.motion_autoencoder.decode(identity, identity.motion)
    return float(counter.get_total_flops())


def matmul_tflops(device: torch.device, dtype: torch.dtype, quick: bool) -> float:
    """A measured dense rate: a square matrix product in `dtype` (fp32 as the library runs it)."""
    n = 512 if quick else 8192
    generator = torch.Generator().manual_seed(1)
    a = torch.randn(n, n, generator=generator).to(device, dtype)
    b = torch.randn(n, n, generator=generator).to(device, dtype)
    clock = Clock(device)
    # fp32 convolutions run on TF32 tensor cores by default (cudnn.allow_tf32): measure the same.
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32
    try:
        clock(lambda: a @ b)
        _, seconds = clock(lambda: [a @ b for _ in range(10)], 3)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
    return 2 * n ** 3 * 10 / seconds / 1e12


def datasheet(device: torch.device) -> dict | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((rates for key, rates in DATASHEET_TFLOPS.items() if key in name), None)


def kernel_profile(pipe: FloatPipeline, identity, motion: torch.Tensor, batch: int, top: int = 12) -> list[dict]:  # noqa: ANN001
    """Top kernels of one decode batch by device time (CUDA only)."""
    from torch.profiler import ProfilerActivity, profile

    part = motion[:, :batch]
    pipe.decode(identity, _motion(part, identity), batch_size=batch, output_device="cuda")
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        pipe.decode(identity, _motion(part, identity), batch_size=batch, output_device="cuda")
        torch.cuda.synchronize()
    events = [e for e in prof.key_averages()
              if str(getattr(e, "device_type", "")).endswith("CUDA") and getattr(e, "device_time_total", 0) > 0]
    total = sum(e.device_time_total for e in events) or 1.0
    events.sort(key=lambda e: e.device_time_total, reverse=True)
    return [{"kernel": e.key[:120], "calls": e.count, "ms": e.device_time_total / 1e3,
             "share": e.device_time_total / total} for e in events[:top]]


def public(result: dict) -> dict:
    return {k: v for k, v in result.items() if not k.startswith("_")}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small smoke run (no meaningful timings)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seconds", type=float, default=None, help="speech length (default 10; quick 1)")
    parser.add_argument("--nfe", type=int, default=10)
    parser.add_argument("--decode-frames", type=int, default=None,
                        help="decode only this many frames and count the clip at that rate (default all; quick 2)")
    parser.add_argument("--precisions", default=None, help="comma list of fp32,bf16,fp16 (default: all on CUDA, "
                                                          "fp32 elsewhere)")
    parser.add_argument("--batches", default=None, help="decode batch sweep (default 1,8,16,32,64; quick 1,2)")
    parser.add_argument("--repeat", type=int, default=None, help="timed repetitions, median (default 3; quick 1)")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--allocator", choices=("native", "cudaMallocAsync"), default=None,
                        help="CUDA caching allocator backend (PYTORCH_CUDA_ALLOC_CONF backend:...; ComfyUI "
                             "uses cudaMallocAsync on NVIDIA); must be chosen before CUDA starts")
    parser.add_argument("--device-check", action=argparse.BooleanOptionalAction, default=None,
                        help="also run check-device's rows (default: on CUDA)")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON here (always printed last)")
    args = parser.parse_args(argv)
    return _run(args)


def use_allocator(backend: str | None) -> None:
    """Select the CUDA allocator backend; read by PyTorch when CUDA starts, so set it before."""
    if backend is None:
        return
    if torch.cuda.is_initialized():
        if torch.cuda.get_allocator_backend() != backend:
            raise SystemExit(f"--allocator {backend}: CUDA already started with "
                             f"{torch.cuda.get_allocator_backend()}; run the bench in a fresh process")
        return
    conf = [c for c in os.environ.get("PYTORCH_CUDA_ALLOC_CONF", "").split(",") if c and not c.startswith("backend:")]
    os.environ["PYTORCH_CUDA_ALLOC_CONF"] = ",".join(conf + [f"backend:{backend}"])


def _run(args: argparse.Namespace) -> dict:
    use_allocator(args.allocator)
    device = torch.device(args.device)
    quick = args.quick
    seconds = args.seconds or (1.0 if quick else 10.0)
    repeat = args.repeat or (1 if quick else 3)
    precisions = (args.precisions or ("fp32,bf16,fp16" if device.type == "cuda" else "fp32")).split(",")
    decode_frames = args.decode_frames or (2 if quick else None)
    batches = [int(b) for b in (args.batches or ("1,2" if quick else "1,8,16,32,64")).split(",")]
    clock = Clock(device)
    started = time.perf_counter()
    master = build(quick)
    image, speech = inputs(master, seconds)
    report: dict = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                    "decode_frames": decode_frames,
                    "torch": torch.__version__, "input_size": master.config.input_size, "seconds": seconds,
                    "nfe": args.nfe, "quick": quick}
    log(f"{report['device']}: {master.config.input_size} px, {seconds:g} s of speech, nfe {args.nfe}")

    ref_pipe = placed(master, device, torch.float32)
    official = run_official(ref_pipe, clock, image, speech, args.nfe, repeat, decode_frames)
    report["official_fp32"] = public(official)
    useful = decoder_flops(ref_pipe, official["_identity"], official=True)
    log(f"official fp32: decode {official['decode_fps_host']:.1f} fps, end to end {official['end_to_end_fps']:.1f} fps")

    packs = {}
    for name in sorted(precisions, key=lambda n: n != "fp32"):  # fp32 first: it reuses the reference copy
        if name != "fp32":
            # Each precision's peak memory counts its own weights only: the fp32 copy leaves first.
            ref_pipe = pipe = None
            if device.type == "cuda":
                torch.cuda.empty_cache()
        pipe = ref_pipe if name == "fp32" else placed(master, device, DTYPES[name])
        batch = auto_decode_batch_size(device, pipe.config.input_size, DTYPES[name])
        result = run_pack(pipe, clock, image, speech, args.nfe, repeat, batch, decode_frames)
        executed = decoder_flops(pipe, result["_identity"], official=False)
        result["decoder_gflop_per_frame"] = {"official_algorithm": useful / 1e9, "executed": executed / 1e9}
        result["peak"] = peak_use(device, name, result["decode_device_s"], result["frames"], useful, executed, quick)
        if name == "fp32":
            diff = (result["_frames"][0] - official["_frames"][:result["_frames"].shape[1]]).abs()
            result["frames_vs_official"] = {"max": diff.max().item(), "mean": diff.mean().item()}
        if name == (DEFAULT_PRECISION if DEFAULT_PRECISION in precisions else precisions[0]):
            report["sweep"] = sweep(pipe, clock, result["_identity"], result["_motion"], batches, repeat, decode_frames)
            if device.type == "cuda" and not args.no_profile:
                try:
                    report["profile"] = kernel_profile(pipe, result["_identity"], result["_motion"], 32)
                except Exception as error:  # noqa: BLE001 - the profile is extra; keep the numbers
                    report["profile"] = f"profiler failed: {error}"

        packs[name] = public(result)
        log(f"pack {name}: decode {result['decode_fps_host']:.1f} fps (batch {batch}), sampling "
            f"{result['sampling_s']:.3f} s, end to end {result['end_to_end_fps']:.1f} fps")
        result = None
    report["pack"] = packs
    if args.device_check if args.device_check is not None else device.type == "cuda":
        checked = check_device.run_check(device, "auto", quick, None, decode_frames or 64)
        log(check_device.format_table(checked))
        report["device_check"] = check_device.as_json(checked)
    if device.type == "cuda":
        report["allocator"] = torch.cuda.get_allocator_backend()
    report["targets"] = targets(report)
    report["wall_s"] = time.perf_counter() - started
    print_table(report)
    text = json.dumps(report, indent=1)
    if args.out:
        args.out.write_text(text)
    print(text)
    return report


def peak_use(device: torch.device, name: str, decode_s: float, frames: int, useful: float, executed: float,
             quick: bool) -> dict:
    fps = frames / decode_s
    measured = matmul_tflops(device, DTYPES[name], quick)
    sheet = datasheet(device)
    rate = None if sheet is None else sheet["tf32" if name == "fp32" else name]
    return {"decode_fps_device": fps, "useful_tflops": useful * fps / 1e12, "executed_tflops": executed * fps / 1e12,
            "matmul_tflops_measured": measured, "datasheet_tflops": rate,
            "useful_share_of_matmul": useful * fps / 1e12 / measured,
            "useful_share_of_datasheet": None if rate is None else useful * fps / 1e12 / rate}


def targets(report: dict) -> dict:
    name = DEFAULT_PRECISION if DEFAULT_PRECISION in report["pack"] else next(iter(report["pack"]))
    pack, official = report["pack"][name], report["official_fp32"]
    b32 = next((r["fps"] for r in report.get("sweep", []) if r["batch"] == 32), None)
    return {"decode_fps_default_b32": b32, "sampling_s": pack["sampling_s"],
            "end_to_end_vs_official": pack["end_to_end_fps"] / official["end_to_end_fps"],
            "peak_gib_auto_batch": pack["peak_gib"], "precision": name, "goals": TARGETS}


def print_table(report: dict) -> None:
    columns = [("official fp32", report["official_fp32"])] + [(f"pack {k}", v) for k, v in report["pack"].items()]
    rows = [("decode fps (to CPU)", "decode_fps_host", "{:.1f}"), ("decode s (kept on device)", "decode_device_s", "{:.3f}"),
            ("sampling s", "sampling_s", "{:.3f}"), ("end to end fps", "end_to_end_fps", "{:.1f}"),
            ("peak GiB", "peak_gib", "{:.2f}")]
    log("".join(f"{c:>16}" for c, _ in [("", None)] + columns))
    for label, key, fmt in rows:
        cells = [fmt.format(v[key]) if v.get(key) is not None else "-" for _, v in columns]
        log(f"{label:>16}" + "".join(f"{c:>16}" for c in cells))
    for row in report.get("sweep", []):
        log(f"batch {row['batch']:>3}: {row['fps']:.1f} fps, peak {row['peak_gib'] or 0:.2f} GiB")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
