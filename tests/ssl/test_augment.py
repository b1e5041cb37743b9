"""replearn.ssl.augment: identity at strength 0, crops, shapes, seeded randomness."""

from __future__ import annotations

import torch

from replearn.ssl.augment import ImageViews, SignalViews, crop_resize_1d


def test_crop_resize_identity_and_half_crop() -> None:
    x = torch.randn(3, 2, 40, dtype=torch.float64)
    torch.testing.assert_close(crop_resize_1d(x, torch.ones(3, dtype=torch.float64),
                                              torch.zeros(3, dtype=torch.float64)), x)  # fmt: skip
    ramp = torch.linspace(0, 1, 41, dtype=torch.float64)[:-1].add(0.5 / 40).expand(1, 1, 40)
    half = crop_resize_1d(ramp, torch.tensor([0.5], dtype=torch.float64),
                          torch.tensor([-0.5], dtype=torch.float64))  # fmt: skip
    # the left half of a linear ramp, stretched to the full length: still linear, in [0, 0.5]
    assert float(half.min()) >= 0.0 and float(half.max()) <= 0.5 + 1e-9
    diffs = half[0, 0, 2:-2].diff()
    torch.testing.assert_close(diffs, torch.full_like(diffs, float(diffs.mean())))


def test_views_are_identity_at_strength_zero() -> None:
    x = torch.randn(4, 1, 40)
    torch.testing.assert_close(SignalViews(strength=0.0)(x), x, atol=1e-5, rtol=0)
    im = torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(ImageViews(strength=0.0)(im), im, atol=1e-5, rtol=0)


def test_views_are_random_seeded_and_keep_shapes() -> None:
    x, im = torch.randn(5, 40), torch.rand(5, 1, 28, 28)
    for aug, inp in ((SignalViews(), x), (ImageViews(), im)):
        a = aug(inp, generator=torch.Generator().manual_seed(0))
        b = aug(inp, generator=torch.Generator().manual_seed(0))
        c = aug(inp, generator=torch.Generator().manual_seed(1))
        assert torch.equal(a, b) and not torch.equal(a, c)
        assert aug(inp, local=True).shape == a.shape
    assert SignalViews()(x).shape == (5, 1, 40)
    out = ImageViews()(im)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
