"""BigGAN pieces: conditional BN, projection D, orthogonal regularization, truncation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import truncnorm
from torch import nn

from replearn.gan.biggan import (
    BigGANDiscriminator,
    BigGANGenerator,
    ConditionalBatchNorm2d,
    orthogonal_regularization,
    truncated_noise,
)
from replearn.norm import BatchNorm2d


def test_conditional_batchnorm_is_bn_then_per_example_affine():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(4, 6).double()
    x = torch.randn(5, 4, 3, 3, dtype=torch.float64)
    c = torch.randn(5, 6, dtype=torch.float64)
    ref_bn = BatchNorm2d(4, affine=False).double()
    gamma = 1 + c @ cbn.gain.weight.T
    beta = c @ cbn.bias.weight.T
    ref = gamma[:, :, None, None] * ref_bn(x) + beta[:, :, None, None]
    torch.testing.assert_close(cbn(x, c), ref, rtol=1e-10, atol=1e-10)
    # and BN itself is torch's
    torch.testing.assert_close(
        ref_bn(x), nn.BatchNorm2d(4, affine=False).double()(x), rtol=1e-10, atol=1e-10
    )


def test_projection_discriminator_is_psi_plus_inner_product():
    torch.manual_seed(0)
    d = BigGANDiscriminator(num_classes=3, image_size=8, width=8).double().eval()
    x = torch.randn(4, 1, 8, 8, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 2])
    h = d.phi(x)
    ref = d.psi(h) + (d.embed.weight[y] * h).sum(1, keepdim=True)
    torch.testing.assert_close(d(x, y), ref)
    # changing the class changes only the projection term
    y2 = torch.tensor([1, 2, 1, 0])
    diff = d(x, y2) - d(x, y)
    torch.testing.assert_close(
        diff, ((d.embed.weight[y2] - d.embed.weight[y]) * h).sum(1, keepdim=True)
    )


def test_orthogonal_regularization():
    lin = nn.Linear(3, 3, bias=False).double()
    q, _ = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64))
    with torch.no_grad():
        lin.weight.copy_(q * torch.tensor([[2.0], [0.5], [1.0]], dtype=torch.float64))
    # rows orthogonal (norms free): zero penalty
    assert float(orthogonal_regularization(lin, beta=1.0).detach()) == pytest.approx(0.0, abs=1e-20)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))
    # W W^T off-diagonal: (0,1) = (1,0) = 1, others 0 -> sum of squares 2
    assert float(orthogonal_regularization(lin, beta=0.5).detach()) == pytest.approx(1.0)


def test_truncated_noise_bounds_and_moments():
    g = torch.Generator().manual_seed(0)
    z = truncated_noise(20000, 4, 0.5, generator=g)
    assert z.abs().max() <= 0.5
    ref = truncnorm(-0.5, 0.5)
    assert float(z.var()) == pytest.approx(ref.var(), rel=0.03)
    assert abs(float(z.mean())) < 0.01
    with pytest.raises(ValueError):
        truncated_noise(2, 2, 0.0)
    assert np.isfinite(ref.var())


def test_generator_shapes_and_class_dependence():
    torch.manual_seed(0)
    g = BigGANGenerator(z_dim=12, num_classes=3, image_size=8, width=8, embed_dim=4).eval()
    z = torch.randn(2, 12)
    a, b = g(z, torch.tensor([0, 0])), g(z, torch.tensor([1, 1]))
    assert a.shape == (2, 1, 8, 8) and not torch.allclose(a, b)
    with pytest.raises(ValueError, match="divisible by 3"):
        BigGANGenerator(z_dim=10)
