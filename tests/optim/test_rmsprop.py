"""RMSprop vs torch.optim.RMSprop (float64, 200 steps, parameters and state)."""

from __future__ import annotations

import pytest
import torch

from replearn.optim.rmsprop import RMSprop

PROBLEMS = ("net", "rosenbrock")

CASES = [
    {"lr": 1e-2},
    {"lr": 1e-2, "centered": True},
    {"lr": 1e-3, "momentum": 0.9},
    {"lr": 1e-3, "centered": True, "momentum": 0.5, "weight_decay": 0.1, "alpha": 0.9},
    {"lr": 1e-2, "eps": 1e-4, "maximize": True},
]


def state_keys(kwargs):
    keys = {"step": "step", "square_avg": "square_avg"}
    if kwargs.get("centered"):
        keys["grad_avg"] = "grad_avg"
    if kwargs.get("momentum"):
        keys["momentum_buffer"] = "momentum_buffer"
    return keys


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("kwargs", CASES, ids=str)
def test_matches_torch(oracle, problem, kwargs):
    if kwargs.get("maximize"):
        oracle = oracle.negated()
    ours = oracle.run(problem, lambda p: RMSprop(p, **kwargs, foreach=False))
    ref = oracle.run(problem, lambda p: torch.optim.RMSprop(p, **kwargs))
    oracle.assert_same(ours, ref, state_keys(kwargs))


@pytest.mark.parametrize("kwargs", CASES[2:4], ids=str)
def test_foreach_equals_reference(oracle, kwargs):
    fast = oracle.run("net", lambda p: RMSprop(p, **kwargs, foreach=True))
    slow = oracle.run("net", lambda p: RMSprop(p, **kwargs, foreach=False))
    oracle.assert_same(fast, slow, state_keys(kwargs), rtol=1e-13, atol=1e-15)


def test_centered_divides_by_the_standard_deviation():
    """One step from zero state: s = (1-a) g^2, gbar = (1-a) g, r = sqrt(s - gbar^2) + eps."""
    g = torch.tensor([0.5, -2.0], dtype=torch.float64)
    theta = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = RMSprop([theta], lr=0.1, alpha=0.9, eps=0.0, centered=True)
    theta.grad = g.clone()
    opt.step()
    std = ((0.1 * g**2) - (0.1 * g) ** 2).sqrt()
    torch.testing.assert_close(theta.detach(), -0.1 * g / std, rtol=1e-14, atol=0)


def test_signature_is_torchs(oracle):
    assert oracle.signature(RMSprop) == oracle.signature(torch.optim.RMSprop)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": -1e-2}, r"lr must be in \[0, inf\)"),
        ({"alpha": 1.5}, r"alpha must be in \[0, 1\], got 1.5"),
        ({"momentum": -0.9}, r"momentum must be in \[0, inf\)"),
        ({"centered": "yes"}, "centered must be True or False"),
        ({"capturable": True}, "capturable=True is not supported"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RMSprop([torch.zeros(2, requires_grad=True)], **kwargs)
