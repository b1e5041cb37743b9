"""Adagrad vs torch.optim.Adagrad (float64, 200 steps, parameters and state)."""

from __future__ import annotations

import copy

import pytest
import torch

from replearn.optim.adagrad import Adagrad, adagrad_effective_lr

PROBLEMS = ("net", "rosenbrock")
STATE = {"step": "step", "sum": "sum"}

CASES = [
    {"lr": 0.1},
    {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1},
    {"lr": 0.05, "initial_accumulator_value": 0.1, "eps": 1e-6},
    {"lr": 0.1, "maximize": True},
]


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("kwargs", CASES, ids=str)
def test_matches_torch(oracle, problem, kwargs):
    if kwargs.get("maximize"):
        oracle = oracle.negated()
    ours = oracle.run(problem, lambda p: Adagrad(p, **kwargs, foreach=False))
    ref = oracle.run(problem, lambda p: torch.optim.Adagrad(p, **kwargs))
    oracle.assert_same(ours, ref, STATE)


@pytest.mark.parametrize("kwargs", CASES[1:3], ids=str)
def test_foreach_equals_reference(oracle, kwargs):
    fast = oracle.run("net", lambda p: Adagrad(p, **kwargs, foreach=True))
    slow = oracle.run("net", lambda p: Adagrad(p, **kwargs, foreach=False))
    oracle.assert_same(fast, slow, STATE, rtol=1e-13, atol=1e-15)


def test_effective_step_is_the_update_per_gradient_and_never_grows(oracle):
    """theta_{t-1} - theta_t = alpha_t * g_t (Eqs. 4-5), and alpha_t never increases."""
    params = oracle.params("net")
    opt = Adagrad(params, lr=0.1, lr_decay=0.01)
    previous = None
    for _ in range(30):
        opt.zero_grad()
        oracle.loss("net", params).backward()
        before = [p.detach().clone() for p in params]
        opt.step()
        alphas = [
            adagrad_effective_lr(
                opt.state[p]["sum"], int(opt.state[p]["step"]), lr=0.1, lr_decay=0.01, eps=1e-10
            )
            for p in params
        ]
        for p, b, a in zip(params, before, alphas, strict=True):
            torch.testing.assert_close(b - p.detach(), a * p.grad, rtol=1e-10, atol=1e-14)
        if previous is not None:
            assert all((a <= b).all() for a, b in zip(alphas, previous, strict=True))
        previous = alphas


def test_torch_state_dict_loads_and_continues(oracle):
    params, ref = oracle.run("net", lambda p: torch.optim.Adagrad(p, lr=0.1, lr_decay=0.01), 50)
    copies = [p.detach().clone().requires_grad_() for p in params]
    ours = Adagrad(copies, lr=0.1, lr_decay=0.01)
    ours.load_state_dict(copy.deepcopy(ref.state_dict()))
    expected = oracle.run("net", None, 50, params=params, opt=ref)
    oracle.assert_same(oracle.run("net", None, 50, params=copies, opt=ours), expected, STATE)


def test_signature_is_torchs(oracle):
    assert oracle.signature(Adagrad) == oracle.signature(torch.optim.Adagrad)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": -0.1}, r"lr must be in \[0, inf\)"),
        ({"lr_decay": -1}, r"lr_decay must be in \[0, inf\), got -1"),
        ({"initial_accumulator_value": -0.5}, "initial_accumulator_value must be in"),
        ({"eps": None}, "eps must be a real number"),
        ({"fused": True}, "fused=True is not implemented"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Adagrad([torch.zeros(2, requires_grad=True)], **kwargs)
