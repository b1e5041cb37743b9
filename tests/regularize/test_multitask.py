"""Multi-task loss: weighted sum, per-task gradients through the shared trunk, learned weights."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from replearn.regularize.multitask import (
    MultiTaskNet,
    UncertaintyWeights,
    uncertainty_weighted_loss,
    weighted_loss,
)


def _net() -> MultiTaskNet:
    torch.manual_seed(0)
    trunk = nn.Sequential(nn.Linear(4, 8), nn.Tanh())
    return MultiTaskNet(trunk, {"cls": nn.Linear(8, 3), "reg": nn.Linear(8, 1)}).double()


def _losses(net: MultiTaskNet) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(10, 4, generator=gen, dtype=torch.float64)
    out = net(x)
    return {
        "cls": nn.functional.cross_entropy(out["cls"], torch.arange(10) % 3),
        "reg": out["reg"].square().mean(),
    }


def test_weighted_loss_is_the_weighted_sum():
    losses = {"a": torch.tensor(2.0), "b": torch.tensor(5.0)}
    assert float(weighted_loss(losses, {"a": 0.5, "b": 2.0})) == pytest.approx(11.0)
    with pytest.raises(ValueError, match="no weight"):
        weighted_loss(losses, {"a": 1.0})
    with pytest.raises(ValueError, match=">= 0"):
        weighted_loss(losses, {"a": 1.0, "b": -1.0})


def _grads(net: MultiTaskNet, loss: torch.Tensor) -> dict[str, torch.Tensor]:
    names = [n for n, _ in net.named_parameters()]
    grads = torch.autograd.grad(loss, list(net.parameters()), allow_unused=True)
    return {n: (torch.zeros(1) if g is None else g) for n, g in zip(names, grads, strict=True)}


def test_trunk_gets_the_weighted_sum_of_task_gradients_and_heads_only_their_own():
    net = _net()
    weights = {"cls": 0.7, "reg": 3.0}
    total = _grads(net, weighted_loss(_losses(net), weights))
    per_task = {t: _grads(net, _losses(net)[t]) for t in weights}
    for name, g in total.items():
        if name.startswith("trunk"):
            expected = (
                weights["cls"] * per_task["cls"][name] + weights["reg"] * per_task["reg"][name]
            )
        else:
            task = name.split(".")[1]
            expected = weights[task] * per_task[task][name]
        torch.testing.assert_close(g, expected, rtol=1e-10, atol=1e-12)


def test_uncertainty_weighting_is_minimised_at_log_loss():
    loss = torch.tensor(0.37, dtype=torch.float64)
    s = torch.tensor(math.log(0.37), dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(uncertainty_weighted_loss({"t": loss}, {"t": s}), s)
    assert abs(float(grad)) < 1e-12
    module = UncertaintyWeights(("a", "b"))
    assert module.weights() == {"a": 1.0, "b": 1.0}
    value = module({"a": torch.tensor(2.0), "b": torch.tensor(3.0)})
    assert float(value.detach()) == pytest.approx(5.0)


def test_multitask_net_outputs_one_tensor_per_head():
    net = _net()
    out = net(torch.randn(5, 4, dtype=torch.float64))
    assert set(out) == {"cls", "reg"}
    assert out["cls"].shape == (5, 3) and out["reg"].shape == (5, 1)
    assert "cls" in repr(net)
    with pytest.raises(ValueError):
        MultiTaskNet(nn.Identity(), {})
