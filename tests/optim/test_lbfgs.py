"""L-BFGS against torch.optim.LBFGS, and the two-loop recursion against closed forms."""

from __future__ import annotations

import copy

import pytest
import torch

from replearn.experiments.optim.tasks import (
    ROSENBROCK_START,
    quadratic,
    quadratic_eigenvalues,
    rosenbrock,
)
from replearn.optim.lbfgs import LBFGS, armijo_backtracking, lbfgs_direction

EIG = quadratic_eigenvalues(6, 100.0)


def _problem(name: str):
    if name == "quadratic":
        x = torch.linspace(1.0, -2.0, 6, dtype=torch.float64).requires_grad_()
        return x, lambda: quadratic(x, EIG)
    x = torch.tensor(ROSENBROCK_START, dtype=torch.float64, requires_grad=True)
    return x, lambda: rosenbrock(x)


def _run(cls, name: str, steps: int, **kw):
    x, f = _problem(name)
    opt = cls([x], **kw)

    def closure():
        opt.zero_grad()
        loss = f()
        loss.backward()
        return loss

    path = []
    for _ in range(steps):
        loss = opt.step(closure)
        path.append((x.detach().clone(), float(loss.detach())))
    return path, opt


@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("quadratic", dict(lr=0.5, max_iter=5, history_size=3)),
        ("quadratic", dict(lr=1.0, max_iter=20)),
        ("rosenbrock", dict(lr=0.1, max_iter=10, history_size=5)),
        ("rosenbrock", dict(lr=0.05, max_iter=4, history_size=100)),
    ],
)
def test_matches_torch_lbfgs(name, kw):
    ours, opt = _run(LBFGS, name, 15, **kw)
    ref, ref_opt = _run(torch.optim.LBFGS, name, 15, **kw)
    for (xa, la), (xb, lb) in zip(ours, ref, strict=True):
        torch.testing.assert_close(xa, xb, rtol=1e-10, atol=1e-12)
        assert la == pytest.approx(lb, rel=1e-10, abs=1e-14)
    s_ours, s_ref = opt.state[opt._params[0]], ref_opt.state[ref_opt._params[0]]
    assert s_ours["n_iter"] == s_ref["n_iter"] and s_ours["func_evals"] == s_ref["func_evals"]
    assert len(s_ours["old_dirs"]) == len(s_ref["old_dirs"])


def test_full_memory_recovers_the_newton_direction_on_a_quadratic():
    # BFGS with exact line search on a d-dim quadratic: after d pairs H_k = A^{-1} exactly.
    gen = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(5, 5, generator=gen, dtype=torch.float64))
    a = q @ torch.diag(torch.tensor([1.0, 2.0, 5.0, 20.0, 50.0], dtype=torch.float64)) @ q.T
    x = torch.randn(5, generator=gen, dtype=torch.float64)
    steps, dirs = [], []
    gamma = 1.0
    for _ in range(5):
        g = a @ x
        d = lbfgs_direction(g, steps, dirs, gamma)
        t = -(g @ d) / (d @ a @ d)  # exact line search
        s = t * d
        y = a @ s
        steps.append(s)
        dirs.append(y)
        gamma = float(s @ y / (y @ y))
        x = x + s
    g = torch.randn(5, generator=gen, dtype=torch.float64)
    newton = -torch.linalg.solve(a, g)
    torch.testing.assert_close(
        lbfgs_direction(g, steps, dirs, gamma), newton, rtol=1e-8, atol=1e-10
    )


def test_empty_memory_is_scaled_steepest_descent():
    g = torch.tensor([1.0, -2.0], dtype=torch.float64)
    torch.testing.assert_close(lbfgs_direction(g, [], [], 0.25), -0.25 * g)


def test_backtracking_reaches_the_rosenbrock_minimum():
    path, opt = _run(
        LBFGS, "rosenbrock", 10, lr=1.0, line_search_fn="backtracking", tolerance_change=1e-15
    )
    x, _ = path[-1]
    torch.testing.assert_close(x, torch.ones(2, dtype=torch.float64), rtol=0, atol=1e-5)
    assert opt.state[opt._params[0]]["func_evals"] > 0


def test_armijo_halves_until_sufficient_decrease():
    # f(t) = (1 - t)^2 * 10 from f(0) = 10 with g.d = -20: t = 1 gives 0 (accepted at once);
    # a start at t = 4 gives 90, then t = 2 gives 10 (not < 10 - ...), t = 1 accepted.
    f = lambda t: 10 * (1 - t) ** 2  # noqa: E731
    assert armijo_backtracking(f, 10.0, -20.0, 1.0) == (1.0, 1)
    assert armijo_backtracking(f, 10.0, -20.0, 4.0) == (1.0, 3)


def test_bad_arguments_are_refused():
    x = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="line_search_fn"):
        LBFGS([x], line_search_fn="strong_wolfe")
    with pytest.raises(ValueError, match="history_size"):
        LBFGS([x], history_size=0)
    with pytest.raises(ValueError, match="lr"):
        LBFGS([x], lr=0.0)
    with pytest.raises(ValueError, match="closure"):
        LBFGS([x]).step(None)  # type: ignore[arg-type]


def test_state_dict_round_trip_continues_identically():
    x, _ = _problem("rosenbrock")
    opt = LBFGS([x], lr=0.1, max_iter=5, history_size=4)

    def closure(x=x, opt=opt):
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    saved, x_saved = copy.deepcopy(opt.state_dict()), x.detach().clone()
    for _ in range(3):
        opt.step(closure)
    y = x_saved.clone().requires_grad_()
    fresh = LBFGS([y], lr=0.1, max_iter=5, history_size=4)
    fresh.load_state_dict(saved)

    def closure_y():
        fresh.zero_grad()
        loss = rosenbrock(y)
        loss.backward()
        return loss

    for _ in range(3):
        fresh.step(closure_y)
    torch.testing.assert_close(y.detach(), x.detach(), rtol=0, atol=0)
