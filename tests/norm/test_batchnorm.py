"""BatchNorm1d/2d vs torch.nn.BatchNorm1d/2d in float64: outputs, gradients, running statistics."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from replearn.norm.batchnorm import (
    BatchNorm1d,
    BatchNorm2d,
    batch_moments,
    batch_norm,
    batch_norm_fast,
)

TOL = {"rtol": 1e-10, "atol": 1e-12}
PAIRS = [(BatchNorm1d, nn.BatchNorm1d), (BatchNorm2d, nn.BatchNorm2d)]
CASES = [  # (ours, torch's, input shape)
    (BatchNorm1d, nn.BatchNorm1d, (8, 5)),
    (BatchNorm1d, nn.BatchNorm1d, (6, 5, 7)),
    (BatchNorm2d, nn.BatchNorm2d, (4, 5, 3, 3)),
]


def pair(ours_cls, torch_cls, **kw):
    """Our layer and torch's with the same (random) affine parameters, both float64."""
    ref = torch_cls(5, dtype=torch.float64, **kw)
    with torch.no_grad():
        if ref.weight is not None:
            ref.weight.uniform_(0.5, 1.5)
        if ref.bias is not None:
            ref.bias.uniform_(-0.5, 0.5)
    ours = ours_cls(5, dtype=torch.float64, **kw)
    ours.load_state_dict(ref.state_dict())
    return ours, ref


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
@pytest.mark.parametrize(("ours_cls", "torch_cls", "shape"), CASES)
def test_training_steps_match_torch(ours_cls, torch_cls, shape, momentum, fast):
    torch.manual_seed(0)
    ours, ref = pair(ours_cls, torch_cls, momentum=momentum)
    ours.fast = fast
    for step in range(4):  # several train steps: outputs, gradients and running statistics
        x = (torch.randn(shape, dtype=torch.float64) * (1 + step) + step).requires_grad_()
        x_ref = x.detach().clone().requires_grad_()
        y, y_ref = ours(x), ref(x_ref)
        torch.testing.assert_close(y, y_ref, **TOL)
        g = torch.randn_like(y)
        y.backward(g)
        y_ref.backward(g)
        torch.testing.assert_close(x.grad, x_ref.grad, **TOL)
        torch.testing.assert_close(ours.weight.grad, ref.weight.grad, **TOL)
        torch.testing.assert_close(ours.bias.grad, ref.bias.grad, **TOL)
        torch.testing.assert_close(ours.running_mean, ref.running_mean, **TOL)
        torch.testing.assert_close(ours.running_var, ref.running_var, **TOL)
        assert ours.num_batches_tracked == ref.num_batches_tracked == step + 1
    ours.eval()
    ref.eval()
    x = torch.randn(shape, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), **TOL)


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("affine", [True, False])
def test_without_running_stats_eval_uses_the_batch(affine, fast):
    torch.manual_seed(1)
    ours, ref = pair(BatchNorm2d, nn.BatchNorm2d, affine=affine, track_running_stats=False)
    ours.fast = fast
    assert ours.running_mean is None and "running_mean" not in ours.state_dict()
    x = torch.randn(3, 5, 4, 4, dtype=torch.float64) * 3 + 2
    for mode in (True, False):
        ours.train(mode)
        ref.train(mode)
        torch.testing.assert_close(ours(x), ref(x), **TOL)


def test_statistics_are_per_channel_over_batch_and_features():
    torch.manual_seed(2)
    x = (
        torch.randn(6, 3, 5, 5, dtype=torch.float64)
        * torch.tensor([1.0, 5.0, 0.1]).view(1, 3, 1, 1).double()
        + torch.tensor([0.0, -3.0, 7.0]).view(1, 3, 1, 1).double()
    )
    y = BatchNorm2d(3, eps=1e-300).double()(x)  # gamma = 1, beta = 0; eps > 0 as torch needs
    torch.testing.assert_close(y.mean(dim=(0, 2, 3)), torch.zeros(3).double(), atol=1e-12, rtol=0)
    torch.testing.assert_close(
        y.var(dim=(0, 2, 3), unbiased=False), torch.ones(3).double(), atol=1e-10, rtol=0
    )
    mean, var = batch_moments(x)
    torch.testing.assert_close(mean, x.mean(dim=(0, 2, 3)), **TOL)
    torch.testing.assert_close(var, x.var(dim=(0, 2, 3), unbiased=False), **TOL)


@pytest.mark.parametrize("training", [True, False])
def test_fast_path_equals_reference(training):
    torch.manual_seed(3)
    x = torch.randn(7, 4, 6, dtype=torch.float64, requires_grad=True)
    w, b = torch.rand(4, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    mean0, var0 = torch.randn(4).double(), torch.rand(4).double() + 0.5
    bufs = [(mean0.clone(), var0.clone()) for _ in range(2)]  # updated in place by each path
    y1 = batch_norm(x, *bufs[0], w, b, training, 0.2, 1e-5)
    y2 = batch_norm_fast(x, *bufs[1], w, b, training, 0.2, 1e-5)
    torch.testing.assert_close(y1, y2, **TOL)
    (g1,) = torch.autograd.grad(y1.square().sum(), x)
    (g2,) = torch.autograd.grad(y2.square().sum(), x)
    torch.testing.assert_close(g1, g2, **TOL)
    for a, c in zip(bufs[0], bufs[1], strict=True):
        torch.testing.assert_close(a, c, **TOL)
    assert torch.equal(bufs[0][0], mean0) is not training  # updated in place in training only


@pytest.mark.parametrize(("ours_cls", "torch_cls", "shape"), CASES)
def test_state_dict_round_trips_with_torch(ours_cls, torch_cls, shape):
    torch.manual_seed(4)
    ref = torch_cls(5).double()
    ref(torch.randn(shape, dtype=torch.float64))  # move the running statistics
    ours = ours_cls(5).double()
    ours.load_state_dict(ref.state_dict())
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours(torch.randn(shape, dtype=torch.float64) + 1)
    back = torch_cls(5).double()
    back.load_state_dict(ours.state_dict())
    for key, value in ours.state_dict().items():
        torch.testing.assert_close(back.state_dict()[key], value, rtol=0, atol=0)


@pytest.mark.parametrize("cls", [BatchNorm1d, BatchNorm2d])
def test_parameter_count_is_2d(cls):
    assert sum(p.numel() for p in cls(13).parameters()) == 2 * 13
    assert sum(p.numel() for p in cls(13, affine=False).parameters()) == 0


def test_bad_arguments_raise_value_errors():
    for bad in (0, -1, 2.5, True, "4"):
        with pytest.raises(ValueError, match="num_features"):
            BatchNorm2d(bad)
    with pytest.raises(ValueError, match="eps"):
        BatchNorm1d(3, eps=-1.0)
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm1d(3, momentum=1.5)
    with pytest.raises(ValueError, match="4D"):
        BatchNorm2d(3)(torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match="2D or 3D"):
        BatchNorm1d(3)(torch.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match="channels"):
        BatchNorm1d(3)(torch.randn(2, 4))
    with pytest.raises(ValueError, match="more than 1 value"):
        BatchNorm1d(3)(torch.randn(1, 3))
    BatchNorm1d(3).eval()(torch.randn(1, 3))  # a batch of one is fine in eval mode


def test_repr_and_fast_flag():
    layer = BatchNorm2d(4, momentum=None, fast=True)
    assert "fast=True" in repr(layer) and "momentum=None" in repr(layer)


def signature(cls) -> list[tuple[str, object]]:
    """Constructor arguments and defaults (without our keyword-only ``fast``)."""
    params = inspect.signature(cls).parameters.items()
    return [(k, p.default) for k, p in params if k != "fast"]


def test_constructor_signature_matches_torch():
    for ours, theirs in PAIRS:
        assert signature(ours) == signature(theirs)


@pytest.mark.parametrize("fast", [False, True])
def test_without_bias_matches_torch(fast):
    torch.manual_seed(5)
    ours, ref = pair(BatchNorm2d, nn.BatchNorm2d, bias=False)
    ours.fast = fast
    assert ours.bias is None and list(ours.state_dict()) == list(ref.state_dict())
    assert sum(p.numel() for p in ours.parameters()) == 5
    x = torch.randn(4, 5, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), **TOL)
