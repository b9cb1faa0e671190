"""Precision: bf16 / fp16 against fp32 for the README table (README, "Precision").

    python bench/precision.py                 # full size on the CPU: rounding only, no GPU speed
    python bench/precision.py --device cuda   # adds the GPU timings (decode, sampling)
    python bench/precision.py --quick         # smoke run: 64 px model

For each dtype the networks are converted and run directly (the library's CPU rule, which
loads fp32, is bypassed on purpose: this measures what the rounding does, and the CPU's
rounding of each operation is the GPU's). Columns:
* warp PSNR: the astronaut (assets/portrait.png) warped by a gentle flow (1-5 px shift,
  0.5 degree rotation) with the library's warp, as the decoder runs it at that dtype (image and
  result in the dtype, flow chain and sampling in fp32), against fp32. For scale, the same warp
  with its grid rounded to the dtype (the decoder before the fp32 warp).
* motion deviation: max |motion - motion_fp32| of the FMT sampler (nfe 10, CFG a=2), same seed
  and the same injected audio features (seeded normal, like the official-run comparison).
* frame deviation: the decoder alone, at that dtype, on the fp32 motion: max |frame - frame_fp32|
  of the raw output, its RMS over the frames' RMS, and PSNR over the raw frames' range (the
  rule-made decoder's output lies far outside [-1, 1], so clamped frames hide the deviation;
  that PSNR is printed too).
* seconds: decode of --frames frames and the sampling of the clip, with a synchronised device.
Weights are rule-made (bench/full_size.py); a trained float.pth may round differently.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import full_size  # noqa: E402
from float_models.nets.motion_decoder import flow_grid, warp  # noqa: E402
from float_models.sampling import Guidance, sample_motion  # noqa: E402

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def psnr(a: torch.Tensor, b: torch.Tensor, peak: float = 1.0) -> float:
    mse = (a.double() - b.double()).square().mean().item()
    return math.inf if mse == 0 else 10 * math.log10(peak ** 2 / mse)


def astronaut(size: int) -> torch.Tensor:
    import cv2

    image = cv2.imread(str(ROOT / "assets" / "portrait.png"), cv2.IMREAD_COLOR)[:, :, ::-1].copy()
    image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA) if size != image.shape[0] else image
    return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255


def gentle_flow(size: int) -> torch.Tensor:
    """Raw flow (1, 2, S, S) whose tanh moves pixels by a 1-5 px shift and a 0.5 degree rotation
    (the scene of tests/test_precision.py too)."""
    pixels = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    y, x = torch.meshgrid(pixels, pixels, indexing="ij")
    angle = math.radians(0.5)
    dx = 1.5 + 2.0 * (y / size) + x * (math.cos(angle) - 1) - y * math.sin(angle)
    dy = 2.5 + x * math.sin(angle) + y * (math.cos(angle) - 1)
    return torch.atanh(torch.stack([dx, dy]) * 2 / size)[None].float()


def warp_scores(size: int, device: torch.device) -> dict[str, dict[str, float]]:
    image, flow = astronaut(size).to(device), gentle_flow(size).to(device)
    wanted = warp(image, flow_grid(flow))
    scores = {}
    for name, dtype in DTYPES.items():
        now = warp(image.to(dtype), flow_grid(flow.to(dtype))).to(dtype)
        before = warp(image, flow_grid(flow).to(dtype).float())  # grid rounded: the old decoder
        scores[name] = {"warp_psnr_db": psnr(now, wanted), "grid_in_dtype_psnr_db": psnr(before, wanted)}
    scores["8bit_image_rounding_db"] = {"psnr": psnr((wanted * 255).round() / 255, wanted)}
    return scores


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(step, device: torch.device):  # noqa: ANN001, ANN201
    synchronize(device)
    start = time.perf_counter()
    out = step()
    synchronize(device)
    return out, time.perf_counter() - start


def run(model, config, identity, audio, device: torch.device, dtype: torch.dtype) -> dict:  # noqa: ANN001
    net = copy.deepcopy(model).to(device, dtype).eval()
    mae = net.motion_autoencoder
    emotion = torch.full((1, 7), 1 / 7)
    with torch.inference_mode():
        sample = lambda: sample_motion(net.fmt, audio, identity.motion, emotion, num_frames=config.num_frames,  # noqa: E731
                                       num_prev_frames=config.num_prev_frames, guidance=Guidance(2.0, 1.0, 1.0))
        sample()  # warm-up (kernels, caches)
        motion, sample_s = timed(sample, device)
        ident = type(identity)(identity.latent.to(device, dtype),
                               tuple(f.to(device, dtype) for f in identity.features),
                               identity.motion, identity.coefficients)
        return {"motion": motion, "decode": lambda m: mae.decode(ident, m.to(device, dtype)).float(),
                "sample_s": sample_s, "net": net}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seconds", type=float, default=2.0, help="speech length (frames at 25 fps)")
    parser.add_argument("--frames", type=int, default=2, help="frames decoded per dtype (deviation and timing)")
    parser.add_argument("--quick", action="store_true", help="64 px model with a 2-layer FMT")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(0)
    config = full_size.SMALL if args.quick else None
    model = full_size.float_model(config)
    config = model.config
    size = config.input_size
    with torch.inference_mode():
        identity = model.motion_autoencoder.encode(astronaut(size) * 2 - 1)
    total = round(args.seconds * config.fps)
    audio = torch.randn(1, total, config.dim_a, generator=torch.Generator().manual_seed(1))
    results = {"device": str(torch.cuda.get_device_name(device)) if device.type == "cuda" else "cpu",
               "torch": torch.__version__, "size": size, "frames_sampled": total,
               "warp": warp_scores(size, device)}
    runs = {name: run(model, config, identity, audio, device, dtype) for name, dtype in DTYPES.items()}
    base = runs["fp32"]
    chunk = base["motion"][0, :args.frames]
    with torch.inference_mode():
        wanted = base["decode"](chunk)
        for name, done in runs.items():
            done["decode"](chunk[:1])  # warm-up
            got, decode_s = timed(lambda: done["decode"](chunk), device)
            results[name] = {
                "motion_max_abs_dev": (done["motion"] - base["motion"]).abs().max().item(),
                "motion_max_abs": base["motion"].abs().max().item(),
                "frame_max_abs_dev": (got - wanted).abs().max().item(),
                "frame_max_abs": wanted.abs().max().item(),
                "frame_rms_dev_over_rms": ((got - wanted).square().mean() / wanted.square().mean()).sqrt().item(),
                "frame_psnr_raw_range_db": psnr(got, wanted, peak=(wanted.max() - wanted.min()).item()),
                "frame_psnr_clamped_db": psnr(got.clamp(-1, 1), wanted.clamp(-1, 1), peak=2.0),
                "finite": bool(torch.isfinite(got).all()),
                "decode_frames_per_s": args.frames / decode_s,
                "sample_s": done["sample_s"],
            }
            del done["net"]
    text = json.dumps(results, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text)
    return results


if __name__ == "__main__":
    main()
