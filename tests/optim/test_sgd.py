"""SGD in the course's velocity form vs torch.optim.SGD, and Nesterov as a look-ahead gradient."""

from __future__ import annotations

import pytest
import torch

from replearn.experiments.optim.tasks import ROSENBROCK_START, rosenbrock
from replearn.optim.sgd import SGD

PROBLEMS = ("net", "rosenbrock")
LR = 1e-3

CASES = [
    {},
    {"momentum": 0.9},
    {"momentum": 0.9, "dampening": 0.5},
    {"momentum": 0.9, "nesterov": True},
    {"momentum": 0.8, "weight_decay": 0.1, "nesterov": True},
    {"weight_decay": 0.1},
    {"momentum": 0.9, "maximize": True},
]


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("kwargs", CASES, ids=str)
def test_matches_torch_with_velocity_equal_to_minus_lr_times_buffer(oracle, problem, kwargs):
    """Course form v <- rho v - eta g, theta <- theta + v is torch's b <- mu b + g,
    theta <- theta - eta b with v = -eta b (constant eta): same iterates, scaled state."""
    if kwargs.get("maximize"):
        oracle = oracle.negated()
    ours = oracle.run(problem, lambda p: SGD(p, lr=LR, **kwargs, foreach=False))
    ref = oracle.run(problem, lambda p: torch.optim.SGD(p, lr=LR, **kwargs))
    state = {"velocity": ("momentum_buffer", -LR)} if kwargs.get("momentum") else {}
    oracle.assert_same(ours, ref, state)


def test_nesterov_is_the_look_ahead_gradient():
    """Eq. (4) run literally (gradient at theta + rho v) vs SGD(nesterov=True), which holds
    the look-ahead point theta + rho v in the parameter (Eq. 5)."""
    lr, rho = 1e-3, 0.9
    theta = torch.tensor(ROSENBROCK_START, dtype=torch.float64)
    v = torch.zeros(2, dtype=torch.float64)
    phi = theta.clone().requires_grad_()  # theta_0 + rho * v_0
    opt = SGD([phi], lr=lr, momentum=rho, nesterov=True)
    for _ in range(200):
        look = (theta + rho * v).requires_grad_()
        (grad,) = torch.autograd.grad(rosenbrock(look), look)
        v = rho * v - lr * grad  # Eq. (4)
        theta = theta + v
        opt.zero_grad()
        rosenbrock(phi).backward()
        opt.step()
    torch.testing.assert_close(phi.detach(), theta + rho * v, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(opt.state[phi]["velocity"], v, rtol=1e-10, atol=1e-12)


def test_under_a_schedule_the_velocity_keeps_its_step_sizes(oracle):
    """With a changing eta the course form is the recurrence v <- rho v - eta_t g, theta += v;
    torch rescales its whole buffer by the current eta, so the two then differ."""
    lr, rho = 1e-3, 0.9

    def halve(opt):
        return torch.optim.lr_scheduler.StepLR(opt, step_size=50, gamma=0.5)

    ours = oracle.run("rosenbrock", lambda p: SGD(p, lr=lr, momentum=rho), schedule=halve)
    ref = oracle.run(
        "rosenbrock", lambda p: torch.optim.SGD(p, lr=lr, momentum=rho), schedule=halve
    )
    theta = torch.tensor(ROSENBROCK_START, dtype=torch.float64)
    v = torch.zeros(2, dtype=torch.float64)
    for t in range(oracle.steps):
        x = theta.clone().requires_grad_()
        (grad,) = torch.autograd.grad(rosenbrock(x), x)
        v = rho * v - lr * 0.5 ** (t // 50) * grad
        theta = theta + v
    torch.testing.assert_close(ours[0][0].detach(), theta, rtol=1e-10, atol=1e-12)
    assert not torch.allclose(ours[0][0], ref[0][0], rtol=1e-6, atol=0)


@pytest.mark.parametrize("kwargs", [CASES[2], CASES[4], CASES[5]], ids=str)
def test_foreach_equals_reference(oracle, kwargs):
    fast = oracle.run("net", lambda p: SGD(p, lr=LR, **kwargs, foreach=True))
    slow = oracle.run("net", lambda p: SGD(p, lr=LR, **kwargs, foreach=False))
    state = {"velocity": "velocity"} if kwargs.get("momentum") else {}
    oracle.assert_same(fast, slow, state, rtol=1e-13, atol=1e-15)


def test_foreach_with_a_parameter_that_starts_late():
    """A tensor without gradient on the first step gets its first velocity later."""
    results = []
    for foreach in (False, True):
        a = torch.ones(3, dtype=torch.float64, requires_grad=True)
        b = torch.ones(2, dtype=torch.float64, requires_grad=True)
        opt = SGD([a, b], lr=0.1, momentum=0.9, dampening=0.3, foreach=foreach)
        for step in range(5):
            opt.zero_grad()
            loss = (a**2).sum() + (step > 0) * (b**3).sum()
            loss.backward()
            if step == 0:
                b.grad = None
            opt.step()
        results.append((a.detach().clone(), b.detach().clone()))
    for x, y in zip(*results, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-14, atol=0)


def test_signature_is_torchs(oracle):
    assert oracle.signature(SGD) == oracle.signature(torch.optim.SGD)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": -0.1}, r"lr must be in \[0, inf\), got -0.1"),
        ({"momentum": 1.0}, r"momentum must be in \[0, 1\), got 1.0"),
        ({"dampening": 2.0}, r"dampening must be in \[0, 1\]"),
        ({"nesterov": True}, "nesterov=True needs momentum > 0 and dampening = 0"),
        ({"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "dampening = 0"),
        ({"weight_decay": float("nan")}, "weight_decay must be a real number"),
        ({"differentiable": True}, "differentiable=True is not supported"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SGD([torch.zeros(2, requires_grad=True)], **kwargs)
