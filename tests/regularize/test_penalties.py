"""L1/L2 penalties vs closed forms; L2 = SGD weight decay; Adam + L2 != AdamW (decoupled)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from replearn.regularize.penalties import (
    decoupled_weight_decay_step,
    l1_penalty,
    l2_penalty,
    sgd_weight_decay_step,
    soft_threshold,
    sparsity,
    weight_norm,
    weight_parameters,
)

LR, WD, STEPS = 0.05, 0.1, 25


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 2)).double()


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(32, 5, generator=gen, dtype=torch.float64)
    return x, torch.randn(32, 2, generator=gen, dtype=torch.float64)


def _train(model: nn.Module, opt: torch.optim.Optimizer, l2: float = 0.0, decoupled=None) -> None:
    """STEPS full-batch steps on a regression loss (+ an optional L2 penalty on all params)."""
    x, y = _data()
    for _ in range(STEPS):
        loss = (model(x) - y).square().mean()
        if l2:
            loss = loss + l2_penalty(model.parameters(), l2)
        opt.zero_grad()
        loss.backward()
        if decoupled is not None:
            with torch.no_grad():
                for p in model.parameters():
                    p.copy_(decoupled_weight_decay_step(p, LR, decoupled))
        opt.step()


def _flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_penalty_values_are_the_closed_forms():
    w = [torch.tensor([[1.0, -2.0], [0.5, 0.0]]).double(), torch.tensor([-3.0]).double()]
    assert float(l1_penalty(w, 0.1)) == pytest.approx(0.1 * 6.5, rel=1e-12)
    assert float(l2_penalty(w, 0.1)) == pytest.approx(0.05 * (1 + 4 + 0.25 + 9), rel=1e-12)
    assert float(l1_penalty([], 1.0)) == 0.0
    with pytest.raises(ValueError):
        l2_penalty(w, -1.0)


def test_penalty_gradients_are_lambda_w_and_lambda_sign_w():
    w = torch.tensor([1.5, -0.5, 2.0], dtype=torch.float64, requires_grad=True)
    (g2,) = torch.autograd.grad(l2_penalty([w], 0.3), w)
    (g1,) = torch.autograd.grad(l1_penalty([w], 0.3), w)
    torch.testing.assert_close(g2, 0.3 * w.detach(), rtol=1e-12, atol=0)
    torch.testing.assert_close(g1, 0.3 * torch.sign(w.detach()), rtol=1e-12, atol=0)


def test_weight_parameters_skip_biases():
    model = _model()
    assert [tuple(p.shape) for p in weight_parameters(model)] == [(7, 5), (2, 7)]


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_l2_penalty_with_sgd_equals_sgd_weight_decay(momentum):
    penalised, decayed = _model(), _model()
    _train(penalised, torch.optim.SGD(penalised.parameters(), lr=LR, momentum=momentum), l2=WD)
    _train(
        decayed,
        torch.optim.SGD(decayed.parameters(), lr=LR, momentum=momentum, weight_decay=WD),
    )
    torch.testing.assert_close(_flat(penalised), _flat(decayed), rtol=1e-10, atol=1e-12)


def test_sgd_weight_decay_step_is_one_torch_sgd_step():
    w = torch.randn(6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    g = torch.randn(6, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    p = nn.Parameter(w.clone())
    p.grad = g.clone()
    torch.optim.SGD([p], lr=LR, weight_decay=WD).step()
    torch.testing.assert_close(p.detach(), sgd_weight_decay_step(w, g, LR, WD), rtol=1e-12, atol=0)


def test_adam_l2_is_coupled_and_differs_from_adamw():
    penalised, coupled, adamw, manual = _model(), _model(), _model(), _model()
    _train(penalised, torch.optim.Adam(penalised.parameters(), lr=LR), l2=WD)
    _train(coupled, torch.optim.Adam(coupled.parameters(), lr=LR, weight_decay=WD))
    _train(adamw, torch.optim.AdamW(adamw.parameters(), lr=LR, weight_decay=WD))
    _train(manual, torch.optim.Adam(manual.parameters(), lr=LR), decoupled=WD)
    # Adam(weight_decay) is the L2 penalty inside Adam
    torch.testing.assert_close(_flat(penalised), _flat(coupled), rtol=1e-10, atol=1e-12)
    # AdamW = decoupled decay, then an Adam step without decay
    torch.testing.assert_close(_flat(manual), _flat(adamw), rtol=1e-10, atol=1e-12)
    # ... and the two are different algorithms
    assert float((_flat(adamw) - _flat(coupled)).abs().max()) > 1e-3


def test_soft_threshold_gives_exact_zeros():
    w = torch.tensor([-0.3, -0.05, 0.0, 0.02, 0.5])
    out = soft_threshold(w, 0.1)
    torch.testing.assert_close(out, torch.tensor([-0.2, 0.0, 0.0, 0.0, 0.4]))
    assert sparsity([out], tol=0.0) == pytest.approx(3 / 5)


def test_sparsity_and_norm():
    w = [torch.tensor([0.0, 1e-4, 0.5]), torch.tensor([[3.0, -4.0]])]
    assert sparsity(w, tol=1e-3) == pytest.approx(2 / 5)
    assert weight_norm(w) == pytest.approx((0.25 + 1e-8 + 25) ** 0.5, rel=1e-6)
