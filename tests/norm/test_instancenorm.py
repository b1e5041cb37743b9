"""InstanceNorm1d/2d vs torch.nn.InstanceNorm1d/2d in float64 (with and without running stats)."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from replearn.norm.instancenorm import (
    InstanceNorm1d,
    InstanceNorm2d,
    instance_moments,
    instance_norm,
    instance_norm_fast,
)

TOL = {"rtol": 1e-10, "atol": 1e-12}
PAIRS = [(InstanceNorm1d, nn.InstanceNorm1d), (InstanceNorm2d, nn.InstanceNorm2d)]
CASES = [
    (InstanceNorm1d, nn.InstanceNorm1d, (3, 4, 9)),
    (InstanceNorm1d, nn.InstanceNorm1d, (4, 9)),  # unbatched (C, L)
    (InstanceNorm2d, nn.InstanceNorm2d, (3, 4, 5, 5)),
    (InstanceNorm2d, nn.InstanceNorm2d, (4, 5, 5)),  # unbatched (C, H, W)
]


def pair(ours_cls, torch_cls, **kw):
    ref = torch_cls(4, dtype=torch.float64, **kw)
    if ref.affine:
        with torch.no_grad():
            ref.weight.uniform_(0.5, 1.5)
            ref.bias.uniform_(-0.5, 0.5)
    ours = ours_cls(4, dtype=torch.float64, **kw)
    ours.load_state_dict(ref.state_dict())
    return ours, ref


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"affine": True},
        {"affine": True, "track_running_stats": True},
        {"track_running_stats": True, "momentum": 0.4},
        {"track_running_stats": True, "momentum": None},
    ],
    ids=["plain", "affine", "affine-running", "running-0.4", "running-None"],
)
@pytest.mark.parametrize(("ours_cls", "torch_cls", "shape"), CASES)
def test_train_steps_and_eval_match_torch(ours_cls, torch_cls, shape, kw, fast):
    torch.manual_seed(0)
    ours, ref = pair(ours_cls, torch_cls, **kw)
    ours.fast = fast
    for step in range(3):
        x = (torch.randn(shape, dtype=torch.float64) * (1 + step) + step).requires_grad_()
        x_ref = x.detach().clone().requires_grad_()
        y, y_ref = ours(x), ref(x_ref)
        torch.testing.assert_close(y, y_ref, **TOL)
        g = torch.randn_like(y)
        y.backward(g)
        y_ref.backward(g)
        torch.testing.assert_close(x.grad, x_ref.grad, **TOL)
        for p, p_ref in zip(ours.parameters(), ref.parameters(), strict=True):
            torch.testing.assert_close(p.grad, p_ref.grad, **TOL)
        for b, b_ref in zip(ours.buffers(), ref.buffers(), strict=True):
            torch.testing.assert_close(b, b_ref, **TOL)
    ours.eval()
    ref.eval()
    x = torch.randn(shape, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), **TOL)


def test_statistics_are_per_example_and_channel():
    torch.manual_seed(1)
    x = torch.randn(3, 2, 6, 6, dtype=torch.float64) * 4 + torch.randn(3, 2, 1, 1).double()
    y = InstanceNorm2d(2, eps=0.0).double()(x)
    torch.testing.assert_close(y.mean(dim=(2, 3)), torch.zeros(3, 2).double(), atol=1e-12, rtol=0)
    torch.testing.assert_close(
        y.var(dim=(2, 3), unbiased=False), torch.ones(3, 2).double(), atol=1e-10, rtol=0
    )
    mean, _ = instance_moments(x)
    assert mean.shape == (3, 2, 1, 1)
    # without running statistics an example alone gives the same output as inside the batch
    torch.testing.assert_close(InstanceNorm2d(2).double()(x[1:2]), y[1:2], rtol=1e-6, atol=1e-6)


def test_fast_path_equals_reference_with_running_stats():
    torch.manual_seed(2)
    x = torch.randn(5, 3, 8, dtype=torch.float64, requires_grad=True)
    w, b = torch.rand(3).double(), torch.randn(3).double()
    mean0, var0 = torch.randn(3).double(), torch.rand(3).double() + 0.5
    bufs = [(mean0.clone(), var0.clone()) for _ in range(2)]
    y1 = instance_norm(x, *bufs[0], w, b, True, 0.3, 1e-5)
    y2 = instance_norm_fast(x, *bufs[1], w, b, True, 0.3, 1e-5)
    torch.testing.assert_close(y1, y2, **TOL)
    (g1,) = torch.autograd.grad(y1.square().sum(), x)
    (g2,) = torch.autograd.grad(y2.square().sum(), x)
    torch.testing.assert_close(g1, g2, **TOL)
    for a, c in zip(bufs[0], bufs[1], strict=True):
        torch.testing.assert_close(a, c, **TOL)
    assert not torch.equal(bufs[0][0], mean0)


@pytest.mark.parametrize(
    ("ours_cls", "torch_cls"),
    [(InstanceNorm1d, nn.InstanceNorm1d), (InstanceNorm2d, nn.InstanceNorm2d)],
)
def test_state_dict_round_trips_with_torch(ours_cls, torch_cls):
    ref = torch_cls(4, affine=True, track_running_stats=True)
    ours = ours_cls(4, affine=True, track_running_stats=True)
    ours.load_state_dict(ref.state_dict())
    assert list(ours.state_dict()) == list(ref.state_dict())
    with torch.no_grad():
        ours.weight.add_(1.0)
        ours.running_mean.add_(0.5)
    back = torch_cls(4, affine=True, track_running_stats=True)
    back.load_state_dict(ours.state_dict())
    for key, value in ours.state_dict().items():
        torch.testing.assert_close(back.state_dict()[key], value, rtol=0, atol=0)
    assert list(ours_cls(4).state_dict()) == list(torch_cls(4).state_dict()) == []


def test_parameter_count_is_2d_when_affine():
    assert sum(p.numel() for p in InstanceNorm2d(9, affine=True).parameters()) == 2 * 9
    assert sum(p.numel() for p in InstanceNorm2d(9).parameters()) == 0  # torch's default


def test_bad_arguments_raise_value_errors():
    for bad in (0, -2, 1.5, False):
        with pytest.raises(ValueError, match="num_features"):
            InstanceNorm2d(bad)
    with pytest.raises(ValueError, match="eps"):
        InstanceNorm1d(3, eps=-1.0)
    with pytest.raises(ValueError, match="momentum"):
        InstanceNorm1d(3, momentum=-0.1)
    with pytest.raises(ValueError, match="3D"):
        InstanceNorm2d(3)(torch.randn(2, 3))
    with pytest.raises(ValueError, match="channels"):
        InstanceNorm2d(3, affine=True)(torch.randn(2, 4, 5, 5))
    with pytest.raises(ValueError, match="more than 1 feature"):
        InstanceNorm1d(3)(torch.randn(2, 3, 1))


def signature(cls) -> list[tuple[str, object]]:
    """Constructor arguments and defaults (without our keyword-only ``fast``)."""
    params = inspect.signature(cls).parameters.items()
    return [(k, p.default) for k, p in params if k != "fast"]


def test_constructor_signature_matches_torch():
    for ours, theirs in PAIRS:
        assert signature(ours) == signature(theirs)


def test_without_bias_matches_torch():
    ref = nn.InstanceNorm2d(4, affine=True, bias=False, dtype=torch.float64)
    ours = InstanceNorm2d(4, affine=True, bias=False, dtype=torch.float64)
    assert ours.bias is None and list(ours.state_dict()) == list(ref.state_dict()) == ["weight"]
    x = torch.randn(2, 4, 5, 5, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), **TOL)
