"""Max and average pooling from scratch vs ``F.max_pool2d`` / ``F.avg_pool2d`` in float64.

Outputs and input gradients over hypothesis-generated shapes, kernels, strides,
paddings, dilations (max), ``ceil_mode``, ``count_include_pad`` and
``divisor_override`` (avg); both must refuse the same invalid settings.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from replearn.cnn.pooling import AvgPool2d, MaxPool2d, avg_pool2d, max_pool2d

SETTINGS = settings(max_examples=60, deadline=None)
pair = st.tuples(st.integers(1, 3), st.integers(1, 3))
sizes = st.tuples(st.integers(1, 8), st.integers(1, 8))


def _assert_same(ours_fn, ref_fn, x: torch.Tensor) -> None:
    try:
        ref = ref_fn(x)
    except RuntimeError:
        with pytest.raises(ValueError):
            ours_fn(x)
        return
    ours = ours_fn(x)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    if torch.isinf(ref).any():
        # A dilated max-pool window can hold padding only (-inf, as in torch); torch's
        # backward then writes its out-of-range arg-max index out of bounds (heap
        # corruption in torch 2.x), so the gradients are compared only where it is sound.
        return
    probe = torch.randn_like(ref)
    (g_ref,) = torch.autograd.grad((ref * probe).sum(), x)
    (g_ours,) = torch.autograd.grad((ours * probe).sum(), x)
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(
    hw=sizes, k=pair, s=st.none() | pair, p=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    d=pair, ceil=st.booleans(),
)  # fmt: skip
def test_max_pool2d_matches_torch(hw, k, s, p, d, ceil) -> None:
    x = torch.randn(2, 3, *hw, dtype=torch.float64, requires_grad=True)  # no ties, almost surely
    _assert_same(
        lambda t: max_pool2d(t, k, s, p, d, ceil),
        lambda t: F.max_pool2d(t, k, s, p, d, ceil_mode=ceil),
        x,
    )


@SETTINGS
@given(
    hw=sizes, k=pair, s=st.none() | pair, p=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    ceil=st.booleans(), include=st.booleans(), divisor=st.none() | st.integers(1, 5),
)  # fmt: skip
def test_avg_pool2d_matches_torch(hw, k, s, p, ceil, include, divisor) -> None:
    x = torch.randn(2, 3, *hw, dtype=torch.float64, requires_grad=True)
    _assert_same(
        lambda t: avg_pool2d(t, k, s, p, ceil, include, divisor),
        lambda t: F.avg_pool2d(t, k, s, p, ceil, include, divisor),
        x,
    )


def test_modules_match_torch_modules() -> None:
    x = torch.randn(2, 3, 9, 7, dtype=torch.float64)
    pairs = [
        (MaxPool2d(3, stride=2, padding=1, dilation=(1, 2), ceil_mode=True),
         nn.MaxPool2d(3, stride=2, padding=1, dilation=(1, 2), ceil_mode=True)),
        (MaxPool2d(2), nn.MaxPool2d(2)),
        (AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
         nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)),
        (AvgPool2d((2, 3), ceil_mode=True, divisor_override=4),
         nn.AvgPool2d((2, 3), ceil_mode=True, divisor_override=4)),
    ]  # fmt: skip
    for ours, ref in pairs:
        assert ours.state_dict().keys() == ref.state_dict().keys() == set()
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-12, atol=1e-12)
        assert repr(ours).startswith(type(ours).__name__ + "(kernel_size=")


def test_window_of_padding_only_gives_minus_infinity() -> None:
    x = torch.randn(1, 1, 1, 1, dtype=torch.float64, requires_grad=True)
    out = max_pool2d(x, (2, 1), padding=(1, 0), dilation=(2, 1))  # taps at -1 and +1 only
    ref = F.max_pool2d(x.detach(), (2, 1), padding=(1, 0), dilation=(2, 1))
    assert out.item() == ref.item() == float("-inf")
    (grad,) = torch.autograd.grad(out.sum(), x)
    assert grad.item() == 0


def test_max_pool_gradient_goes_to_the_arg_max() -> None:
    x = torch.tensor([[[[1.0, 5.0], [3.0, 2.0]]]], requires_grad=True)
    max_pool2d(x, 2).sum().backward()
    assert x.grad.tolist() == [[[[0.0, 1.0], [0.0, 0.0]]]]


def test_invalid_arguments_raise() -> None:
    x = torch.randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match="padding"):
        max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="kernel"):
        avg_pool2d(x, 5)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        max_pool2d(x[0, 0], 2)
    with pytest.raises(ValueError, match="divisor_override"):
        avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match=">= 1"):
        MaxPool2d(0)
