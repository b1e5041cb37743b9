"""Pieces of ``cnn-transposed``: the adjoint identity case by case, and the verdicts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from replearn.experiments.cnn import cnn_transposed as tr


@pytest.mark.parametrize("k, s, p", [(2, 1, 0), (3, 2, 1), (4, 3, 2), (5, 2, 0)])
def test_adjoint_case_inner_products_agree(k, s, p):
    case = tr.adjoint_case(k, s, p, seed=k + s + p)
    assert case["rel_gap"] < 1e-12
    assert case["inverse_error"] > 0.1  # the transpose is not the inverse


def test_adjoint_identity_against_autograd():
    # <Cx, y> = <x, C^T y> means C^T y is the gradient of <Cx, y> with respect to x
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 2, 9, 9, generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 2, 3, 3, generator=gen, dtype=torch.float64)
    y = torch.randn(1, 3, 5, 5, generator=gen, dtype=torch.float64)
    (F.conv2d(x, w, stride=2, padding=1) * y).sum().backward()
    from replearn.cnn.layers import conv_transpose2d

    torch.testing.assert_close(conv_transpose2d(y, w, None, 2, 1, 0), x.grad, rtol=0, atol=1e-12)


def test_bilinear_is_a_transposed_convolution_away_from_the_border():
    # the learnable upsampler can express bilinear interpolation (kernel 4, stride 2, padding 1)
    k1 = torch.tensor([0.25, 0.75, 0.75, 0.25], dtype=torch.float64)
    w = torch.outer(k1, k1)[None, None]  # (1, 1, 4, 4)
    x = torch.rand(2, 1, 6, 6, dtype=torch.float64)
    ours = F.conv_transpose2d(x, w, stride=2, padding=1)
    ref = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(ours[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1], rtol=0, atol=1e-12)


def test_verdicts():
    cases = [{"rel_gap": 1e-15, "inverse_error": 2.0}]
    assert tr._verdict_adjoint({"adjoint_cases": cases})[0]
    assert not tr._verdict_adjoint({"adjoint_cases": [{"rel_gap": 1e-6, "inverse_error": 2.0}]})[0]
    m = {"learned_vs_bilinear": {"holds": False}, "learned_vs_bilinear_evidence": "e",
         "low_size": 4, "high_size": 8, "learned_mse_mean": 0.1, "learned_mse": [0.1],
         "bilinear_mse": 0.05, "nearest_mse": 0.05, "init_mse_mean": 0.2}  # fmt: skip
    assert not tr._verdict_upsampler(m)[0]
