"""The sampler's conventions on vector fields whose answers are known."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from float_models.guidance import combine, guided_velocity
from float_models.sampling import Guidance, sample_motion, time_grid


class ConstantField(nn.Module):
    """v = c everywhere: counts its calls (for the step and cancel tests)."""

    def __init__(self, c: float = 1.0):
        super().__init__()
        self.c = nn.Parameter(torch.tensor(c))
        self.calls = 0

    def forward(self, t, x, wa, wr, we, prev_x, prev_wa):
        self.calls += 1
        return torch.full((x.shape[0], prev_x.shape[1] + x.shape[1], x.shape[2]), float(self.c))


def run(field, frames=120, **kw):
    audio = torch.zeros(1, frames, 8)
    return sample_motion(field, audio, torch.zeros(1, 8), torch.zeros(1, 7), num_frames=50, num_prev_frames=10,
                         guidance=Guidance(1.0, 1.0), **kw)


def test_grid_counts_points_not_steps():
    assert torch.equal(time_grid(10), torch.linspace(0, 1, 10))
    with pytest.raises(ValueError, match="nfe=1"):
        time_grid(1)


class QuadraticField(nn.Module):
    """v = 3 t^2: the exact flow moves every point by 1 from t = 0 to 1, but a solver's answer depends
    on its order and on the grid (unlike a constant field, which every solver integrates exactly)."""

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))  # where sample_motion reads device and dtype

    def forward(self, t, x, wa, wr, we, prev_x, prev_wa):
        speed = 3 * torch.as_tensor(t, dtype=x.dtype).reshape(-1)[0] ** 2
        return speed.expand(x.shape[0], prev_x.shape[1] + x.shape[1], x.shape[2])


# x(1) - x(0) on linspace(0, 1, nfe): Euler sums h * 3 t_k^2 over the left points, the midpoint rule
# evaluates the middles, and torchdiffeq's rk4 (the 3/8 rule) is exact for this cubic's derivative.
@pytest.mark.parametrize("solver, nfe, moved", [("euler", 5, 42 / 64), ("euler", 9, 420 / 512),
                                                 ("midpoint", 5, 0.984375), ("rk4", 5, 1.0)])
def test_each_solver_follows_its_grid(solver, nfe, moved):
    from float_models.sampling import window_noise

    out = run(QuadraticField(), solver=solver, nfe=nfe, seed=7)
    noise = window_noise(7, 1, 50, 8)
    assert out.shape == (1, 120, 8)
    for k in range(3):  # every window starts from the same seeded noise
        torch.testing.assert_close(out[:, 50 * k: 50 * k + 50][:, :min(50, 120 - 50 * k)],
                                   (noise + moved)[:, :min(50, 120 - 50 * k)])


def test_callback_counts_steps_and_can_cancel():
    seen = []
    field = ConstantField()
    run(field, nfe=10, callback=lambda d, t: seen.append((d, t)))
    assert seen == [(i, 27) for i in range(1, 28)] and field.calls == 27  # 3 windows x 9 steps

    class Stop(Exception):
        pass

    def cancel(done, total):
        if done == 2:
            raise Stop

    field = ConstantField()
    with pytest.raises(Stop):
        run(field, nfe=10, callback=cancel)
    assert field.calls == 1


def test_unknown_solver_is_named():
    with pytest.raises(ValueError, match="unknown solver 'rk45'"):
        run(ConstantField(), solver="rk45")


def test_cfv_formula_on_fake_branches():
    u, a, ae = torch.tensor(1.0), torch.tensor(3.0), torch.tensor(7.0)
    assert combine(u, a, ae, 2.0, 1.5) == u + 2.0 * (a - u) + 1.5 * (ae - a)

    def fmt(t, x, wa, wr, we, prev_x, prev_wa):  # branch identity written into the output
        return wa.sum(-1, keepdim=True) + 10 * we.sum(-1, keepdim=True).expand(-1, wa.shape[1], -1)

    x = torch.zeros(1, 3, 1)
    wa, we = torch.ones(1, 3, 1), torch.ones(1, 1, 7)
    out = guided_velocity(fmt, torch.zeros(1), x, wa, torch.zeros(1, 4), we, torch.zeros(1, 0, 1),
                          torch.zeros(1, 0, 1), a_cfg_scale=2.0, e_cfg_scale=3.0)
    # unconditional 0, audio 1, audio + emotion 71 -> 0 + 2 * 1 + 3 * 70
    assert torch.allclose(out, torch.full_like(out, 212.0))
