"""Newton's method against closed forms and torch's autograd Hessian."""

from __future__ import annotations

import itertools

import pytest
import torch

from replearn.experiments.optim.tasks import rosenbrock
from replearn.optim.newton import Newton, hessian, modified_newton_direction, newton_direction

F64 = torch.float64


def _spd(n: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    m = torch.randn(n, n, generator=gen, dtype=F64)
    return m @ m.T + 0.5 * torch.eye(n, dtype=F64)


def test_hessian_matches_autograd_functional():
    w = torch.tensor([0.3, -1.2, 0.7], dtype=F64, requires_grad=True)
    b = torch.tensor([[0.5], [2.0]], dtype=F64, requires_grad=True)

    def f(w, b):
        return (torch.sin(w).sum() * b.prod()) + (w**3).sum() * b.sum() + (w[0] * w[2]) ** 2

    g, h = hessian(f(w, b), [w, b])
    ref = torch.autograd.functional.hessian(f, (w, b))
    full = torch.cat([torch.cat([r.reshape(w.numel() if i == 0 else b.numel(), -1)
                                 for r in ref[i]], dim=1) for i in range(2)])  # fmt: skip
    torch.testing.assert_close(h, full, rtol=1e-12, atol=1e-12)
    gw, gb = torch.autograd.grad(f(w, b), [w, b])
    torch.testing.assert_close(g, torch.cat([gw, gb.reshape(-1)]), rtol=1e-12, atol=1e-12)


def test_one_pure_step_solves_a_quadratic():
    a, rhs = _spd(6, 0), torch.linspace(-1, 1, 6, dtype=F64)
    x = torch.zeros(6, dtype=F64, requires_grad=True)
    opt = Newton([x])
    opt.step(lambda: 0.5 * x @ a @ x - rhs @ x)
    torch.testing.assert_close(x.detach(), torch.linalg.solve(a, rhs), rtol=1e-10, atol=1e-12)


def test_newton_direction_with_damping_is_the_regularized_solve():
    a, g = _spd(4, 1), torch.ones(4, dtype=F64)
    got = newton_direction(g, a, damping=0.3)
    torch.testing.assert_close(got, -torch.linalg.solve(a + 0.3 * torch.eye(4, dtype=F64), g))


def test_modification_only_when_the_hessian_is_indefinite():
    g = torch.tensor([1.0, 1.0], dtype=F64)
    d, mu = modified_newton_direction(g, torch.diag(torch.tensor([2.0, 4.0], dtype=F64)), 1e-3)
    assert mu == 0.0
    torch.testing.assert_close(d, torch.tensor([-0.5, -0.25], dtype=F64))
    d, mu = modified_newton_direction(g, torch.diag(torch.tensor([2.0, -1.0], dtype=F64)), 1e-3)
    assert mu > 1.0 and float(g @ d) < 0  # shifted past the -1 eigenvalue; descent


def test_quadratic_convergence_on_rosenbrock():
    x = torch.tensor([1.2, 1.2], dtype=F64, requires_grad=True)
    opt = Newton([x])
    errors = []
    for _ in range(6):
        opt.step(lambda: rosenbrock(x))
        errors.append(float((x.detach() - 1).norm()))
    assert errors[-1] < 1e-12
    # e_{k+1} <= C e_k^2 while the error is above round-off
    ratios = [b / a**2 for a, b in itertools.pairwise(errors) if a > 1e-7]
    assert len(ratios) >= 2 and max(ratios) < 10.0, ratios


def test_damped_descends_where_pure_newton_climbs_to_a_maximum():
    # double well f = x^4/4 - x^2/2: maximum at 0, minima at +-1; start near the maximum.
    def run(damped: bool) -> float:
        x = torch.tensor([0.2], dtype=F64, requires_grad=True)
        opt = Newton([x], damped=damped)
        for _ in range(30):
            opt.step(lambda: (x**4 / 4 - x**2 / 2).sum())
        return float(x.detach())

    assert abs(run(False)) < 1e-8  # converged to the maximum x = 0
    assert abs(run(True)) == pytest.approx(1.0, abs=1e-8)


def test_damped_reaches_rosenbrock_minimum_from_the_usual_start():
    x = torch.tensor([-1.5, 2.0], dtype=F64, requires_grad=True)
    opt = Newton([x], damped=True)
    losses = [float(opt.step(lambda: rosenbrock(x))) for _ in range(40)]
    assert all(b <= a for a, b in itertools.pairwise(losses))  # monotone
    torch.testing.assert_close(x.detach(), torch.ones(2, dtype=F64), rtol=0, atol=1e-8)


def test_bad_arguments_are_refused():
    x = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="damping"):
        Newton([x], damping=0.0)
    with pytest.raises(ValueError, match="damped"):
        Newton([x], damped=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="closure"):
        Newton([x]).step(None)  # type: ignore[arg-type]
