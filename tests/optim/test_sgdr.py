"""SGDR against torch's CosineAnnealingWarmRestarts."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.optim.sgdr import WarmRestarts, restart_position, sgdr_lr, sgdr_schedule


@pytest.mark.parametrize(("t_0", "t_mult", "eta_min"), [(10, 1, 0.0), (5, 2, 1e-3), (3, 3, 0.05)])
def test_matches_cosine_annealing_warm_restarts(t_0, t_mult, eta_min):
    w = [torch.zeros(2, dtype=torch.float64, requires_grad=True)]
    ours_opt = torch.optim.SGD(w, lr=0.4)
    ref_opt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.4)
    ours = WarmRestarts(ours_opt, T_0=t_0, T_mult=t_mult, eta_min=eta_min)
    ref = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        ref_opt, T_0=t_0, T_mult=t_mult, eta_min=eta_min
    )
    factor = sgdr_schedule(t_0=t_0, t_mult=t_mult, min_factor=eta_min / 0.4)
    for step in range(120):
        lr = ours_opt.param_groups[0]["lr"]
        assert lr == pytest.approx(ref_opt.param_groups[0]["lr"], rel=1e-12, abs=1e-15)
        assert 0.4 * factor(step, 0.0) == pytest.approx(lr, rel=1e-12, abs=1e-15)
        ours_opt.step()
        ref_opt.step()
        ours.step()
        ref.step()


def test_restart_positions():
    # T_0 = 4, T_mult = 2: runs [0, 4), [4, 12), [12, 28)
    assert [restart_position(s, 4, 2) for s in (0, 3, 4, 11, 12, 27, 28)] == [
        (0, 4), (3, 4), (0, 8), (7, 8), (0, 16), (15, 16), (0, 32)
    ]  # fmt: skip
    assert restart_position(25, 10, 1) == (5, 10)
    # exhaustive against a direct walk over the runs, far past float round-off of the log
    for t_0, t_mult in ((1, 2), (3, 3), (7, 2)):
        start, t_i = 0, t_0
        for step in range(3000):
            if step - start == t_i:
                start, t_i = step, t_i * t_mult
            assert restart_position(step, t_0, t_mult) == (step - start, t_i)


def test_rate_is_max_at_restarts_and_halfway_in_the_middle():
    assert sgdr_lr(8, lr_max=1.0, lr_min=0.0, t_0=8) == 1.0
    assert sgdr_lr(4, lr_max=1.0, lr_min=0.2, t_0=8) == pytest.approx(0.6)
    assert sgdr_lr(7, lr_max=1.0, lr_min=0.0, t_0=8) == pytest.approx(
        0.5 * (1 + math.cos(math.pi * 7 / 8))
    )


def test_bad_arguments_are_refused():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="t_0"):
        WarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="t_mult"):
        sgdr_schedule(t_0=3, t_mult=0)
    with pytest.raises(ValueError, match="eta_min"):
        WarmRestarts(opt, T_0=3, eta_min=-1.0)
