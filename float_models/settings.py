"""The stated ranges of FLOAT's numeric settings, checked in one place by the library, the command
line and the nodes (which show the same ranges on their widgets).

A setting outside its range, or a float that is NaN or infinite, is refused with one line that
names the setting and its range: NaN guidance scales render an all-black video without any error,
and an unbounded `nfe` or seed fails only after the models have loaded (or tries to allocate
terabytes), so the check runs before any work.
"""

from __future__ import annotations

import math

SEED_RANGE = (0, 2 ** 63 - 1)  # ComfyUI's seed widget range; torch seeds take 64 bits
NFE_RANGE = (2, 100)  # time points per window; 10 is official, 100 is already minutes per window
CFG_RANGE = (0.0, 10.0)  # guidance scales on the command line and the node widgets (the library: any finite)
INTENSITY_RANGE = (0.0, 2.0)  # the emotion vector's scale (one-hot label or speech probabilities)
# Each value of an emotion vector (probability times intensity): NaN, infinities, 1e30 or negative
# values render an all-black or garbled video without any error, so they are refused.
EMOTION_RANGE = INTENSITY_RANGE
# The one frame-rate range of motions, speech features, checkpoint configs and the video writer. Below
# 1 fps a motion of a few frames spans hours of padded speech (0.0004 fps asked for +3.1 GB, 1e-9 for
# 640 TB before the writer refused); above 240 no player shows the frames.
MIN_FPS, MAX_FPS = 1.0, 240.0


class SettingError(ValueError):
    """A numeric setting outside its stated range (or not a finite number)."""


def check_number(name: str, value: float, low: float, high: float) -> float:
    """`value` as a float, if it is finite and low <= value <= high; else SettingError naming `name`."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingError(f"{name} {value!r}: not a number; give one between {low:g} and {high:g}") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise SettingError(f"{name} {value!r}: must be a finite number between {low:g} and {high:g}")
    return number


def check_integer(name: str, value: int, low: int, high: int) -> int:
    """`value` as an int, if it is a whole number with low <= value <= high; else SettingError."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        else:
            raise SettingError(f"{name} {value!r}: must be a whole number between {low} and {high}")
    if not low <= value <= high:
        raise SettingError(f"{name} {value}: must be between {low} and {high}")
    return int(value)


def check_sampling(a_cfg_scale: float, e_cfg_scale: float, r_cfg_scale: float, nfe: int, seed: int,
                   names: tuple[str, str, str, str, str] = ("a_cfg_scale", "e_cfg_scale", "r_cfg_scale", "nfe",
                                                            "seed")) -> None:
    """The sampler's settings; `names` are how the caller spells them (CLI flags or node inputs)."""
    for name, value in zip(names[:3], (a_cfg_scale, e_cfg_scale, r_cfg_scale)):
        check_number(name, value, *CFG_RANGE)
    check_integer(names[3], nfe, *NFE_RANGE)
    check_integer(names[4], seed, *SEED_RANGE)


def check_fps(fps: float, what: str = "fps") -> float:
    """A frame rate with MIN_FPS <= fps <= MAX_FPS (the same range everywhere a rate is given)."""
    try:
        rate = float(fps)
    except (TypeError, ValueError, OverflowError):
        rate = math.nan
    if not math.isfinite(rate) or not MIN_FPS <= rate <= MAX_FPS:
        raise SettingError(f"{what} {fps!r}: must be a frame rate from {MIN_FPS:g} to {MAX_FPS:g} frames per second")
    return rate


def check_emotion_values(values, what: str = "emotion") -> None:
    """Every value of an emotion tensor finite and within EMOTION_RANGE; else SettingError."""
    import torch  # settings stays importable without torch for the range constants

    values = torch.as_tensor(values)
    if not values.numel():
        return
    low, high = EMOTION_RANGE
    bad = ~torch.isfinite(values) | (values < low) | (values > high)
    if bool(bad.any()):
        first = float(values[bad].flatten()[0])
        raise SettingError(f"{what} value {first:g}: every emotion value must be a finite number from {low:g} to "
                           f"{high:g} (probabilities times an intensity of at most {high:g})")


EXCERPT = 40  # characters of user text quoted back in an error (the text may be a megabyte)


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """`text` stripped, quoted and cut to `limit` characters, so an error is one short line whatever the input."""
    text = str(text).strip()
    return repr(text if len(text) <= limit else text[:limit] + "...")
