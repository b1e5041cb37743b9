"""Convolutions from scratch vs torch in float64: outputs and gradients, modules and state_dicts.

Oracles: ``F.conv2d``, ``F.conv1d``, ``F.conv_transpose2d`` (incl. ``output_padding``)
and ``F.unfold`` over hypothesis-generated shapes, strides, paddings, dilations and
groups; ``nn.Conv1d/Conv2d/ConvTranspose2d`` state_dicts and initialization.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from replearn.cnn import layers as L
from replearn.cnn.arithmetic import receptive_field

SETTINGS = settings(max_examples=40, deadline=None)
TOL = {"rtol": 1e-10, "atol": 1e-10}
f64 = torch.float64


def _params(*shapes: tuple[int, ...]) -> list[torch.Tensor]:
    return [torch.randn(s, dtype=f64, requires_grad=True) for s in shapes]


def _assert_same(ours_fn, ref_fn, tensors: list[torch.Tensor]) -> None:
    """Same output (or both refuse the arguments) and same gradient for every tensor."""
    try:
        ref = ref_fn(*tensors)
    except RuntimeError:
        with pytest.raises(ValueError):
            ours_fn(*tensors)
        return
    ours = ours_fn(*tensors)
    torch.testing.assert_close(ours, ref, **TOL)
    probe = torch.randn_like(ref)
    grads_ref = torch.autograd.grad((ref * probe).sum(), tensors)
    grads_ours = torch.autograd.grad((ours * probe).sum(), tensors)
    for g_ours, g_ref in zip(grads_ours, grads_ref, strict=True):
        torch.testing.assert_close(g_ours, g_ref, **TOL)


pair = st.tuples(st.integers(1, 3), st.integers(1, 3))


@SETTINGS
@given(
    b=st.integers(1, 2), g=st.integers(1, 3), cig=st.integers(1, 2), cog=st.integers(1, 2),
    hw=st.tuples(st.integers(1, 7), st.integers(1, 7)), k=pair, s=pair, d=pair,
    p=st.tuples(st.integers(0, 2), st.integers(0, 2)), bias=st.booleans(),
)  # fmt: skip
def test_conv2d_matches_torch(b, g, cig, cog, hw, k, s, d, p, bias) -> None:
    x, w, bb = _params((b, g * cig, *hw), (g * cog, cig, *k), (g * cog,))
    tensors = [x, w, bb] if bias else [x, w]
    args = {"stride": s, "padding": p, "dilation": d, "groups": g}
    _assert_same(lambda *t: L.conv2d(*t, **args), lambda *t: F.conv2d(*t, **args), tensors)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@SETTINGS
@given(
    g=st.integers(1, 2), cig=st.integers(1, 2), cog=st.integers(1, 3), n=st.integers(1, 12),
    k=st.integers(1, 4), s=st.integers(1, 3), d=st.integers(1, 3),
    p=st.integers(0, 2) | st.sampled_from(["same", "valid"]),
)  # fmt: skip
def test_conv1d_matches_torch(g, cig, cog, n, k, s, d, p) -> None:
    if p == "same":
        s = 1  # torch's rule: 'same' only with stride 1
    tensors = _params((2, g * cig, n), (g * cog, cig, k), (g * cog,))
    args = {"stride": s, "padding": p, "dilation": d, "groups": g}
    _assert_same(lambda *t: L.conv1d(*t, **args), lambda *t: F.conv1d(*t, **args), tensors)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # the oracle's note
@pytest.mark.parametrize("k", [(2, 3), (4, 1)])
def test_conv2d_same_padding_with_even_kernels(k: tuple[int, int]) -> None:
    tensors = _params((1, 2, 5, 6), (3, 2, *k), (3,))
    args = {"padding": "same", "dilation": (1, 2)}
    _assert_same(lambda *t: L.conv2d(*t, **args), lambda *t: F.conv2d(*t, **args), tensors)


@SETTINGS
@given(
    g=st.integers(1, 2), cig=st.integers(1, 2), cog=st.integers(1, 2),
    hw=st.tuples(st.integers(1, 5), st.integers(1, 5)), k=pair, s=pair, d=pair,
    p=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    op=st.tuples(st.integers(0, 2), st.integers(0, 2)), bias=st.booleans(),
)  # fmt: skip
def test_conv_transpose2d_matches_torch(g, cig, cog, hw, k, s, d, p, op, bias) -> None:
    x, w, bb = _params((2, g * cig, *hw), (g * cig, cog, *k), (g * cog,))
    tensors = [x, w, bb] if bias else [x, w]
    args = {"stride": s, "padding": p, "output_padding": op, "groups": g, "dilation": d}
    ours, ref = L.conv_transpose2d, F.conv_transpose2d
    _assert_same(lambda *t: ours(*t, **args), lambda *t: ref(*t, **args), tensors)


@SETTINGS
@given(hw=st.tuples(st.integers(3, 7), st.integers(3, 7)), k=pair, s=pair, d=pair, p=pair)
def test_im2col_matches_unfold(hw, k, s, d, p) -> None:
    x = torch.randn(2, 3, *hw, dtype=f64)
    try:
        ref = F.unfold(x, k, dilation=d, padding=p, stride=s)
    except RuntimeError:
        return
    cols = L.im2col(L.pad(x, [(p[0], p[0]), (p[1], p[1])]), k, s, d)  # (B, C, Kh, Kw, Ho, Wo)
    torch.testing.assert_close(cols.reshape(2, 3 * k[0] * k[1], -1), ref, rtol=0, atol=0)


@pytest.mark.parametrize("k, d", [(1, 1), (2, 1), (3, 2), (2, 8)])
def test_causal_conv1d_is_a_cropped_padded_conv_and_is_causal(k: int, d: int) -> None:
    torch.manual_seed(0)
    x, w, b = _params((2, 4, 10), (6, 2, k), (6,))
    args = {"padding": d * (k - 1), "dilation": d, "groups": 2}
    ref = lambda *t: F.conv1d(*t, **args)[..., :10]  # noqa: E731
    _assert_same(lambda *t: L.causal_conv1d(*t, dilation=d, groups=2), ref, [x, w, b])
    for t in range(10):  # y_t gets a gradient from x_t and none from x_{>t}
        (grad,) = torch.autograd.grad(L.causal_conv1d(x, w, b, d, 2)[..., t].sum(), x)
        assert grad[..., t + 1 :].abs().sum().item() == 0
        assert grad[..., t].abs().max().item() > 0


def test_wavenet_stack_receptive_field_is_two_to_the_depth() -> None:
    torch.manual_seed(1)
    stack = nn.Sequential(*[L.CausalConv1d(1, 1, 2, dilation=2**i) for i in range(4)]).double()
    x = torch.randn(1, 1, 40, dtype=f64, requires_grad=True)
    stack(x)[0, 0, -1].backward()
    support = x.grad[0, 0].nonzero().flatten()
    assert (
        support.max() - support.min() + 1
        == 2**4
        == receptive_field([(2, 1, 2**i) for i in range(4)])
    )


def test_depthwise_separable_matches_two_torch_convs() -> None:
    torch.manual_seed(2)
    for stride, padding, mult in [(1, 1, 1), (2, 0, 2), (1, "same", 3)]:
        ours = L.DepthwiseSeparableConv2d(3, 5, 3, stride=stride, padding=padding,
                                          depth_multiplier=mult).double()  # fmt: skip
        ref = nn.Sequential(
            nn.Conv2d(3, 3 * mult, 3, stride=stride, padding=padding, groups=3, bias=False),
            nn.Conv2d(3 * mult, 5, 1),
        ).double()
        ours.depthwise.load_state_dict(ref[0].state_dict())
        ours.pointwise.load_state_dict(ref[1].state_dict())
        x = torch.randn(2, 3, 7, 7, dtype=f64)
        torch.testing.assert_close(ours(x), ref(x), **TOL)
        dw, pw, b = ours.depthwise.weight, ours.pointwise.weight, ours.pointwise.bias
        fn = L.depthwise_separable_conv2d(x, dw, pw, b, stride, padding)
        torch.testing.assert_close(fn, ref(x), **TOL)


MODULE_PAIRS = [
    (lambda: L.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=(1, 2), groups=2),
     lambda: nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=(1, 2), groups=2),
     (2, 4, 9, 8)),
    (lambda: L.Conv2d(3, 4, 3, padding="same", bias=False),
     lambda: nn.Conv2d(3, 4, 3, padding="same", bias=False), (1, 3, 5, 5)),
    (lambda: L.Conv1d(2, 4, 3, stride=2, padding=2, dilation=2),
     lambda: nn.Conv1d(2, 4, 3, stride=2, padding=2, dilation=2), (2, 2, 11)),
    (lambda: L.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
     lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
     (2, 4, 5, 5)),
]  # fmt: skip


@pytest.mark.parametrize("make_ours, make_ref, shape", MODULE_PAIRS)
def test_modules_load_torch_state_dicts_and_match(make_ours, make_ref, shape) -> None:
    torch.manual_seed(3)
    ref = make_ref().double()
    torch.manual_seed(3)
    ours = make_ours().double()
    for key, value in ref.state_dict().items():  # same seed, same init as torch.nn
        torch.testing.assert_close(ours.state_dict()[key], value, rtol=0, atol=0)
    ours.load_state_dict(ref.state_dict())
    ref.load_state_dict(ours.state_dict())  # and back
    x = torch.randn(shape, dtype=f64)
    torch.testing.assert_close(ours(x), ref(x), **TOL)
    assert repr(ours).startswith(type(ours).__name__ + "(")


def test_causal_module_loads_a_conv1d_state_dict() -> None:
    ref = nn.Conv1d(2, 3, 3, padding=4, dilation=2).double()
    ours = L.CausalConv1d(2, 3, 3, dilation=2).double()
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(1, 2, 9, dtype=f64)
    torch.testing.assert_close(ours(x), ref(x)[..., :9], **TOL)


def test_invalid_arguments_raise_value_errors() -> None:
    x = torch.randn(1, 4, 5, 5)
    with pytest.raises(ValueError, match="groups"):
        L.Conv2d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match="same"):
        L.Conv2d(4, 6, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="output_padding"):
        L.ConvTranspose2d(4, 6, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="kernel"):
        L.conv2d(x, torch.randn(2, 4, 7, 7))
    with pytest.raises(ValueError, match="expected input"):
        L.conv2d(x, torch.randn(2, 3, 3, 3))
    with pytest.raises(ValueError, match="4-D"):
        L.conv2d(x[0], torch.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match="kernel_size"):
        L.Conv2d(4, 6, (3, 3, 3))
    with pytest.raises(ValueError, match="depth_multiplier"):
        L.DepthwiseSeparableConv2d(4, 6, 3, depth_multiplier=0)
