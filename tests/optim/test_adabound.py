"""AdaBound vs its published update rule and vs pytorch_optimizer.AdaBound."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.optim.adabound import BLOCK, AdaBound, adabound_bounds

PROBLEMS = ("net", "rosenbrock")
STATE = {"step": "step", "exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq"}
CASES = [
    {"lr": 1e-2, "final_lr": 0.05, "gamma": 1e-2},
    {"lr": 3e-3, "betas": (0.8, 0.99), "final_lr": 0.01, "weight_decay": 0.1, "amsbound": True},
]


class PublishedAdaBound(torch.optim.Optimizer):
    """The update of the authors' implementation (github.com/Luolc/AdaBound, adabound.py),
    transcribed line by line with today's torch argument order."""

    def __init__(
        self,
        params,
        lr,
        betas=(0.9, 0.999),
        final_lr=0.1,
        gamma=1e-3,
        eps=1e-8,
        weight_decay=0,
        amsbound=False,
    ):
        defaults = dict(
            lr=lr,
            betas=betas,
            final_lr=final_lr,
            gamma=gamma,
            eps=eps,
            weight_decay=weight_decay,
            amsbound=amsbound,
        )
        super().__init__(params, defaults)
        self.base_lrs = [group["lr"] for group in self.param_groups]

    @torch.no_grad()
    def step(self, closure=None):
        for group, base_lr in zip(self.param_groups, self.base_lrs, strict=True):
            for p in group["params"]:
                grad, state = p.grad, self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                    if group["amsbound"]:
                        state["max_exp_avg_sq"] = torch.zeros_like(p)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                beta1, beta2 = group["betas"]
                state["step"] += 1
                if group["weight_decay"] != 0:
                    grad = grad.add(p, alpha=group["weight_decay"])
                exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                if group["amsbound"]:
                    torch.max(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
                    denom = state["max_exp_avg_sq"].sqrt().add_(group["eps"])
                else:
                    denom = exp_avg_sq.sqrt().add_(group["eps"])
                bias_correction1 = 1 - beta1 ** state["step"]
                bias_correction2 = 1 - beta2 ** state["step"]
                step_size = group["lr"] * math.sqrt(bias_correction2) / bias_correction1
                final_lr = group["final_lr"] * group["lr"] / base_lr
                lower_bound = final_lr * (1 - 1 / (group["gamma"] * state["step"] + 1))
                upper_bound = final_lr * (1 + 1 / (group["gamma"] * state["step"]))
                step_size = torch.full_like(denom, step_size)
                step_size.div_(denom).clamp_(lower_bound, upper_bound).mul_(exp_avg)
                p.add_(-step_size)


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("kwargs", CASES, ids=str)
@pytest.mark.parametrize("foreach", [False, True])
def test_matches_the_published_rule(oracle, problem, kwargs, foreach):
    ours = oracle.run(problem, lambda p: AdaBound(p, **kwargs, foreach=foreach))
    ref = oracle.run(problem, lambda p: PublishedAdaBound(p, **kwargs))
    state = {**STATE, "max_exp_avg_sq": "max_exp_avg_sq"} if kwargs.get("amsbound") else STATE
    oracle.assert_same(ours, ref, state)


def test_follows_a_schedule_like_the_published_rule(oracle):
    def halve(opt):
        return torch.optim.lr_scheduler.StepLR(opt, step_size=40, gamma=0.5)

    ours = oracle.run("net", lambda p: AdaBound(p, **CASES[0]), schedule=halve)
    ref = oracle.run("net", lambda p: PublishedAdaBound(p, **CASES[0]), schedule=halve)
    oracle.assert_same(ours, ref, STATE)


@pytest.mark.parametrize("problem", PROBLEMS)
def test_matches_pytorch_optimizer(oracle, problem):
    """pytorch_optimizer puts 1e-15 under the square root: agreement to ~1e-7 relative."""
    pytorch_optimizer = pytest.importorskip("pytorch_optimizer")
    kwargs = dict(CASES[1])
    ours = oracle.run(problem, lambda p: AdaBound(p, **kwargs))
    kwargs["ams_bound"] = kwargs.pop("amsbound")  # their spelling
    ref = oracle.run(
        problem, lambda p: pytorch_optimizer.AdaBound(p, **kwargs, weight_decouple=False)
    )
    del ours[1].state[ours[0][0]]["step"]  # pytorch_optimizer counts steps per group
    oracle.assert_same(ours, ref, {k: k for k in ("exp_avg", "exp_avg_sq")}, rtol=1e-6, atol=1e-9)


def test_bounds_close_in_on_final_lr():
    steps = [1, 10, 100, 1_000, 10_000, 100_000, 10_000_000]
    bounds = [adabound_bounds(t, final_lr=0.1, gamma=1e-3) for t in steps]
    lowers, uppers = zip(*bounds, strict=True)
    assert list(lowers) == sorted(lowers) and list(uppers) == sorted(uppers, reverse=True)
    assert all(lo < 0.1 < up for lo, up in bounds)
    assert uppers[-1] - lowers[-1] < 2.1e-5  # 0.1 * (1/(gamma t) + 1/(gamma t + 1))
    assert bounds[0] == pytest.approx((0.1 * (1 - 1 / 1.001), 0.1 * 1001))


def test_blocked_fast_path_on_large_and_strided_tensors():
    """Tensors over BLOCK elements are cut into blocks; non-contiguous ones go whole."""
    gen = torch.Generator().manual_seed(0)
    big = torch.randn(BLOCK + 1234, generator=gen, dtype=torch.float64)
    strided = torch.randn(7, 5, generator=gen, dtype=torch.float64).t()
    results = []
    for foreach in (False, True):
        params = [big.clone().requires_grad_(), strided.detach().clone().t().t().requires_grad_()]
        assert not params[1].is_contiguous()
        opt = AdaBound(
            params,
            lr=1e-2,
            final_lr=0.05,
            gamma=0.1,
            weight_decay=0.01,
            amsbound=True,
            foreach=foreach,
        )
        for _ in range(20):
            opt.zero_grad()
            sum(((p - 0.3) ** 4).sum() for p in params).backward()
            opt.step()
        results.append([p.detach() for p in params])
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)


def test_zero_lr_freezes_the_parameters():
    p = torch.ones(3, requires_grad=True)
    opt = AdaBound([p], lr=0.1, foreach=True)
    opt.param_groups[0]["lr"] = 0.0
    p.grad = torch.ones(3)
    opt.step()
    assert torch.equal(p.detach(), torch.ones(3))
    assert opt.param_groups[0]["base_lr"] == 0.1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": 0.0}, r"lr must be in \(0, inf\), got 0.0"),
        ({"final_lr": -0.1}, r"final_lr must be in \[0, inf\)"),
        ({"gamma": 0.0}, r"gamma must be in \(0, inf\)"),
        ({"betas": (0.9,)}, "betas must be a tuple of 2 numbers"),
        ({"amsbound": None}, "amsbound must be True or False"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AdaBound([torch.zeros(2, requires_grad=True)], **kwargs)
