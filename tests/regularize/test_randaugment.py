"""RandAugment: identity at magnitude 0, documented strengths at 10, uniform choice, seeding."""

from __future__ import annotations

import pytest
import torch

from replearn.regularize import image_ops as ops
from replearn.regularize import randaugment
from replearn.regularize.randaugment import OPS, SIGNED, RandAugment, apply_op, rand_augment


def _images(b: int = 4, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, 1, 12, 12), generator=gen).float() / 255.0  # k/255 levels


@pytest.mark.parametrize("op", [o for o in OPS if o not in ("autocontrast", "equalize")])
def test_magnitude_zero_is_the_identity(op):
    x = _images()
    sign = torch.tensor([1.0, -1.0, 1.0, -1.0])
    torch.testing.assert_close(apply_op(x, op, 0.0, sign), x, rtol=0, atol=1e-5)


def test_strengths_at_magnitude_ten():
    x = _images()
    plus, minus = torch.ones(4), -torch.ones(4)
    torch.testing.assert_close(apply_op(x, "solarize", 10.0), 1.0 - x)  # everything inverted
    levels = torch.round(apply_op(x, "posterize", 10.0) * 255).long()
    assert bool((levels % 16 == 0).all())  # 4 bits kept
    torch.testing.assert_close(apply_op(x, "brightness", 10.0, minus), 0.1 * x)
    torch.testing.assert_close(apply_op(x, "rotate", 10.0, plus), ops.rotate(x, 30.0 * plus))
    torch.testing.assert_close(
        apply_op(x, "translate_y", 10.0, minus), ops.translate(x, -0.45 * plus, axis=1)
    )
    torch.testing.assert_close(apply_op(x, "scale", 5.0, minus), ops.scale(x, 0.85 * plus))
    signed = {"rotate", "contrast", "brightness", "sharpness", "scale", "shear_x", "shear_y"}
    assert signed | {"translate_x", "translate_y"} == SIGNED
    with pytest.raises(ValueError):
        apply_op(x, "rotate", 11.0)
    with pytest.raises(ValueError):
        apply_op(x, "colour", 1.0)


def test_seeded_generator_reproduces_the_batch():
    x = _images(16)
    a = rand_augment(x, 2, 9, generator=torch.Generator().manual_seed(5))
    b = rand_augment(x, 2, 9, generator=torch.Generator().manual_seed(5))
    c = rand_augment(x, 2, 9, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and float(a.min()) >= 0 and float(a.max()) <= 1
    assert torch.equal(rand_augment(x, 0, 9), x)


def test_each_image_gets_n_uniformly_chosen_operations(monkeypatch):
    seen: dict[str, int] = dict.fromkeys(OPS, 0)

    def record(x, op, magnitude, sign=None):
        seen[op] += x.shape[0]
        return x

    monkeypatch.setattr(randaugment, "apply_op", record)
    b, n = 700, 2
    rand_augment(torch.zeros(b, 1, 2, 2), n, 5, generator=torch.Generator().manual_seed(0))
    counts = torch.tensor(list(seen.values()), dtype=torch.float64)
    assert int(counts.sum()) == b * n
    expected = b * n / len(OPS)
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 34.5  # 99.9% quantile of chi-square with 13 degrees of freedom


def test_module_is_the_identity_in_eval_mode():
    x = _images()
    module = RandAugment(n=3, magnitude=7)
    assert module.eval()(x) is x
    assert module.train()(x, torch.Generator().manual_seed(0)).shape == x.shape
    assert "magnitude=7" in repr(module)
    with pytest.raises(ValueError):
        RandAugment(n=-1)
