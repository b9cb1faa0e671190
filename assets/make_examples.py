"""Regenerate the bundled example inputs: assets/portrait.png, assets/speech.wav and assets/two_faces.png.

Build-time only (the node pack does not need any of this at run time):
  * scikit-image, for its public-domain astronaut photograph (`pip install scikit-image`);
  * scipy, to resample the speech to 16 kHz (scikit-image already depends on it);
  * espeak-ng, the speech synthesiser (`apt-get install espeak-ng`);
  * opencv-python-headless and soundfile, which the pack itself uses.

Run from the repository root:  python assets/make_examples.py   (or: python assets/make_examples.py two_faces,
which needs only OpenCV and rebuilds two_faces.png from portrait.png)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run as a script, so make float_models importable

from float_models.app.face_crop import crop_portrait  # noqa: E402

SPEECH_TEXT = "Hello! This portrait was brought to life by FloatKit."
ESPEAK_ARGS = ["-v", "en-us+f3", "-s", "160"]  # US English, female variant 3, 160 words per minute
SAMPLE_RATE = 16000  # FLOAT's audio encoders work at 16 kHz
# two_faces.png: a 768x384 canvas with the portrait on the left and a smaller mirrored copy on the right, so
# the face detector finds two faces of different sizes and face = 0 / 1 / -1 (largest) pick different ones.
TWO_FACES_SIZE = (768, 384)  # width, height
TWO_FACES_PLACES = ((24, 12, 360, False), (444, 52, 300, True))  # (left, top, side, mirrored) of each copy


def _replace_atomically(path: Path, write) -> None:
    """Write through a temporary file in the same folder, so a file appears whole or not at all."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes owner-only files; these are meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def make_portrait(path: Path) -> None:
    """Detect the face in the astronaut photo and save the official 512x512 FLOAT crop."""
    import cv2
    from skimage import data

    crop, box, info = crop_portrait(data.astronaut())
    face = info.face
    print(f"portrait: face ({face.x1:.0f}, {face.y1:.0f})-({face.x2:.0f}, {face.y2:.0f}) score {face.score:.3f}; {box}")

    def write(tmp: str) -> None:
        if not cv2.imwrite(tmp, cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9]):
            raise OSError(f"OpenCV could not write {tmp}")

    _replace_atomically(path, write)


def make_speech(path: Path) -> None:
    """Synthesise the sentence with espeak-ng (22.05 kHz) and store it as 16 kHz mono 16-bit PCM."""
    import soundfile
    from scipy.signal import resample_poly

    with tempfile.TemporaryDirectory() as folder:
        raw = os.path.join(folder, "espeak.wav")
        subprocess.run(["espeak-ng", *ESPEAK_ARGS, "-w", raw, SPEECH_TEXT], check=True)
        speech, rate = soundfile.read(raw, dtype="float64")
    if speech.ndim > 1:
        speech = speech.mean(axis=1)
    divisor = np.gcd(SAMPLE_RATE, rate)
    speech = resample_poly(speech, SAMPLE_RATE // divisor, rate // divisor)
    speech *= 0.9 / max(np.abs(speech).max(), 1e-9)  # same loudness whatever espeak's amplitude
    print(f"speech: {len(speech) / SAMPLE_RATE:.2f} s at {SAMPLE_RATE} Hz")
    _replace_atomically(path, lambda tmp: soundfile.write(tmp, speech, SAMPLE_RATE, subtype="PCM_16",
                                                          format="WAV"))


def make_two_faces(path: Path, portrait: Path) -> None:
    """Two copies of the portrait side by side on a soft grey gradient (a photo with two faces)."""
    import cv2

    picture = cv2.imread(str(portrait), cv2.IMREAD_COLOR)
    if picture is None:
        raise OSError(f"OpenCV could not read {portrait}")
    width, height = TWO_FACES_SIZE
    ramp = np.linspace(150, 200, width, dtype=np.float32)  # light left to lighter right, same in B, G, R
    canvas = np.repeat(np.repeat(ramp[None, :, None], height, 0), 3, 2).round().astype(np.uint8)
    for left, top, side, mirrored in TWO_FACES_PLACES:
        copy = cv2.resize(picture, (side, side), interpolation=cv2.INTER_AREA)
        canvas[top:top + side, left:left + side] = copy[:, ::-1] if mirrored else copy
    print(f"two faces: {width}x{height}, copies at {TWO_FACES_PLACES}")

    def write(tmp: str) -> None:
        if not cv2.imwrite(tmp, canvas, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
            raise OSError(f"OpenCV could not write {tmp}")

    _replace_atomically(path, write)


if __name__ == "__main__":
    if sys.argv[1:] != ["two_faces"]:
        make_portrait(HERE / "portrait.png")
        make_speech(HERE / "speech.wav")
    make_two_faces(HERE / "two_faces.png", HERE / "portrait.png")
