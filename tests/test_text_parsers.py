"""User text parsers on hostile input (issue 25): the emotion schedule, direction lists and trim ranges.

Each parser runs in linear time (no backtracking regex), quotes at most a short excerpt of a bad line,
refuses values that render black (NaN, 1e30, negative), and any text ends with a result or a one-line
ValueError, never another exception (property-based tests with hypothesis).
"""

from __future__ import annotations

import math
import time

import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from float_models import Emotion
from float_models.edit.emotion_schedule import (EXCERPT, POLL_LINES, Segment, build_schedule, crossfade_changes,
                                                parse_schedule, schedule_from_text)
from float_models.types import EMOTIONS

MEGABYTE = 1 << 20
PARSE_SECONDS = 1.0  # the bound for 1 MB of text


def _cpu_seconds(call) -> float:
    # CPU time of this process: other work on a shared machine does not count against the parser.
    start = time.process_time()
    call()
    return time.process_time() - start


def _one_line_value_error(call) -> None:
    try:
        call()
    except ValueError as err:
        message = str(err)
        assert "\n" not in message and len(message) < 400, message[:500]


# ----------------------------------------------------------------------------- schedule: linear time

def _distinct_schedule(size: int) -> str:
    lines, total, index = [], 0, 0
    while total < size:
        values = " ".join(f"{(index * k % 97) / 97:.2f}" for k in range(1, 8))
        line = f"{index * 0.04:.2f}-: {values}\n" if index % 3 else f"{index * 0.04:.2f}-{index * 0.04 + 1:.2f}: happy\n"
        lines.append(line)
        total += len(line)
        index += 1
    return "".join(lines)


@pytest.mark.parametrize("text", [
    "0-1: happy" + " " * MEGABYTE + "x",  # the old regex backtracked over the spaces: about an hour
    "0-1:" + " " * MEGABYTE,
    " " * MEGABYTE + "-" + " " * 10 + ":happy 1 2",
    "0-" + "9" * MEGABYTE + ": happy",
], ids=["spaces-then-junk", "spaces-no-emotion", "spaces-before-dash", "a-megabyte-number"])
def test_a_megabyte_of_hostile_schedule_text_fails_fast_with_a_short_message(text):
    spent = _cpu_seconds(lambda: _one_line_value_error(lambda: parse_schedule(text)))
    assert spent < PARSE_SECONDS
    with pytest.raises(ValueError) as err:
        parse_schedule(text)
    assert len(str(err.value)) < 400 and "line 1" in str(err.value)


def test_a_megabyte_of_valid_schedule_parses_and_builds_within_a_second():
    text = _distinct_schedule(MEGABYTE)
    assert _cpu_seconds(lambda: parse_schedule(text)) < PARSE_SECONDS
    segments = parse_schedule(text)
    assert len(segments) > 15000
    # building: O(segments log segments + frames), not O(segments x frames)
    assert _cpu_seconds(lambda: build_schedule(segments, 100_000, 25.0, torch.zeros(7))) < 2 * PARSE_SECONDS


def test_crossfade_is_linear_in_frames_not_changes_times_width():
    # the case: 2000 changes at 120 fps with a 10 s crossfade took 34 s
    text = "".join(f"{i}-{i + 1}: {'happy' if i % 2 else 'sad'}\n" for i in range(2000))
    assert _cpu_seconds(lambda: schedule_from_text(text, 240_000, 120.0, crossfade_seconds=10.0)) < PARSE_SECONDS


def test_crossfade_matches_the_per_change_ramps_it_replaces():
    # the per-change loop it replaces, written out: each change's ramp, later ones win where they overlap
    frames = torch.zeros(2, 40, 7)
    frames[:, 10:] = torch.eye(7)[3]
    frames[:, 14:] = torch.eye(7)[5]
    frames[1, 30:] = torch.eye(7)[0]
    width = 6
    expected = frames.clone()
    for t in (10, 14, 30):
        first = max(0, t - width // 2)
        for k in range(first, min(40, first + width)):
            w = (k - first + 1) / (width + 1)
            expected[:, k] = (1 - w) * frames[:, t - 1] + w * frames[:, t]
    assert torch.allclose(crossfade_changes(frames, width), expected, atol=1e-6)


def test_later_segments_win_and_uncovered_frames_take_the_default():
    segments = parse_schedule("0-: sad\n1-3: happy\n2-: angry\n2.5-2.7: fear")
    got = build_schedule(segments, 100, 10.0, torch.eye(7)[4]).argmax(-1)[0]
    expected = [5] * 10 + [3] * 10 + [0] * 5 + [2] * 2 + [0] * 73
    assert got.tolist() == expected
    assert build_schedule(parse_schedule("1-2: happy"), 30, 10.0, torch.eye(7)[4]).argmax(-1)[0].tolist() == \
        [4] * 10 + [3] * 10 + [4] * 10


def test_parsing_polls_cancel_so_an_interrupt_stops_it():
    class Cancelled(Exception):
        pass

    calls = []

    def should_stop():
        calls.append(1)
        if len(calls) == 2:
            raise Cancelled

    with pytest.raises(Cancelled):
        parse_schedule("0-1: happy\n" * (3 * POLL_LINES), should_stop)
    with pytest.raises(Cancelled):
        calls.clear()
        schedule_from_text("0-1: happy\n" * (3 * POLL_LINES), 25, 25.0, should_stop=should_stop)


# ----------------------------------------------------------------------------- schedule: values

@pytest.mark.parametrize("line, words", [
    ("0-: nan nan nan nan nan nan nan", "nan"), ("0-: happy 1e30", "1e30"), ("0-: happy -0.5", "-0.5"),
    ("0-: happy inf", "inf"), ("0-: 0 0 0 1e30 0 0 0", "1e30"), ("0-: 0 0 0 -1 0 0 0", "-1"),
    ("0-: happy nan", "nan"),
])
def test_schedule_refuses_emotions_that_render_black(line, words):
    with pytest.raises(ValueError, match=f"line 1 .*'{words}'.* from 0 to 2"):
        parse_schedule(line)


@pytest.mark.parametrize("line, reason", [
    ("3-1: happy", "not after its start"), ("2-2: happy", "not after its start"),
    ("0-" + "9" * 400 + ": happy", "above 1e\\+07 s"), ("1e999-: happy", "not a number of seconds"),
    ("0--1: happy", "start-end"), ("-1-2: happy", "start-end"), ("0-1 happy", "start-end"),
])
def test_schedule_refuses_empty_backward_and_huge_ranges_naming_the_line(line, reason):
    with pytest.raises(ValueError, match=f"line 2 .*{reason}"):
        parse_schedule("0-1: sad\n" + line)


def test_schedule_error_quotes_only_an_excerpt_of_a_long_line():
    with pytest.raises(ValueError) as err:
        parse_schedule("0-1: joyful" + "x" * 100_000)
    assert len(str(err.value)) < 2 * EXCERPT + 250


@pytest.mark.parametrize("values", [[math.nan] * 7, [0, 0, 0, 1e30, 0, 0, 0], [0, 0, 0, -1, 0, 0, 0],
                                    [0, 0, 0, math.inf, 0, 0, 0]])
def test_emotion_values_refuse_nan_absurd_and_negative(values):
    with pytest.raises(ValueError, match="emotion value .* from 0 to 2"):
        Emotion(torch.tensor([values]))
    with pytest.raises(ValueError, match="emotion value"):
        Emotion(torch.tensor([values]).expand(1, 5, 7))


@pytest.mark.parametrize("intensity", [-0.5, math.nan, math.inf, 1e30])
def test_emotion_intensity_must_be_finite_and_in_range(intensity):
    with pytest.raises(ValueError, match="emotion intensity .* between 0 and 2"):
        Emotion.of_label("happy", intensity)
    with pytest.raises(ValueError, match="emotion intensity .* between 0 and 2"):
        Emotion(torch.full((1, 7), 1 / 7)).scaled(intensity)


# ----------------------------------------------------------------------------- property-based

LINE_PARTS = st.sampled_from(["0", "1", "2.5", ".", "-", ":", " ", "\t", "#", ",", "\n", "happy", "SAD", "nan",
                              "inf", "1e30", "-1", "0.5", "9" * 30, "é", "\x00", "\u2028", "٣"])
TEXTS = st.one_of(st.text(max_size=300), st.lists(LINE_PARTS, max_size=60).map("".join))


@settings(max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS)
def test_any_schedule_text_gives_segments_or_one_line_value_error(text):
    try:
        segments = parse_schedule(text)
    except ValueError as err:
        assert "\n" not in str(err) and len(str(err)) < 400
        return
    for seg in segments:
        assert isinstance(seg, Segment) and 0 <= seg.start and (seg.end is None or seg.end > seg.start)
        assert torch.isfinite(seg.emotion).all() and seg.emotion.shape == (len(EMOTIONS),)
    built = build_schedule(segments, 30, 25.0, torch.zeros(7), crossfade=4)
    assert built.shape == (1, 30, 7) and torch.isfinite(built).all()


# ----------------------------------------------------------------------------- directions

from float_models.edit.latent import POLL_PARTS, parse_directions  # noqa: E402
from float_models.edit.time import TRIM_UNITS, trim_span  # noqa: E402

DIRECTIONS = 20


@pytest.mark.parametrize("spec, expected", [
    ("0, 3, 5-7", [0, 3, 5, 6, 7]), ("2-", list(range(2, 20))), ("-3", [0, 1, 2, 3]), ("19-", [19]),
    ("7; 7, 6-7", [7, 6]), (" ", []),
])
def test_direction_ranges_read_like_schedule_ranges(spec, expected):
    assert parse_directions(spec, DIRECTIONS) == expected


@pytest.mark.parametrize("spec, reason", [
    ("5-3", "runs backwards"), ("19-0", "runs backwards"), ("0--1", "cannot read"), ("-", "cannot read"),
    ("20", "does not exist"), ("0-" + "9" * MEGABYTE, "does not exist"), ("٣", "cannot read"), ("1-2-3", "cannot read"),
])
def test_direction_specs_that_select_nothing_or_too_much_are_refused(spec, reason):
    with pytest.raises(ValueError, match=reason) as err:
        parse_directions(spec, DIRECTIONS)
    assert len(str(err.value)) < 200


def test_a_megabyte_of_directions_parses_within_a_second_and_polls_cancel():
    text = ", ".join(str(i % DIRECTIONS) for i in range(MEGABYTE // 3))
    assert _cpu_seconds(lambda: parse_directions(text, DIRECTIONS)) < PARSE_SECONDS
    calls = []
    parse_directions(text, DIRECTIONS, lambda: calls.append(1))
    assert len(calls) >= (MEGABYTE // 3) // POLL_PARTS - 1


@settings(max_examples=300, deadline=1000)
@given(st.one_of(st.text(max_size=200), st.lists(st.sampled_from(["0", "5", "19", "20", "-", ",", ";", " ", "x",
                                                                  "9" * 30, "٣"]), max_size=40).map("".join)))
def test_any_direction_text_gives_indices_or_one_line_value_error(text):
    try:
        chosen = parse_directions(text, DIRECTIONS)
    except ValueError as err:
        assert "\n" not in str(err) and len(str(err)) < 400
        return
    assert all(isinstance(i, int) and 0 <= i < DIRECTIONS for i in chosen) and len(set(chosen)) == len(chosen)


# ----------------------------------------------------------------------------- trim

def test_trim_in_frames_with_fractions_is_refused_not_read_as_the_whole_clip():
    with pytest.raises(ValueError, match="whole numbers"):
        trim_span(100, 25.0, 0.5, 0.9, "frames")
    assert trim_span(100, 25.0, 2, 5, "frames") == (2, 5)
    assert trim_span(100, 25.0, 0, 0, "frames") == (0, 100)
    assert trim_span(100, 25.0, 1, 2, "seconds") == (25, 50)


NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10 ** 30, 10 ** 30),
                    st.sampled_from([0, 0.0, 0.5, 0.9, 1, 3.0, -0.0, 1e308]))


@settings(max_examples=500, deadline=1000)
@given(st.integers(1, 10 ** 6), st.floats(1.0, 240.0), NUMBERS, NUMBERS,
       st.one_of(st.sampled_from(TRIM_UNITS), st.text(max_size=20)))
def test_any_trim_input_gives_a_span_or_one_line_value_error(frames, fps, start, end, unit):
    try:
        first, last = trim_span(frames, fps, start, end, unit)
    except ValueError as err:
        assert "\n" not in str(err) and len(str(err)) < 400
        return
    assert 0 <= first < last <= frames
