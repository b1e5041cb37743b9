"""GroupNorm vs torch.nn.GroupNorm in float64; G = 1 and G = C special cases."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from replearn.norm.groupnorm import GroupNorm, group_moments, group_norm, group_norm_fast
from replearn.norm.instancenorm import InstanceNorm2d
from replearn.norm.layernorm import LayerNorm

TOL = {"rtol": 1e-10, "atol": 1e-12}
PAIRS = [(GroupNorm, nn.GroupNorm)]


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("groups", [1, 2, 3, 6])
@pytest.mark.parametrize("shape", [(4, 6), (3, 6, 7), (2, 6, 4, 5)])
def test_matches_torch(shape, groups, affine, fast):
    torch.manual_seed(0)
    ref = nn.GroupNorm(groups, 6, affine=affine, dtype=torch.float64)
    if affine:
        with torch.no_grad():
            ref.weight.uniform_(0.5, 1.5)
            ref.bias.uniform_(-0.5, 0.5)
    ours = GroupNorm(groups, 6, affine=affine, dtype=torch.float64, fast=fast)
    ours.load_state_dict(ref.state_dict())
    x = (torch.randn(shape, dtype=torch.float64) * 2 + 1).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    y, y_ref = ours(x), ref(x_ref)
    torch.testing.assert_close(y, y_ref, **TOL)
    g = torch.randn_like(y)
    y.backward(g)
    y_ref.backward(g)
    torch.testing.assert_close(x.grad, x_ref.grad, **TOL)
    for p, p_ref in zip(ours.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p.grad, p_ref.grad, **TOL)


def test_one_group_is_layernorm_and_c_groups_is_instancenorm():
    torch.manual_seed(1)
    x = torch.randn(3, 4, 5, 5, dtype=torch.float64) * 3 - 1
    gn1 = GroupNorm(1, 4).double()(x)
    torch.testing.assert_close(gn1, LayerNorm((4, 5, 5)).double()(x), **TOL)
    gn_c = GroupNorm(4, 4).double()(x)
    torch.testing.assert_close(gn_c, InstanceNorm2d(4).double()(x), **TOL)


def test_statistics_are_per_example_and_group():
    torch.manual_seed(2)
    x = torch.randn(2, 6, 3, 3, dtype=torch.float64) * 5
    mean, var = group_moments(x, 3)
    assert mean.shape == var.shape == (2, 3, 1)
    torch.testing.assert_close(mean[1, 2, 0], x[1, 4:6].mean(), **TOL)
    torch.testing.assert_close(var[0, 1, 0], x[0, 2:4].var(unbiased=False), **TOL)
    # no statistic crosses the batch: train and eval agree, a batch of one gives the same output
    layer = GroupNorm(3, 6).double()
    torch.testing.assert_close(layer(x[:1]), layer.eval()(x)[:1], rtol=0, atol=0)


def test_fast_path_equals_reference():
    torch.manual_seed(3)
    x = torch.randn(4, 8, 3, 3, dtype=torch.float64, requires_grad=True)
    w, b = torch.randn(8).double(), torch.randn(8).double()
    y1, y2 = group_norm(x, 4, w, b, 1e-5), group_norm_fast(x, 4, w, b, 1e-5)
    torch.testing.assert_close(y1, y2, **TOL)
    (g1,) = torch.autograd.grad(y1.tanh().sum(), x)
    (g2,) = torch.autograd.grad(y2.tanh().sum(), x)
    torch.testing.assert_close(g1, g2, **TOL)


def test_state_dict_round_trips_with_torch():
    ref = nn.GroupNorm(2, 4)
    ours = GroupNorm(2, 4)
    ours.load_state_dict(ref.state_dict())
    assert list(ours.state_dict()) == list(ref.state_dict()) == ["weight", "bias"]
    with torch.no_grad():
        ours.weight.mul_(3.0)
    back = nn.GroupNorm(2, 4)
    back.load_state_dict(ours.state_dict())
    torch.testing.assert_close(back.weight, ours.weight, rtol=0, atol=0)


def test_parameter_count_is_2d():
    assert sum(p.numel() for p in GroupNorm(4, 32).parameters()) == 2 * 32
    assert sum(p.numel() for p in GroupNorm(4, 32, affine=False).parameters()) == 0


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="divisible"):
        GroupNorm(4, 6)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="num_groups"):
            GroupNorm(bad, 6)
        with pytest.raises(ValueError, match="num_channels"):
            GroupNorm(1, bad)
    with pytest.raises(ValueError, match="eps"):
        GroupNorm(2, 4, eps=-1.0)
    with pytest.raises(ValueError, match=r"\(B, 4, \*\)"):
        GroupNorm(2, 4)(torch.randn(3, 6, 2))
    with pytest.raises(ValueError, match=r"\(B, 4, \*\)"):
        GroupNorm(2, 4)(torch.randn(4))


def signature(cls) -> list[tuple[str, object]]:
    """Constructor arguments and defaults (without our keyword-only ``fast``)."""
    params = inspect.signature(cls).parameters.items()
    return [(k, p.default) for k, p in params if k != "fast"]


def test_constructor_signature_matches_torch():
    for ours, theirs in PAIRS:
        assert signature(ours) == signature(theirs)


def test_without_bias_matches_torch():
    ref = nn.GroupNorm(2, 4, bias=False, dtype=torch.float64)
    ours = GroupNorm(2, 4, bias=False, dtype=torch.float64)
    assert ours.bias is None and list(ours.state_dict()) == list(ref.state_dict()) == ["weight"]
    x = torch.randn(3, 4, 5, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), **TOL)
