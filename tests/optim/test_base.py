"""Registry-wide expectations of every optimizer, and the shared argument checks."""

from __future__ import annotations

import io

import pytest
import torch

from replearn import registry
from replearn.experiments.optim.tasks import BEALE_MIN, ROSENBROCK_MIN, beale, rosenbrock
from replearn.optim.base import ReplearnOptimizer, check_beta, check_number

# Settings that take each optimizer from f = 12.5 at (-1.5, 2) to f < 6.25 in 200 steps.
SETTINGS = {
    "optim.sgd": {"lr": 1e-3, "momentum": 0.9, "nesterov": True},
    "optim.adagrad": {"lr": 0.3},
    "optim.rmsprop": {"lr": 1e-2, "centered": True},
    "optim.adam": {"lr": 3e-2},
    "optim.adamw": {"lr": 3e-2, "weight_decay": 1e-3},
    "optim.amsgrad": {"lr": 3e-2},
    "optim.adabound": {"lr": 3e-2, "final_lr": 1e-3, "gamma": 1e-2},
}
# torch.optim counterparts that must agree under an LR schedule (SGD's course form does not).
TORCH_TWINS = {
    "optim.adagrad": (torch.optim.Adagrad, {}),
    "optim.rmsprop": (torch.optim.RMSprop, {}),
    "optim.adam": (torch.optim.Adam, {}),
    "optim.adamw": (torch.optim.AdamW, {}),
    "optim.amsgrad": (torch.optim.Adam, {"amsgrad": True}),
}
# Closure-driven methods (L-BFGS, Newton, ES, CMA-ES), the SGDR schedule and the closed-form
# least squares are not gradient-step optimizers: each has its own tests/optim/test_<file>.py.
OTHER_METHODS = {
    "optim.lbfgs",
    "optim.newton",
    "optim.es",
    "optim.cma_es",
    "optim.sgdr",
    "optim.least_squares",
}
ENTRIES = [e for e in registry.entries(kind="method", topic="optim") if e.name not in OTHER_METHODS]
NAMES = [e.name for e in ENTRIES]


def make(name, params, **extra):
    return registry.get(name).obj(params, **{**SETTINGS[name], **extra})


def test_every_optimizer_is_covered_here():
    assert set(NAMES) == set(SETTINGS)
    every = {e.name for e in registry.entries(kind="method", topic="optim")}
    assert every == set(SETTINGS) | OTHER_METHODS
    assert len(NAMES) >= 7


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_is_a_documented_torch_optimizer(entry):
    assert issubclass(entry.obj, ReplearnOptimizer)
    assert issubclass(entry.obj, torch.optim.Optimizer)
    assert any(str(year) in entry.paper for year in range(1950, 2030)), entry.paper
    doc = __import__(entry.obj.__module__, fromlist=["_"]).__doc__
    assert "(1)" in doc and ("arXiv" in doc or "JMLR" in doc or "Robbins" in doc)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("foreach", [False, True])
def test_decreases_rosenbrock(oracle, name, foreach):
    params, _ = oracle.run("rosenbrock", lambda p: make(name, p, foreach=foreach))
    start = rosenbrock(torch.tensor((-1.5, 2.0), dtype=torch.float64))
    final = rosenbrock(params[0].detach())
    assert final < 0.5 * start, f"{name}: {start:.3g} -> {final:.3g}"


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_continues_identically(oracle, name):
    """Save after 30 steps (through torch.save / weights_only torch.load), load into a fresh
    optimizer on a copy of the parameters, go on: identical to 60 uninterrupted steps."""
    params, opt = oracle.run("net", lambda p: make(name, p, weight_decay=0.01), 30)
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    copies = [p.detach().clone().requires_grad_() for p in params]
    fresh = make(name, copies, lr=123.0)  # a different lr: load_state_dict restores it
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    uninterrupted = oracle.run("net", None, 30, params=params, opt=opt)
    resumed = oracle.run("net", None, 30, params=copies, opt=fresh)
    for a, b in zip(uninterrupted[0], resumed[0], strict=True):
        assert torch.equal(a, b)
    assert fresh.param_groups[0]["lr"] == SETTINGS[name]["lr"]


@pytest.mark.parametrize("name", NAMES)
def test_parameter_groups_keep_their_own_lr(oracle, name):
    """One optimizer with two groups == two optimizers, one per group, stepped together."""
    lr = SETTINGS[name]["lr"]
    grouped_params = oracle.params("net")
    grouped = make(
        name, [{"params": grouped_params[:2]}, {"params": grouped_params[2:], "lr": lr / 3}]
    )
    split_params = oracle.params("net")
    first, second = make(name, split_params[:2]), make(name, split_params[2:], lr=lr / 3)
    for _ in range(50):
        for opts, ps in (([grouped], grouped_params), ([first, second], split_params)):
            for o in opts:
                o.zero_grad()
            oracle.loss("net", ps).backward()
            for o in opts:
                o.step()
    for a, b in zip(grouped_params, split_params, strict=True):
        assert torch.equal(a, b)
    assert grouped.param_groups[1]["lr"] == lr / 3


@pytest.mark.parametrize("name", sorted(TORCH_TWINS))
def test_torch_schedulers_drive_the_lr_as_in_torch(oracle, name):
    torch_cls, extra = TORCH_TWINS[name]
    kwargs = {**SETTINGS[name], **extra}

    def schedule(opt):
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=oracle.steps)

    ours = oracle.run("net", lambda p: make(name, p), schedule=schedule)
    ref = oracle.run("net", lambda p: torch_cls(p, **kwargs), schedule=schedule)
    oracle.assert_same(ours, ref, {"step": "step"})
    assert ours[1].param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_negative_lr_raises_a_clear_error(name):
    with pytest.raises(ValueError, match=r"^lr must be in [\[(]0, inf\), got -1.0$"):
        make(name, [torch.zeros(2, requires_grad=True)], lr=-1.0)


@pytest.mark.parametrize("name", NAMES)
def test_parameters_without_gradient_are_left_alone(name):
    a, b = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    opt = make(name, [a, b])
    (a**2).sum().backward()
    opt.step()
    assert torch.equal(b.detach(), torch.ones(2)) and len(opt.state[b]) == 0
    assert not torch.equal(a.detach(), torch.ones(2))


def test_check_number_messages():
    check_number("x", 0.5, high=1.0)
    with pytest.raises(ValueError, match=r"x must be in \(0, 1\], got 0"):
        check_number("x", 0, high=1.0, low_open=True)
    with pytest.raises(ValueError, match="x must be a real number"):
        check_number("x", True)
    with pytest.raises(ValueError, match=r"b must be a tuple of 2 numbers in \[0, 1\)"):
        check_beta("b", [0.9])


def test_test_functions_have_their_minima_where_documented():
    assert rosenbrock(torch.tensor(ROSENBROCK_MIN)) == 0
    assert beale(torch.tensor(BEALE_MIN)) == 0
    assert rosenbrock(torch.tensor([[0.0, 0.0], [1.0, 2.0]])).shape == (2,)
