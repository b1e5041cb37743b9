"""weight_norm vs torch.nn.utils.parametrizations.weight_norm in float64; Eq. (3) vs autograd."""

from __future__ import annotations

import copy
import inspect

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrizations, parametrize

from replearn.norm.weight_norm import (
    WeightNorm,
    direction_gradient,
    direction_norm,
    magnitude_gradient,
    weight_from_direction,
    weight_norm,
)

TOL = {"rtol": 1e-10, "atol": 1e-12}
PAIRS = [(weight_norm, parametrizations.weight_norm)]
MODULES = {
    "linear": (lambda: nn.Linear(5, 4), (3, 5)),
    "conv2d": (lambda: nn.Conv2d(3, 4, 3), (2, 3, 6, 6)),
    "conv_transpose": (lambda: nn.ConvTranspose2d(3, 2, 3), (2, 3, 4, 4)),
}


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -2, None, -1])
@pytest.mark.parametrize("kind", sorted(MODULES))
def test_matches_torch_parametrization(kind, dim, fast):
    make, shape = MODULES[kind]
    torch.manual_seed(0)
    base = make().double()
    ref = parametrizations.weight_norm(copy.deepcopy(base), dim=dim)
    ours = weight_norm(copy.deepcopy(base), dim=dim, fast=fast)
    assert list(ours.state_dict()) == list(ref.state_dict())
    for key, value in ref.state_dict().items():  # same initialization g = ||w||, v = w
        torch.testing.assert_close(ours.state_dict()[key], value, **TOL)
    torch.testing.assert_close(ours.weight, base.weight, **TOL)  # the function is unchanged
    with torch.no_grad():  # move g away from ||v||
        for m in (ours, ref):
            m.parametrizations.weight.original0.mul_(1.7)
    torch.testing.assert_close(ours.weight, ref.weight, **TOL)
    x = torch.randn(shape, dtype=torch.float64)
    y, y_ref = ours(x), ref(x)
    torch.testing.assert_close(y, y_ref, **TOL)
    g = torch.randn_like(y)
    y.backward(g)
    y_ref.backward(g)
    for (name, p), p_ref in zip(ours.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p.grad, p_ref.grad, **TOL, msg=name)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_gradients_of_eq3_match_autograd(dim):
    torch.manual_seed(1)
    v = torch.randn(4, 3, 2, dtype=torch.float64, requires_grad=True)
    g0 = direction_norm(v.detach(), dim) * torch.rand_like(direction_norm(v.detach(), dim)) + 0.5
    g = g0.requires_grad_()
    grad_w = torch.randn(4, 3, 2, dtype=torch.float64)
    (weight_from_direction(g, v, dim) * grad_w).sum().backward()  # dL/dw = grad_w
    torch.testing.assert_close(magnitude_gradient(grad_w, v.detach(), dim), g.grad, **TOL)
    torch.testing.assert_close(
        direction_gradient(grad_w, g.detach(), v.detach(), dim), v.grad, **TOL
    )
    if dim == 0:  # the direction's gradient is orthogonal to v, unit by unit
        dots = (v.grad * v.detach()).sum(dim=(1, 2))
        torch.testing.assert_close(dots, torch.zeros(4).double(), atol=1e-12, rtol=0)


def test_magnitude_and_direction_are_decoupled():
    torch.manual_seed(2)
    layer = weight_norm(nn.Linear(6, 3).double())
    g = layer.parametrizations.weight.original0
    with torch.no_grad():
        g.copy_(torch.tensor([[0.5], [2.0], [3.0]]))
    norms = layer.weight.norm(dim=1, keepdim=True)
    torch.testing.assert_close(norms, g.detach(), **TOL)  # ||w|| = |g| whatever v
    x = torch.randn(5, 6, dtype=torch.float64)
    before = layer(x)
    with torch.no_grad():
        layer.parametrizations.weight.original1.mul_(7.5)  # rescale the direction
    torch.testing.assert_close(layer(x), before, **TOL)


def test_fast_path_equals_reference():
    torch.manual_seed(3)
    v = torch.randn(5, 4, 3, dtype=torch.float64, requires_grad=True)
    for dim in (0, 2, None):
        g = direction_norm(v.detach(), dim).add(0.3).requires_grad_()
        y1 = WeightNorm(dim)(g, v)
        y2 = WeightNorm(dim, fast=True)(g, v)
        torch.testing.assert_close(y1, y2, **TOL)
        grads1 = torch.autograd.grad(y1.sin().sum(), (g, v))
        grads2 = torch.autograd.grad(y2.sin().sum(), (g, v))
        for a, b in zip(grads1, grads2, strict=True):
            torch.testing.assert_close(a, b, **TOL)


def test_state_dict_round_trips_with_torch_and_removal():
    torch.manual_seed(4)
    ref = parametrizations.weight_norm(nn.Conv2d(2, 3, 3))
    ours = weight_norm(nn.Conv2d(2, 3, 3))
    ours.load_state_dict(ref.state_dict())
    torch.testing.assert_close(ours.weight, ref.weight, rtol=1e-6, atol=1e-7)
    with torch.no_grad():
        ours.parametrizations.weight.original0.mul_(2.0)
    back = parametrizations.weight_norm(nn.Conv2d(2, 3, 3))
    back.load_state_dict(ours.state_dict())
    torch.testing.assert_close(back.weight, ours.weight, rtol=1e-6, atol=1e-7)
    w = ours.weight.detach().clone()
    parametrize.remove_parametrizations(ours, "weight")
    torch.testing.assert_close(ours.weight.detach(), w, rtol=0, atol=0)


def test_parameter_count_is_one_magnitude_per_output_unit():
    layer = weight_norm(nn.Linear(7, 4, bias=False))
    assert sum(p.numel() for p in layer.parameters()) == 4 * 7 + 4
    layer = weight_norm(nn.Linear(7, 4, bias=False), dim=None)
    assert sum(p.numel() for p in layer.parameters()) == 4 * 7 + 1


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="no parameter"):
        weight_norm(nn.Linear(3, 2), name="kernel")
    with pytest.raises(ValueError, match="dim"):
        weight_norm(nn.Linear(3, 2), dim=2)
    with pytest.raises(ValueError, match="dim"):
        weight_norm(nn.Linear(3, 2), dim=-3)


def signature(cls) -> list[tuple[str, object]]:
    """Constructor arguments and defaults (without our keyword-only ``fast``)."""
    params = inspect.signature(cls).parameters.items()
    return [(k, p.default) for k, p in params if k != "fast"]


def test_constructor_signature_matches_torch():
    for ours, theirs in PAIRS:
        assert signature(ours) == signature(theirs)
