"""Procedural layouts of gan-spade: one-hot maps, class appearances, the layout error."""

from __future__ import annotations

import pytest
import torch

from replearn.experiments.gan.gan_spade import CLASS_VALUES, layout_error, layouts


def test_layouts_are_one_hot_and_images_follow_them():
    m, x = layouts(20, 16, torch.Generator().manual_seed(0))
    assert m.shape == (20, 3, 16, 16) and x.shape == (20, 1, 16, 16)
    torch.testing.assert_close(m.sum(1), torch.ones(20, 16, 16))
    assert (m[:, 1].sum((1, 2)) > 0).any() and (m[:, 2].sum((1, 2)) > 0).all()
    assert layout_error(x, m) < 0.02  # real scenes match their layouts
    again = layouts(20, 16, torch.Generator().manual_seed(0))
    assert torch.equal(again[0], m) and torch.equal(again[1], x)


def test_layout_error_of_constant_images():
    m, _ = layouts(10, 16, torch.Generator().manual_seed(1))
    flat = torch.zeros(10, 1, 16, 16)
    expected = sum(abs(v) for v in CLASS_VALUES) / 3
    assert layout_error(flat, m) == pytest.approx(expected, rel=1e-6)
