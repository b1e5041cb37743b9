"""Least squares in closed form against torch.linalg.lstsq, and gradient descent against Eq. (4)."""

from __future__ import annotations

import pytest
import torch

from replearn.optim import SGD
from replearn.optim.least_squares import (
    gd_closed_form,
    gd_rate,
    gd_steps_bound,
    least_squares,
    normal_matrix,
)

F64 = torch.float64
GEN = torch.Generator().manual_seed(0)
X = torch.randn(50, 6, generator=GEN, dtype=F64) * torch.logspace(-1, 1, 6, dtype=F64)
Y = torch.randn(50, generator=GEN, dtype=F64)


@pytest.mark.parametrize("method", ["qr", "normal"])
@pytest.mark.parametrize("multi", [False, True])
def test_matches_torch_lstsq(method, multi):
    y = torch.stack([Y, 2 * Y + 1], dim=1) if multi else Y
    ref = torch.linalg.lstsq(X, y if multi else y.unsqueeze(-1)).solution
    got = least_squares(X, y, method=method)
    torch.testing.assert_close(got, ref if multi else ref.squeeze(-1), rtol=1e-9, atol=1e-10)


def test_ridge_matches_lstsq_on_the_augmented_system():
    lam, n = 0.3, X.shape[0]
    # min 1/(2n)|Xw-y|^2 + lam/2 |w|^2 = least squares of [X; sqrt(n lam) I] w = [y; 0]
    aug_x = torch.cat([X, (n * lam) ** 0.5 * torch.eye(6, dtype=F64)])
    aug_y = torch.cat([Y, torch.zeros(6, dtype=F64)])
    ref = torch.linalg.lstsq(aug_x, aug_y.unsqueeze(-1)).solution.squeeze(-1)
    torch.testing.assert_close(least_squares(X, Y, ridge=lam), ref, rtol=1e-9, atol=1e-10)


def test_gradient_descent_follows_the_closed_form_every_step():
    a, _ = normal_matrix(X, Y)
    w_star = least_squares(X, Y)
    w = torch.zeros(6, dtype=F64, requires_grad=True)
    lr = 1.0 / float(torch.linalg.eigvalsh(a).max())
    opt = SGD([w], lr=lr)
    for k in range(1, 60):
        opt.zero_grad()
        (0.5 * ((X @ w - Y) ** 2).mean()).backward()
        opt.step()
        expected = gd_closed_form(a, w_star, torch.zeros(6, dtype=F64), lr, k)
        torch.testing.assert_close(w.detach(), expected, rtol=1e-9, atol=1e-11)


def test_rate_and_step_bound():
    a = torch.diag(torch.tensor([1.0, 10.0], dtype=F64))
    assert gd_rate(a, 2 / 11) == pytest.approx(9 / 11)  # (kappa - 1) / (kappa + 1)
    assert gd_rate(a, 0.25) == pytest.approx(1.5)  # diverges: 1 - 0.25 * 10 = -1.5
    # error along the slow direction after k steps: (9/11)^k <= 1e-6 from k = 69
    assert gd_steps_bound(10.0, 1e-6) == 69
    assert (9 / 11) ** 69 <= 1e-6 < (9 / 11) ** 68


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="method"):
        least_squares(X, Y, method="svd")
    with pytest.raises(ValueError, match="ridge"):
        least_squares(X, Y, ridge=-1.0)
    with pytest.raises(ValueError, match="need x"):
        least_squares(X[:, 0], Y)
