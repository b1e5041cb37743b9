"""StyleGAN generator: AdaIN statistics, style mixing, noise injection, truncation in W."""

from __future__ import annotations

import pytest
import torch

from replearn.gan.stylegan import AdaIN, NoiseInjection, StyleGenerator, pixel_norm


def _gen():
    torch.manual_seed(0)
    return StyleGenerator(z_dim=8, w_dim=8, image_size=8, width=8, mapping_layers=2).double()


def test_adain_output_statistics_are_the_style():
    torch.manual_seed(0)
    layer = AdaIN(4, 6).double()
    x = torch.randn(3, 4, 5, 5, dtype=torch.float64) * 3 + 1
    w = torch.randn(3, 6, dtype=torch.float64)
    out = layer(x, w)
    ys, yb = layer.affine(w).chunk(2, dim=1)
    torch.testing.assert_close(out.mean((2, 3)), yb, rtol=1e-8, atol=1e-8)
    std = out.var((2, 3), unbiased=False).sqrt()
    torch.testing.assert_close(std, (1 + ys).abs(), rtol=1e-4, atol=1e-4)  # eps in the norm


def test_pixel_norm_unit_rms():
    z = torch.randn(5, 7, dtype=torch.float64) * 4
    torch.testing.assert_close(pixel_norm(z).square().mean(1), torch.ones(5, dtype=torch.float64))


def test_style_mixing_equals_per_layer_styles():
    g = _gen().eval()
    z1, z2 = torch.randn(2, 8, dtype=torch.float64), torch.randn(2, 8, dtype=torch.float64)
    noise = [
        torch.randn(2, 1, 2 * 2 ** (i // 2), 2 * 2 ** (i // 2), dtype=torch.float64)
        for i in range(6)
    ]
    mixed = g(z1, z2=z2, crossover=3, noise=noise)
    w1, w2 = g.mapping(z1), g.mapping(z2)
    torch.testing.assert_close(mixed, g.synthesis([w1] * 3 + [w2] * 3, noise))
    assert not torch.allclose(mixed, g(z1, noise=noise))
    torch.testing.assert_close(g(z1, z2=z2, crossover=6, noise=noise), g(z1, noise=noise))
    with pytest.raises(ValueError, match="crossover"):
        g(z1, z2=z2)


def test_noise_injection_strength():
    inj = NoiseInjection(3)
    x = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(inj(x), x)  # strength starts at 0
    with torch.no_grad():
        inj.strength.copy_(torch.tensor([0.0, 1.0, 2.0]))
    n = torch.randn(2, 1, 4, 4)
    out = inj(x, n)
    torch.testing.assert_close(out[:, 2] - x[:, 2], 2 * n[:, 0])
    torch.testing.assert_close(out[:, 0], x[:, 0])


def test_truncation_psi_zero_collapses_and_w_avg_tracks():
    g = _gen()
    g.train()
    for _ in range(5):
        g(torch.randn(16, 8, dtype=torch.float64))
    assert g.w_avg.abs().sum() > 0
    g.eval()
    noise = [
        torch.zeros(3, 1, 2 * 2 ** (i // 2), 2 * 2 ** (i // 2), dtype=torch.float64)
        for i in range(6)
    ]
    out = g(torch.randn(3, 8, dtype=torch.float64), psi=0.0, noise=noise)
    torch.testing.assert_close(out[0], out[1])
    torch.testing.assert_close(out[0], out[2])
    assert out.shape == (3, 1, 8, 8)
