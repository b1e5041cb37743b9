"""MADE's autoregressive property: every head's Jacobian in x is strictly lower triangular."""

from __future__ import annotations

import pytest
import torch
from torch.autograd.functional import jacobian

from replearn.vae.made import MADE, made_degrees, made_masks


@pytest.mark.parametrize("hidden", [(12,), (10, 7)])
@pytest.mark.parametrize("context_dim", [0, 3])
def test_jacobian_is_strictly_lower_triangular(hidden: tuple[int, ...], context_dim: int) -> None:
    torch.manual_seed(0)
    d = 6
    made = MADE(d, hidden, heads=2, context_dim=context_dim).double()
    x = torch.randn(d, dtype=torch.float64)
    ctx = torch.randn(context_dim, dtype=torch.float64) if context_dim else None
    jac = jacobian(lambda v: made(v, ctx), x)  # (heads, D, D): d out[j, i] / d x[l]
    upper = torch.triu(torch.ones(d, d, dtype=torch.bool))  # i <= l: must be zero
    for head in jac:
        assert head[upper].abs().max() == 0.0
        assert head[~upper].abs().sum() > 0  # a real dependence on the earlier inputs
    # the first output of each head depends on nothing (bias / context only)
    assert jac[:, 0].abs().max() == 0.0


def test_masks_follow_the_degree_rules() -> None:
    degrees = made_degrees(4, (5,))
    assert degrees[1].tolist() == [1, 2, 3, 1, 2]
    hidden_mask, out_mask = made_masks(degrees)
    assert hidden_mask.shape == (5, 4) and out_mask.shape == (4, 5)
    assert hidden_mask[0].tolist() == [1, 0, 0, 0]  # degree-1 unit sees x_1 only
    assert out_mask[:, 2].tolist() == [0, 0, 0, 1]  # a degree-3 unit feeds output 4 only


def test_validation() -> None:
    with pytest.raises(ValueError, match="hidden"):
        MADE(6, (3,))
    made = MADE(3, (4,), context_dim=2)
    with pytest.raises(ValueError, match="context"):
        made(torch.randn(2, 3))
    with pytest.raises(ValueError, match="expected x"):
        made(torch.randn(2, 4), torch.randn(2, 2))
    assert "heads=1" in repr(made)
