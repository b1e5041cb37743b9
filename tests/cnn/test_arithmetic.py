"""Convolution arithmetic vs the shapes and parameter counts of real torch modules.

Output sizes against torch over hypothesis-generated settings (both must agree on
which settings are invalid), parameter counts against ``numel``, receptive fields
against the support of the input gradient of one output unit, and the
depthwise-separable reduction ratio 1/C_out + 1/K^2 exactly.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from replearn.cnn import arithmetic as A
from replearn.cnn.layers import DepthwiseSeparableConv2d
from replearn.metrics.arch import layer_table

SETTINGS = settings(max_examples=60, deadline=None)
small = st.integers(1, 4)


def _torch_size(fn, *args, **kwargs) -> int | None:
    """The last dimension torch produces, or None where torch refuses the setting."""
    try:
        return fn(*args, **kwargs).shape[-1]
    except RuntimeError:
        return None


def _ours(fn, *args, **kwargs) -> int | None:
    try:
        return fn(*args, **kwargs)
    except ValueError:
        return None


@SETTINGS
@given(n=st.integers(1, 12), k=small, s=small, p=st.integers(0, 3), d=st.integers(1, 3))
def test_conv_output_size_matches_conv1d(n: int, k: int, s: int, p: int, d: int) -> None:
    x, w = torch.zeros(1, 1, n), torch.zeros(1, 1, k)
    expected = _torch_size(F.conv1d, x, w, stride=s, padding=p, dilation=d)
    assert _ours(A.conv_output_size, n, k, s, p, d) == expected


@SETTINGS
@given(
    n=st.integers(1, 12), k=small, s=st.none() | small, p=st.integers(0, 2),
    d=st.integers(1, 3), ceil=st.booleans(),
)  # fmt: skip
def test_pool_output_size_matches_pooling(n, k, s, p, d, ceil) -> None:
    x = torch.zeros(1, 1, 1, n)
    kw = {"stride": (1, s or k), "padding": (0, p), "ceil_mode": ceil}
    expected = _torch_size(F.max_pool2d, x, (1, k), dilation=(1, d), **kw)
    assert _ours(A.pool_output_size, n, k, s, p, d, ceil) == expected
    if d == 1:  # average pooling has no dilation
        assert _ours(A.pool_output_size, n, k, s, p, 1, ceil) == _torch_size(
            F.avg_pool2d, x, (1, k), **kw
        )


@SETTINGS
@given(n=st.integers(1, 8), k=small, s=small, p=st.integers(0, 3), d=small, op=st.integers(0, 3))
def test_transposed_output_size_matches_conv_transpose1d(n, k, s, p, d, op) -> None:
    x, w = torch.zeros(1, 1, n), torch.zeros(1, 1, k)
    expected = _torch_size(
        F.conv_transpose1d, x, w, stride=s, padding=p, output_padding=op, dilation=d
    )
    assert _ours(A.conv_transpose_output_size, n, k, s, p, d, op) == expected


@pytest.mark.parametrize("k", [1, 2, 3, 5])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_padding_modes(k: int, d: int) -> None:
    n, span = 15, A.effective_kernel_size(k, d)
    x, w = torch.zeros(1, 1, n), torch.zeros(1, 1, k)
    size = {m: F.conv1d(x, w, padding=A.padding_for(m, k, d), dilation=d).shape[-1]
            for m in ("valid", "full")}  # fmt: skip
    assert size == {"valid": n - span + 1, "full": n + span - 1}
    if span % 2:
        assert F.conv1d(x, w, padding=A.padding_for("same", k, d), dilation=d).shape[-1] == n
    else:
        with pytest.raises(ValueError, match="asymmetric"):
            A.padding_for("same", k, d)
    with pytest.raises(ValueError):
        A.padding_for("half", k, d)  # type: ignore[arg-type]


@given(k=small, d=small)
def test_effective_kernel_size_gives_the_same_output_size(k: int, d: int) -> None:
    n = A.effective_kernel_size(k, d) + 3
    assert A.conv_output_size(n, k, d=d) == A.conv_output_size(n, A.effective_kernel_size(k, d))


def _numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@SETTINGS
@given(
    g=st.integers(1, 3), ci=small, co=small, kh=small, kw=small, bias=st.booleans(),
    transposed=st.booleans(),
)  # fmt: skip
def test_conv_params_match_numel(g, ci, co, kh, kw, bias, transposed) -> None:
    cls = nn.ConvTranspose2d if transposed else nn.Conv2d
    module = cls(g * ci, g * co, (kh, kw), groups=g, bias=bias)
    assert A.conv_params(g * ci, g * co, (kh, kw), bias, groups=g) == _numel(module)


@given(n_in=small, n_out=small, bias=st.booleans(), c=small, affine=st.booleans())
def test_linear_and_norm_params_match_numel(n_in, n_out, bias, c, affine) -> None:
    assert A.linear_params(n_in, n_out, bias) == _numel(nn.Linear(n_in, n_out, bias=bias))
    norms = [nn.BatchNorm2d(c, affine=affine), nn.GroupNorm(1, c, affine=affine)]
    norms += [nn.LayerNorm(c, elementwise_affine=affine), nn.InstanceNorm2d(c, affine=affine)]
    for norm in norms:
        assert A.norm_params(c, affine) == _numel(norm)


def _support_span(model: nn.Module, x: torch.Tensor, unit: tuple[int, ...]) -> tuple[int, ...]:
    """Per spatial axis, the extent of the inputs with a nonzero gradient of one output unit."""
    x = x.clone().requires_grad_(True)
    model(x)[unit].backward()
    nonzero = x.grad[0].abs().sum(0).nonzero()  # (count, n_spatial)
    return tuple((nonzero.max(0).values - nonzero.min(0).values + 1).tolist())


def test_stacked_3x3_convs_grow_linearly() -> None:
    torch.manual_seed(0)
    for depth in (1, 2, 3, 5):
        convs = [nn.Conv2d(2, 2, 3, padding=1).double() for _ in range(depth)]
        model = nn.Sequential(*[m for c in convs for m in (c, nn.Tanh())])
        expected = A.receptive_field([3] * depth)
        assert expected == 2 * depth + 1
        span = _support_span(model, torch.randn(1, 2, 15, 15, dtype=torch.float64), (0, 0, 7, 7))
        assert span == (expected, expected)


def test_doubling_dilations_grow_exponentially() -> None:
    torch.manual_seed(1)
    for depth in (1, 2, 3, 4, 5):
        layers = [(2, 1, 2**i) for i in range(depth)]  # WaveNet: kernel 2, dilations 1, 2, 4, ...
        model = nn.Sequential(*[nn.Conv1d(2, 2, 2, dilation=d).double() for _, _, d in layers])
        expected = A.receptive_field(layers)
        assert expected == 2**depth
        x = torch.randn(1, 2, expected + 3, dtype=torch.float64)
        assert _support_span(model, x, (0, 0, 0)) == (expected,)


@SETTINGS
@given(st.lists(st.tuples(small, st.integers(1, 3), st.integers(1, 3)), min_size=1, max_size=4))
def test_receptive_field_is_the_gradient_support(layers: list[tuple[int, int, int]]) -> None:
    torch.manual_seed(2)
    model = nn.Sequential(
        *[nn.Conv1d(1, 1, k, stride=s, dilation=d).double() for k, s, d in layers]
    )
    r = A.receptive_field(layers)
    x = torch.randn(1, 1, r, dtype=torch.float64)  # exactly one output unit
    assert model(x).shape[-1] == 1
    assert _support_span(model, x, (0, 0, 0)) == (r,)
    assert [rj[0] for rj in A.receptive_fields(layers)][-1] == r


@SETTINGS
@given(c_in=st.integers(1, 6), c_out=st.integers(1, 8), k=st.integers(1, 5))
def test_separable_reduction_is_exact(c_in: int, c_out: int, k: int) -> None:
    ratio = Fraction(1, c_out) + Fraction(1, k * k)
    assert A.separable_reduction(c_out, k) == pytest.approx(float(ratio), rel=1e-15)
    sep = DepthwiseSeparableConv2d(c_in, c_out, k, padding=(k - 1) // 2, bias=False)
    full = nn.Conv2d(c_in, c_out, k, padding=(k - 1) // 2, bias=False)
    assert A.separable_conv_params(c_in, c_out, k) == _numel(sep)
    assert Fraction(_numel(sep), _numel(full)) == ratio
    x = torch.randn(1, c_in, 7, 7)
    flops_sep = sum(r.flops for r in layer_table(sep, (x,))[0])
    flops_full = sum(r.flops for r in layer_table(full, (x,))[0])
    out = full(x).shape[2:]
    assert flops_sep == A.separable_conv_flops(c_in, c_out, k, tuple(out))
    assert flops_full == A.conv_flops(c_in, c_out, k, tuple(out))
    assert Fraction(flops_sep, flops_full) == ratio


def test_depthwise_and_pointwise_pieces() -> None:
    assert A.depthwise_conv_params(8, 3) == _numel(nn.Conv2d(8, 8, 3, groups=8, bias=False))
    assert A.conv_params(2, 4, 3, dims=1) == _numel(nn.Conv1d(2, 4, 3))
    assert A.conv_params(2, 4, (3, 1, 2)) == _numel(nn.Conv3d(2, 4, (3, 1, 2)))
    assert A.depthwise_conv_params(4, 3, multiplier=2) == 4 * 2 * 9
    assert A.pointwise_conv_params(8, 16, bias=True) == _numel(nn.Conv2d(8, 16, 1))
    assert A.depthwise_conv_flops(8, 3, (5, 5)) == 2 * 25 * 8 * 9
    assert A.pointwise_conv_flops(8, 16, 5) == 2 * 25 * 8 * 16
    assert A.conv_flops(8, 16, 3, (5, 5), bias=True) == 2 * 25 * 16 * 8 * 9 + 25 * 16


def test_invalid_arguments_raise() -> None:
    with pytest.raises(ValueError):
        A.conv_output_size(2, 5)
    with pytest.raises(ValueError):
        A.effective_kernel_size(0)
    with pytest.raises(ValueError):
        A.conv_params(3, 4, 3, groups=2)
    with pytest.raises(ValueError):
        A.conv_transpose_output_size(4, 3, s=2, output_padding=2)
    with pytest.raises(ValueError):
        A.receptive_field([(3, 1, 1, 1)])
    assert A.receptive_field([]) == 1
