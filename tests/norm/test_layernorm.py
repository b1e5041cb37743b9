"""LayerNorm and RMSNorm vs torch.nn.LayerNorm / torch.nn.RMSNorm in float64."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from replearn.norm.layernorm import (
    LayerNorm,
    RMSNorm,
    layer_moments,
    layer_norm,
    layer_norm_fast,
    rms_norm,
    rms_norm_fast,
)

TOL = {"rtol": 1e-10, "atol": 1e-12}
PAIRS = [(LayerNorm, nn.LayerNorm), (RMSNorm, nn.RMSNorm)]
SHAPES = [  # (normalized_shape, input shape)
    (6, (4, 6)),
    (6, (3, 5, 6)),
    ((5, 6), (2, 5, 6)),
    ((3, 4, 4), (2, 3, 4, 4)),  # an image layer: statistics over (C, H, W) per example
]


def randomize(module: nn.Module) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(-1.5, 1.5)


def check_forward_backward(ours: nn.Module, ref: nn.Module, shape: tuple[int, ...]) -> None:
    x = (torch.randn(shape, dtype=torch.float64) * 3 + 1).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    y, y_ref = ours(x), ref(x_ref)
    torch.testing.assert_close(y, y_ref, **TOL)
    g = torch.randn_like(y)
    y.backward(g)
    y_ref.backward(g)
    torch.testing.assert_close(x.grad, x_ref.grad, **TOL)
    for (name, p), p_ref in zip(ours.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p.grad, p_ref.grad, **TOL, msg=name)


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize(("affine", "bias"), [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize(("normalized_shape", "shape"), SHAPES)
def test_layernorm_matches_torch(normalized_shape, shape, affine, bias, fast):
    torch.manual_seed(0)
    kw = {"elementwise_affine": affine, "bias": bias, "dtype": torch.float64}
    ref = nn.LayerNorm(normalized_shape, **kw)
    randomize(ref)
    ours = LayerNorm(normalized_shape, **kw, fast=fast)
    ours.load_state_dict(ref.state_dict())
    check_forward_backward(ours, ref, shape)


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("eps", [None, 1e-6, 0.5])
@pytest.mark.parametrize(("normalized_shape", "shape"), SHAPES)
def test_rmsnorm_matches_torch(normalized_shape, shape, eps, fast):
    torch.manual_seed(1)
    ref = nn.RMSNorm(normalized_shape, eps=eps, dtype=torch.float64)
    randomize(ref)
    ours = RMSNorm(normalized_shape, eps=eps, dtype=torch.float64, fast=fast)
    ours.load_state_dict(ref.state_dict())
    check_forward_backward(ours, ref, shape)


def test_rmsnorm_without_affine_matches_torch():
    torch.manual_seed(2)
    ref = nn.RMSNorm(6, elementwise_affine=False)
    ours = RMSNorm(6, elementwise_affine=False)
    assert list(ours.state_dict()) == [] == list(ref.state_dict())
    check_forward_backward(ours.double(), ref.double(), (4, 6))


def test_statistics_are_per_example_over_the_trailing_axes():
    torch.manual_seed(3)
    x = torch.randn(4, 3, 5, 5, dtype=torch.float64) * torch.arange(1, 5).view(4, 1, 1, 1) + 2
    y = LayerNorm((3, 5, 5), eps=0.0).double()(x)
    torch.testing.assert_close(y.mean(dim=(1, 2, 3)), torch.zeros(4).double(), atol=1e-12, rtol=0)
    torch.testing.assert_close(
        y.var(dim=(1, 2, 3), unbiased=False), torch.ones(4).double(), atol=1e-10, rtol=0
    )
    mean, var = layer_moments(x, (3, 5, 5))
    assert mean.shape == var.shape == (4, 1, 1, 1)
    r = RMSNorm((3, 5, 5), eps=0.0).double()(x)
    torch.testing.assert_close(r.square().mean(dim=(1, 2, 3)), torch.ones(4).double(), **TOL)


@pytest.mark.parametrize("cls", [LayerNorm, RMSNorm])
def test_a_batch_of_one_gives_the_same_output(cls):
    torch.manual_seed(4)
    layer = cls(8).double()
    randomize(layer)
    x = torch.randn(16, 8, dtype=torch.float64)
    torch.testing.assert_close(layer(x[3:4]), layer(x)[3:4], rtol=0, atol=0)
    layer.eval()  # no running statistics: eval mode is the same function
    torch.testing.assert_close(layer(x), layer.train()(x), rtol=0, atol=0)


def test_fast_paths_equal_references():
    torch.manual_seed(5)
    x = torch.randn(6, 4, 5, dtype=torch.float64, requires_grad=True)
    w, b = torch.randn(4, 5).double(), torch.randn(4, 5).double()
    for ref, fast, args in (
        (layer_norm, layer_norm_fast, (w, b, 1e-5)),
        (rms_norm, rms_norm_fast, (w, None)),
        (rms_norm, rms_norm_fast, (w, 1e-3)),
    ):
        y1, y2 = ref(x, (4, 5), *args), fast(x, (4, 5), *args)
        torch.testing.assert_close(y1, y2, **TOL)
        (g1,) = torch.autograd.grad(y1.sin().sum(), x)
        (g2,) = torch.autograd.grad(y2.sin().sum(), x)
        torch.testing.assert_close(g1, g2, **TOL)


@pytest.mark.parametrize(
    ("ours_cls", "torch_cls"), [(LayerNorm, nn.LayerNorm), (RMSNorm, nn.RMSNorm)]
)
def test_state_dict_round_trips_with_torch(ours_cls, torch_cls):
    torch.manual_seed(6)
    ref = torch_cls((3, 4))
    randomize(ref)
    ours = ours_cls((3, 4))
    ours.load_state_dict(ref.state_dict())
    assert list(ours.state_dict()) == list(ref.state_dict())
    randomize(ours)
    back = torch_cls((3, 4))
    back.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, 4)
    torch.testing.assert_close(back(x), ours(x), rtol=1e-5, atol=1e-6)


def test_parameter_counts():
    assert sum(p.numel() for p in LayerNorm(17).parameters()) == 2 * 17
    assert sum(p.numel() for p in LayerNorm((3, 4, 4)).parameters()) == 2 * 48
    assert sum(p.numel() for p in LayerNorm(17, bias=False).parameters()) == 17
    assert sum(p.numel() for p in RMSNorm(17).parameters()) == 17  # no beta


@pytest.mark.parametrize("cls", [LayerNorm, RMSNorm])
def test_bad_arguments_raise_value_errors(cls):
    for bad in (0, -3, (), (3, 0), (2.0,), True, "abc"):
        with pytest.raises(ValueError, match="normalized_shape"):
            cls(bad)
    with pytest.raises(ValueError, match="eps"):
        cls(4, eps=-1e-5)
    with pytest.raises(ValueError, match=r"ending in \(4,\)"):
        cls(4)(torch.randn(3, 5))
    with pytest.raises(ValueError, match=r"ending in \(2, 4\)"):
        cls((2, 4))(torch.randn(4))


def signature(cls) -> list[tuple[str, object]]:
    """Constructor arguments and defaults (without our keyword-only ``fast``)."""
    params = inspect.signature(cls).parameters.items()
    return [(k, p.default) for k, p in params if k != "fast"]


def test_constructor_signature_matches_torch():
    for ours, theirs in PAIRS:
        assert signature(ours) == signature(theirs)
