"""OpenAI-ES and CMA-ES-lite against closed forms."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from replearn.experiments.optim.tasks import quadratic, quadratic_eigenvalues
from replearn.optim.evolution import (
    CMAES,
    EvolutionStrategy,
    centered_ranks,
    cma_weights,
    csa_sigma,
    es_gradient,
    rank_mu_update,
)

F64 = torch.float64


def test_mirrored_estimate_is_exact_projection_on_a_quadratic():
    # f(x) = 1/2 x^T A x + b^T x: f(t + s e) - f(t - s e) = 2 s grad^T e, for any sigma.
    gen = torch.Generator().manual_seed(0)
    m = torch.randn(5, 5, generator=gen, dtype=F64)
    a, b = m @ m.T, torch.randn(5, generator=gen, dtype=F64)
    theta, eps = (
        torch.randn(5, generator=gen, dtype=F64),
        torch.randn(7, 5, generator=gen, dtype=F64),
    )

    def f(x):
        return 0.5 * (x @ a * x).sum(-1) + x @ b

    grad = a @ theta + b
    for sigma in (1e-3, 0.5, 3.0):
        got = es_gradient(f(theta + sigma * eps), f(theta - sigma * eps), eps, sigma)
        torch.testing.assert_close(got, eps.T @ eps @ grad / 7, rtol=1e-9, atol=1e-9)


def test_es_step_is_sgd_on_the_estimate():
    x = torch.tensor([1.0, -2.0, 0.5], dtype=F64, requires_grad=True)
    eig = torch.tensor([1.0, 2.0, 3.0], dtype=F64)
    opt = EvolutionStrategy([x], lr=0.1, sigma=0.2, pairs=4, seed=3)
    start = x.detach().clone()
    opt.step(lambda: quadratic(x, eig))
    eps = torch.randn(4, 3, generator=torch.Generator().manual_seed(3), dtype=F64)
    g = eps.T @ eps @ (eig * start) / 4
    torch.testing.assert_close(x.detach(), start - 0.1 * g, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(opt.state[x]["grad_estimate"], g, rtol=1e-10, atol=1e-12)


def test_centered_ranks():
    r = centered_ranks(torch.tensor([3.0, -1.0, 10.0, 0.0, 2.0]))
    torch.testing.assert_close(r, torch.tensor([0.25, -0.5, 0.5, -0.25, 0.0]))


@pytest.mark.parametrize("shaping", [False, True])
def test_es_minimizes_a_quadratic(shaping):
    eig = quadratic_eigenvalues(8, 10.0)
    x = torch.ones(8, dtype=F64, requires_grad=True)
    lr = 0.02 if shaping else 0.05
    opt = EvolutionStrategy([x], lr=lr, sigma=0.05, pairs=8, rank_shaping=shaping)
    start = float(quadratic(x.detach(), eig))
    for _ in range(200):
        opt.step(lambda: quadratic(x, eig))
    assert float(quadratic(x.detach(), eig)) < 1e-3 * start


def test_cma_weights_follow_hansen():
    w, mu_eff = cma_weights(10)
    expected = torch.tensor([math.log(5.5) - math.log(i) for i in range(1, 6)], dtype=F64)
    torch.testing.assert_close(w, expected / expected.sum())
    assert mu_eff == pytest.approx(1 / float((w**2).sum())) and 1 < mu_eff < 5


def test_rank_mu_update_closed_form():
    gen = torch.Generator().manual_seed(1)
    y = torch.randn(3, 4, generator=gen, dtype=F64)
    w = torch.tensor([0.5, 0.3, 0.2], dtype=F64)
    cov = torch.eye(4, dtype=F64) * 2
    expected = 0.7 * cov + 0.3 * sum(w[i] * torch.outer(y[i], y[i]) for i in range(3))
    torch.testing.assert_close(rank_mu_update(cov, y, w, 0.3), expected)


def test_csa_grows_on_long_paths_and_shrinks_on_short_ones():
    n = 10
    chi = math.sqrt(n) * (1 - 1 / 40 + 1 / 2100)
    assert csa_sigma(1.0, chi, n, 0.3, 1.3) == pytest.approx(1.0)
    assert csa_sigma(1.0, 2 * chi, n, 0.3, 1.3) == pytest.approx(math.exp(0.3 / 1.3))
    assert csa_sigma(1.0, 0.0, n, 0.3, 1.3) == pytest.approx(math.exp(-0.3 / 1.3))


def test_cma_sigma_grows_on_a_linear_function():
    x = torch.zeros(5, dtype=F64, requires_grad=True)
    opt = CMAES([x], sigma=0.1, seed=0)
    for _ in range(30):
        opt.step(lambda: x.sum())
    assert opt.state[x]["sigma"] > 10 * 0.1


def test_cma_solves_an_ill_conditioned_quadratic_and_learns_its_shape():
    # rotated ellipsoid, condition 100: C should align with the inverse Hessian.
    gen = torch.Generator().manual_seed(2)
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=gen, dtype=F64))
    h = q @ torch.diag(quadratic_eigenvalues(4, 100.0)) @ q.T
    x = torch.ones(4, dtype=F64, requires_grad=True)
    opt = CMAES([x], sigma=0.5, popsize=12, seed=0)
    for _ in range(250):
        opt.step(lambda: 0.5 * x @ h @ x)
    assert float(0.5 * x.detach() @ h @ x.detach()) < 1e-12
    cov = opt.state[x]["cov"]
    # C^{1/2} H C^{1/2} close to a multiple of I: its condition number << 100
    evals, evecs = torch.linalg.eigh(cov)
    root = evecs @ torch.diag(evals.sqrt()) @ evecs.T
    e = torch.linalg.eigvalsh(root @ h @ root)
    assert float(e.max() / e.min()) < 5.0


def test_bad_arguments_are_refused():
    x = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="sigma"):
        EvolutionStrategy([x], sigma=0.0)
    with pytest.raises(ValueError, match="pairs"):
        EvolutionStrategy([x], pairs=0)
    with pytest.raises(ValueError, match="popsize"):
        CMAES([x], popsize=2)
    with pytest.raises(ValueError, match="closure"):
        CMAES([x]).step(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [EvolutionStrategy, CMAES])
def test_state_dict_round_trip_continues_identically(cls):
    eig = quadratic_eigenvalues(3, 10.0)

    def make(x):
        return cls([x], sigma=0.3, seed=5) if cls is CMAES else cls([x], lr=0.05, seed=5)

    x = torch.ones(3, dtype=F64, requires_grad=True)
    opt = make(x)
    for _ in range(3):
        opt.step(lambda: quadratic(x, eig))
    saved, x_saved = copy.deepcopy(opt.state_dict()), x.detach().clone()
    for _ in range(3):
        opt.step(lambda: quadratic(x, eig))
    y = x_saved.clone().requires_grad_()
    fresh = make(y)
    fresh.load_state_dict(saved)
    for _ in range(3):
        fresh.step(lambda: quadratic(y, eig))
    torch.testing.assert_close(y.detach(), x.detach(), rtol=0, atol=0)
