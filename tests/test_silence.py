"""Rest on silence: the distance to the nearest voiced frame in O(frames) gives exactly what the
frames x voiced-frames table gave, and stays cheap at an hour of frames."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from float_models.edit.silence import rest_weights, voiced_distance


def table_weights(silent: torch.Tensor, fade: int) -> torch.Tensor:
    """The former computation: a (frames, voiced frames) table of distances, minimum per row."""
    weights = torch.zeros(silent.shape)
    frames = silent.shape[1]
    for b in range(silent.shape[0]):
        voiced = torch.nonzero(~silent[b]).flatten()
        if voiced.numel() == 0:
            weights[b] = 1.0
            continue
        distance = (torch.arange(frames)[:, None] - voiced[None]).abs().min(dim=1).values
        weights[b] = (distance.float() / (fade + 1)).clamp(max=1.0)
    return weights


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.booleans(), min_size=1, max_size=60), min_size=1, max_size=3).filter(
    lambda rows: len({len(r) for r in rows}) == 1), st.integers(0, 8))
def test_linear_distance_equals_the_distance_table(rows, fade):
    silent = torch.tensor(rows)
    assert torch.equal(rest_weights(silent, fade), table_weights(silent, fade))


def test_edge_cases_and_an_hour_of_frames():
    assert voiced_distance(torch.ones(5, dtype=torch.bool)) is None
    assert voiced_distance(torch.tensor([True, False, True, True, True, False])).tolist() == [1, 0, 1, 2, 1, 0]
    assert voiced_distance(torch.tensor([True, True, False])).tolist() == [2, 1, 0]
    hour = torch.rand(90000, generator=torch.Generator().manual_seed(0)) < 0.99  # ~900 voiced frames
    distance = voiced_distance(hour)  # the table would hold 90000 x ~900 distances (0.6 GB)
    voiced = torch.nonzero(~hour).flatten()
    rows = torch.arange(40000, 41000)  # the table's answer for a slice of rows only
    assert torch.equal(distance[rows], (rows[:, None] - voiced[None]).abs().min(dim=1).values)
