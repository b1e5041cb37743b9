"""SPADE: Eq. (1) explicitly, the constant-map case, locality of the modulation, shapes."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from replearn.gan.spade import SPADE, SPADEGenerator, SPADEResBlock


def test_spade_matches_explicit_computation():
    torch.manual_seed(0)
    layer = SPADE(4, 3, hidden=5).double()
    h = torch.randn(2, 4, 6, 6, dtype=torch.float64)
    m = torch.rand(2, 3, 12, 12, dtype=torch.float64)
    mu = h.mean((0, 2, 3), keepdim=True)
    var = h.var((0, 2, 3), unbiased=False, keepdim=True)
    h_hat = (h - mu) / torch.sqrt(var + 1e-5)
    m_small = F.interpolate(m, size=(6, 6), mode="nearest")
    a = torch.relu(F.conv2d(m_small, layer.shared[0].weight, layer.shared[0].bias, padding=1))
    gamma = F.conv2d(a, layer.gamma.weight, layer.gamma.bias, padding=1)
    beta = F.conv2d(a, layer.beta.weight, layer.beta.bias, padding=1)
    torch.testing.assert_close(layer(h, m), (1 + gamma) * h_hat + beta, rtol=1e-10, atol=1e-10)


def test_constant_map_is_batchnorm_with_one_affine_map():
    torch.manual_seed(1)
    layer = SPADE(3, 2, hidden=4).double()
    h = torch.randn(4, 3, 5, 5, dtype=torch.float64)
    m = torch.zeros(4, 2, 5, 5, dtype=torch.float64)
    m[:, 0] = 1.0
    out = layer(h, m)
    gamma, beta = layer.modulation(m, (5, 5))
    # away from the zero-padded border, gamma and beta are the same at every position
    inner_g, inner_b = gamma[:, :, 2:-2, 2:-2], beta[:, :, 2:-2, 2:-2]
    torch.testing.assert_close(inner_g, inner_g[:, :, :1, :1].expand_as(inner_g))
    torch.testing.assert_close(inner_b, inner_b[:, :, :1, :1].expand_as(inner_b))
    bn = nn.BatchNorm2d(3, affine=False).double()
    ref = (1 + inner_g) * bn(h)[:, :, 2:-2, 2:-2] + inner_b
    torch.testing.assert_close(out[:, :, 2:-2, 2:-2], ref, rtol=1e-10, atol=1e-10)


def test_modulation_is_local_to_the_map():
    torch.manual_seed(2)
    layer = SPADE(2, 2, hidden=4).double()
    m = torch.zeros(1, 2, 12, 12, dtype=torch.float64)
    m[:, 0] = 1
    m2 = m.clone()
    m2[:, :, 0, 0] = torch.tensor([0.0, 1.0], dtype=torch.float64)  # relabel one corner pixel
    g1, _ = layer.modulation(m, (12, 12))
    g2, _ = layer.modulation(m2, (12, 12))
    changed = (g1 - g2).abs().sum(1)[0] > 0
    rows, cols = changed.nonzero(as_tuple=True)
    assert changed.any() and int(rows.max()) <= 2 and int(cols.max()) <= 2  # two 3x3 convs


def test_block_and_generator_shapes():
    torch.manual_seed(0)
    block = SPADEResBlock(4, 6, 3, hidden=4)
    assert block(torch.randn(2, 4, 5, 5), torch.rand(2, 3, 10, 10)).shape == (2, 6, 5, 5)
    g = SPADEGenerator(z_dim=8, label_channels=3, image_size=28, width=8, hidden=8)
    out = g(torch.randn(2, 8), torch.rand(2, 3, 28, 28))
    assert out.shape == (2, 1, 28, 28) and out.abs().max() <= 1
