"""Make assets/driving.mp4: the driving clip of workflows/floatkit_motion_from_video.json.

The portrait (assets/portrait.png) with a gentle synthetic head motion: a slow nod, a turn-like sway
and a slight lean, as small affine warps around the face, 25 fps, with assets/speech.wav as its sound.
Being made from the project's own public-domain portrait and speech, it carries no third-party rights.
Needs only what the pack uses (numpy, opencv-python-headless, av). Run from the repository root:

    python assets/make_driving.py
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
FPS = 25
SIZE = 512  # FLOAT's input size: the clip needs no crop
CRF = "30"  # a still photo moving gently compresses well; keeps the file at a few hundred KB


def pose(t: float) -> tuple[float, float, float, float]:
    """(angle in degrees, dx, dy in pixels, scale) at time t: a few slow sines, so the motion is smooth."""
    angle = 4.0 * math.sin(2 * math.pi * 0.35 * t)
    dx = 10.0 * math.sin(2 * math.pi * 0.22 * t + 0.6)
    dy = 6.0 * math.sin(2 * math.pi * 0.5 * t)
    scale = 1.0 + 0.03 * math.sin(2 * math.pi * 0.18 * t)
    return angle, dx, dy, scale


def frame_at(portrait: np.ndarray, t: float) -> np.ndarray:
    """The portrait warped around its face centre (about 45% down the crop), borders reflected."""
    angle, dx, dy, scale = pose(t)
    matrix = cv2.getRotationMatrix2D((SIZE / 2, SIZE * 0.45), angle, scale)
    matrix[:, 2] += (dx, dy)
    return cv2.warpAffine(portrait, matrix, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def speech() -> tuple[np.ndarray, int]:
    """assets/speech.wav as float32 mono samples and its rate."""
    with av.open(str(HERE / "speech.wav")) as container:
        stream = container.streams.audio[0]
        chunks = [f.to_ndarray().reshape(-1) for f in container.decode(stream)]
        rate = stream.rate
    samples = np.concatenate(chunks)
    if samples.dtype == np.int16:
        samples = samples.astype(np.float32) / 32768.0
    return samples.astype(np.float32), rate


def write(path: Path) -> None:
    portrait = cv2.cvtColor(cv2.imread(str(HERE / "portrait.png")), cv2.COLOR_BGR2RGB)
    samples, rate = speech()
    frames = int(len(samples) / rate * FPS)
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=FPS, options={"crf": CRF, "preset": "slow"})
        video.width = video.height = SIZE
        video.pix_fmt = "yuv420p"
        audio = out.add_stream("aac", rate=rate, layout="mono")
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(frame_at(portrait, i / FPS), format="rgb24")
            out.mux(video.encode(frame))
        out.mux(video.encode())
        chunk = 1024
        for start in range(0, len(samples), chunk):
            piece = av.AudioFrame.from_ndarray(samples[None, start:start + chunk], format="flt", layout="mono")
            piece.sample_rate, piece.pts, piece.time_base = rate, start, Fraction(1, rate)
            out.mux(audio.encode(piece))
        out.mux(audio.encode())


def main() -> None:
    target = HERE / "driving.mp4"
    fd, tmp = tempfile.mkstemp(dir=HERE, suffix=".mp4")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)  # whole or not at all
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f"{target}: {target.stat().st_size // 1024} KB", file=sys.stderr)


if __name__ == "__main__":
    main()
