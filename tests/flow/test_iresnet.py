"""i-ResNet: fixed-point inverse (Alg. 1), power series + Hutchinson (Eq. 6), exact option."""

from __future__ import annotations

import pytest
import torch

from replearn.flow import IResNet, IResNetBlock
from replearn.flow.iresnet import (
    LipschitzMLP,
    exact_residual_log_det,
    fixed_point_inverse,
    power_series_log_det,
)


def _block(coeff: float = 0.9, dim: int = 3, **kw) -> IResNetBlock:
    torch.manual_seed(0)
    block = IResNetBlock(dim, hidden=16, coeff=coeff, **kw).double()
    block.train()
    for _ in range(30):  # converge the power iterations
        block.g.weights()
    return block.eval()


def test_lipschitz_bound_holds_by_svd() -> None:
    block = _block(coeff=0.7)
    for w, _ in block.g.weights():
        assert torch.linalg.matrix_norm(w, ord=2) <= 0.7 + 1e-6


def test_exact_log_det_matches_autograd_jacobian(jac_log_det) -> None:
    block = _block(log_det="exact")
    x = torch.randn(4, 3, dtype=torch.float64)
    torch.testing.assert_close(block(x)[1], jac_log_det(block, x), rtol=1e-10, atol=1e-10)


def test_hutchinson_power_series_is_unbiased_for_the_truncated_series() -> None:
    block = _block(coeff=0.9)
    weights = block.g.weights()

    def g(v):
        return LipschitzMLP.apply(v, weights)

    x = torch.randn(1, 3, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: g(v[None])[0], x[0])
    n_terms = 6
    truncated = sum(
        (-1) ** (k + 1) / k * torch.trace(torch.linalg.matrix_power(jac, k))
        for k in range(1, n_terms + 1)
    )
    gen = torch.Generator().manual_seed(0)
    xs = x.expand(4000, 3)
    _, est = power_series_log_det(g, xs, n_terms=n_terms, generator=gen, create_graph=False)
    se = est.std() / len(est) ** 0.5
    assert abs(est.mean() - truncated) < 4 * se
    # and the series converges to the exact log-determinant as n grows (Lip < 1)
    exact = exact_residual_log_det(g, x)[0]
    long = sum(
        (-1) ** (k + 1) / k * torch.trace(torch.linalg.matrix_power(jac, k)) for k in range(1, 200)
    )
    torch.testing.assert_close(long, exact, rtol=1e-8, atol=1e-8)


def test_series_forward_is_trainable() -> None:
    block = _block()
    block.train()
    x = torch.randn(8, 3, dtype=torch.float64)
    z, log_det = block(x)
    (z.square().sum() - log_det.sum()).backward()
    assert all(p.grad is not None for p in block.parameters())


def test_fixed_point_inverse_reaches_1e_4() -> None:
    torch.manual_seed(0)
    model = IResNet(2, n_blocks=3, hidden=32, coeff=0.9)
    model(torch.randn(64, 2))  # ActNorm init
    model.eval()
    x = torch.randn(256, 2)
    z, _ = model(x)
    torch.testing.assert_close(model.inverse(z), x, rtol=0, atol=1e-4)


def test_fixed_point_inverse_reports_iterations() -> None:
    y = torch.randn(5, 2, dtype=torch.float64)
    x, n = fixed_point_inverse(lambda v: 0.5 * torch.tanh(v), y, atol=1e-12)
    torch.testing.assert_close(x + 0.5 * torch.tanh(x), y, rtol=1e-11, atol=1e-11)
    assert 1 < n < 100


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="log_det"):
        IResNetBlock(2, log_det="trace")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="coeff"):
        IResNetBlock(2, coeff=0.0)
    with pytest.raises(ValueError, match="n_blocks"):
        IResNet(2, n_blocks=0)
