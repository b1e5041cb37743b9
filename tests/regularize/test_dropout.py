"""Inverted dropout vs F.dropout (same RNG), its mean and zero fraction; DropPath per sample."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from replearn.regularize.dropout import (
    Dropout,
    DropPath,
    StochasticDepthBlock,
    drop_path,
    expected_depth,
    inverted_dropout,
    stochastic_depth_rates,
)

N = 200_000  # entries for the statistical checks


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_same_mask_as_f_dropout_with_the_same_rng(p):
    x = torch.randn(64, 33, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(7)
    ref = F.dropout(x, p, training=True)
    ours = inverted_dropout(x, p, generator=torch.Generator().manual_seed(7))
    assert torch.equal(ours, ref)
    torch.manual_seed(7)
    assert torch.equal(inverted_dropout(x, p), ref)  # global RNG path too


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_expectation_and_fraction_zeroed(p):
    x = torch.full((N,), 3.0, dtype=torch.float64)
    out = inverted_dropout(x, p, generator=torch.Generator().manual_seed(1))
    zeroed = float((out == 0).double().mean())
    # binomial: the zero fraction has standard deviation sqrt(p(1-p)/N); allow 5 sigma
    assert abs(zeroed - p) < 5 * math.sqrt(p * (1 - p) / N)
    # each entry is 3 * Bernoulli(1-p) / (1-p): mean 3, std 3 sqrt(p / (1-p))
    assert abs(float(out.mean()) - 3.0) < 5 * 3.0 * math.sqrt(p / (1 - p) / N)
    assert set(out.unique().tolist()) == {0.0, 3.0 / (1 - p)}


def test_eval_mode_and_p_zero_are_the_identity():
    x = torch.randn(5, 4)
    layer = Dropout(0.5).eval()
    assert layer(x) is x
    assert inverted_dropout(x, 0.0) is x
    assert drop_path(x, 0.3, training=False) is x
    with pytest.raises(ValueError):
        Dropout(1.0)


def test_gradient_is_the_mask():
    x = torch.randn(10, 6, requires_grad=True)
    gen = torch.Generator().manual_seed(3)
    out = inverted_dropout(x, 0.4, generator=gen)
    out.sum().backward()
    torch.testing.assert_close(x.grad, (out / x).detach())


def test_drop_path_zeroes_whole_samples():
    b, p = 4000, 0.3
    x = torch.randn(b, 3, 5, dtype=torch.float64) + 10.0  # no entry is 0
    out = drop_path(x, p, generator=torch.Generator().manual_seed(4))
    dropped = (out == 0).flatten(1).all(dim=1)  # (B,)
    kept = torch.isclose(out, x / (1 - p)).flatten(1).all(dim=1)
    assert bool((dropped ^ kept).all())  # every sample is either all dropped or all kept
    assert abs(float(dropped.double().mean()) - p) < 5 * math.sqrt(p * (1 - p) / b)


def test_stochastic_depth_rates_and_expected_depth():
    rates = stochastic_depth_rates(4, 0.5)
    assert rates == pytest.approx([0.125, 0.25, 0.375, 0.5])
    # Huang et al.: with L blocks and p_L = 0.5, E[depth] = L - 0.5 (L + 1) / 2 ~ 3L/4
    assert expected_depth(stochastic_depth_rates(54, 0.5)) == pytest.approx(54 - 0.5 * 55 / 2)


def test_stochastic_depth_block():
    torch.manual_seed(0)
    branch = nn.Linear(6, 6)
    block = StochasticDepthBlock(branch, 0.5)
    x = torch.randn(300, 6)
    block.eval()
    torch.testing.assert_close(block(x), x + branch(x))
    block.train()
    out = block(x)
    identity = torch.isclose(out, x).all(dim=1)
    residual = torch.isclose(out, x + 2 * branch(x)).all(dim=1)
    assert bool((identity | residual).all()) and 0 < int(identity.sum()) < 300
    assert "p=0.5" in repr(DropPath(0.5))
