"""SAGAN: attention vs scaled_dot_product_attention, gamma = 0, spectral norm per layer."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from replearn.gan.dcgan import DCGANDiscriminator
from replearn.gan.sagan import SAGANDiscriminator, SAGANGenerator, SelfAttention2d
from replearn.gan.tricks import layer_sigmas


def test_spectral_discriminators_have_unit_sigma():
    torch.manual_seed(0)
    for d in (
        DCGANDiscriminator(image_size=8, width=8, norm="none", spectral=True),
        SAGANDiscriminator(image_size=8, width=8),
    ):
        for _ in range(100):  # one power iteration per training forward
            d(torch.randn(2, 1, 8, 8))
        d.eval()
        sig = layer_sigmas(d)
        assert len(sig) >= 3
        for name, value in sig.items():
            assert value == pytest.approx(1.0, abs=1e-2), name


def test_self_attention_matches_sdpa_and_identity_at_gamma_zero():
    torch.manual_seed(0)
    att = SelfAttention2d(16).double()
    x = torch.randn(2, 16, 3, 5, dtype=torch.float64)
    torch.testing.assert_close(att(x), x)  # gamma starts at 0
    with torch.no_grad():
        att.gamma.fill_(0.7)
    q = att.g(x).flatten(2).transpose(1, 2)  # (B, N, C/8): position j asks
    k = att.f(x).flatten(2).transpose(1, 2)  # (B, N, C/8)
    v = att.h(x).flatten(2).transpose(1, 2)  # (B, N, C/2)
    o = F.scaled_dot_product_attention(q, k, v, scale=1.0)  # (B, N, C/2)
    o = o.transpose(1, 2).reshape(2, 8, 3, 5)
    torch.testing.assert_close(att(x), 0.7 * att.v(o) + x, rtol=1e-10, atol=1e-10)


def test_sagan_generator_shapes():
    torch.manual_seed(0)
    g = SAGANGenerator(z_dim=8, image_size=8, width=8)
    assert g(torch.randn(2, 8)).shape == (2, 1, 8, 8)
    assert any(isinstance(m, SelfAttention2d) for m in g.modules())
