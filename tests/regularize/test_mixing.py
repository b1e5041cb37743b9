"""MixUp/CutMix label weights equal lambda / the pixel fraction; Cutout and Erasing areas."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from replearn.regularize.mixing import (
    CutMix,
    Cutout,
    MixUp,
    RandomErasing,
    box_mask,
    cutmix,
    cutout,
    mixup,
    random_erasing,
    sample_beta,
)


def _constant_images(b: int, h: int, w: int) -> torch.Tensor:
    """Image i is the constant i + 1, so every pixel tells which image it came from."""
    return (torch.arange(b, dtype=torch.float64) + 1.0)[:, None, None, None].expand(b, 1, h, w)


def test_mixup_mixes_pixels_and_labels_with_the_same_lambda():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(8, 1, 5, 5, generator=gen, dtype=torch.float64)
    y = F.one_hot(torch.arange(8) % 4, 4).double()
    perm = torch.randperm(8, generator=gen)
    lam = 0.3
    xm, ym = mixup(x, y, lam, perm)
    torch.testing.assert_close(xm, lam * x + (1 - lam) * x[perm], rtol=0, atol=0)
    torch.testing.assert_close(ym, lam * y + (1 - lam) * y[perm], rtol=0, atol=0)
    torch.testing.assert_close(ym.sum(dim=1), torch.ones(8, dtype=torch.float64))


def test_mixup_module_label_weight_equals_the_pixel_weight():
    b = 6
    x = _constant_images(b, 4, 4)
    xm, ym = MixUp(alpha=0.5, num_classes=b)(x, torch.arange(b), torch.Generator().manual_seed(1))
    own = ym.diagonal()  # weight of each image's own label
    partner = (ym * (torch.arange(b) + 1.0)).sum(dim=1)  # label-weighted image values
    # pixel value = lam (i + 1) + (1 - lam)(pi(i) + 1), the same combination as the labels
    torch.testing.assert_close(xm[:, 0, 0, 0], partner.double(), rtol=0, atol=1e-6)
    assert float(own.min()) >= 0 and float(own.max()) <= 1


@pytest.mark.parametrize("lam", [0.1, 0.5, 0.75, 0.97])
def test_cutmix_label_weights_equal_the_pixel_area_exactly(lam):
    b, h, w = 32, 16, 12
    gen = torch.Generator().manual_seed(2)
    x = _constant_images(b, h, w)
    y = F.one_hot(torch.arange(b), b).double()
    perm = torch.randperm(b, generator=gen)
    xm, ym = cutmix(x, y, lam, perm, generator=gen)
    own_pixels = (xm == x).flatten(1).sum(dim=1)  # (B,) pixels still from image i
    kept = ym[torch.arange(b), torch.arange(b)]  # weight of the own label
    moved = perm != torch.arange(b)
    # lambda' = (own pixels) / HW, up to float64 rounding of the division
    torch.testing.assert_close(
        kept[moved] * (h * w), own_pixels[moved].double(), rtol=0, atol=1e-12
    )
    torch.testing.assert_close(ym.sum(dim=1), torch.ones(b, dtype=torch.float64))


def test_cutmix_box_has_the_size_of_lambda_unless_clipped():
    b, side = 400, 40
    x = torch.zeros(b, 1, side, side)
    ones = torch.ones_like(x)
    lam = 0.75  # box side sqrt(1 - lam) * 40 = 20 pixels
    gen = torch.Generator().manual_seed(3)
    xm, _ = cutmix(
        torch.cat([x, ones]), torch.eye(2 * b), lam, torch.arange(2 * b).roll(b), generator=gen
    )
    area = xm[:b].flatten(1).sum(dim=1)  # pasted pixels from the ones images
    assert int(area.max()) == 400 and bool((area <= 400).all())
    # a centre at least 10 pixels from every border leaves the box unclipped: P = (20/40)^2
    full = float((area == 400).double().mean())
    assert abs(full - 0.25) < 5 * math.sqrt(0.25 * 0.75 / b)


def test_cutout_area():
    b, side, size = 500, 32, 8
    out = cutout(torch.ones(b, 2, side, side), size, generator=torch.Generator().manual_seed(4))
    zeroed = (out[:, 0] == 0).flatten(1).sum(dim=1)
    assert bool((out[:, 0] == out[:, 1]).all())  # the same square in every channel
    assert int(zeroed.max()) == size * size and bool((zeroed <= size * size).all())
    full = float((zeroed == size * size).double().mean())
    p = ((side - size) / side) ** 2  # centre at least size/2 from every border
    assert abs(full - p) < 5 * math.sqrt(p * (1 - p) / b)


def test_random_erasing_area_and_probability():
    b, h, w = 400, 20, 24
    x = torch.full((b, 1, h, w), -1.0)  # noise lies in [0, 1): erased pixels are >= 0
    out = random_erasing(x, p=1.0, scale=(0.05, 0.3), generator=torch.Generator().manual_seed(5))
    frac = (out >= 0).flatten(1).double().mean(dim=1)
    rounding = (h + w + 1) / (h * w)  # sides rounded to whole pixels
    assert float(frac.min()) >= 0.05 - rounding and float(frac.max()) <= 0.3 + rounding
    half = random_erasing(x, p=0.5, generator=torch.Generator().manual_seed(6))
    erased = float(((half >= 0).flatten(1).any(dim=1)).double().mean())
    assert abs(erased - 0.5) < 5 * math.sqrt(0.25 / b)
    assert torch.equal(random_erasing(x, p=0.0), x)


def test_box_mask():
    m = box_mask(torch.tensor([1]), torch.tensor([2]), torch.tensor([3]), torch.tensor([5]), 4, 6)
    expected = torch.zeros(1, 1, 4, 6, dtype=torch.bool)
    expected[..., 1:3, 2:5] = True
    assert torch.equal(m, expected)


def test_seeded_generators_reproduce_and_beta_moments():
    x = torch.rand(8, 1, 10, 10, generator=torch.Generator().manual_seed(7))
    y = torch.arange(8) % 3
    for module in (MixUp(alpha=1.0, num_classes=3), CutMix(num_classes=3)):
        a = module(x, y, torch.Generator().manual_seed(8))
        b = module(x, y, torch.Generator().manual_seed(8))
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        xe, ye = module.eval()(x, y)
        assert xe is x and torch.equal(ye, F.one_hot(y, 3).float())
    for module in (Cutout(size=4), RandomErasing(p=1.0)):
        a = module(x, torch.Generator().manual_seed(9))
        assert torch.equal(a, module(x, torch.Generator().manual_seed(9)))
        assert module.eval()(x) is x
    gen = torch.Generator().manual_seed(10)
    alpha, n = 0.4, 4000
    lams = torch.tensor([sample_beta(alpha, gen) for _ in range(n)], dtype=torch.float64)
    var = 1 / (4 * (2 * alpha + 1))  # Beta(a, a): mean 1/2, variance 1 / (4 (2a + 1))
    assert abs(float(lams.mean()) - 0.5) < 5 * math.sqrt(var / n)
    assert abs(float(lams.var()) - var) < 0.1 * var
