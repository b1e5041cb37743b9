"""Active units, TwoNN and PCA intrinsic dimensions, image sharpness, on known cases."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.vae.diagnostics import (
    active_units,
    image_sharpness,
    pca_dimension,
    twonn_dimension,
)

F64 = torch.float64


@pytest.mark.parametrize("d", [2, 5, 10])
def test_twonn_on_a_linear_subspace(d: int) -> None:
    g = torch.Generator().manual_seed(d)
    basis = torch.linalg.qr(torch.randn(40, d, generator=g, dtype=F64))[0]  # (40, d)
    x = torch.rand(3000, d, generator=g, dtype=F64) @ basis.T
    est = twonn_dimension(x, chunk=700)
    assert abs(est - d) < 0.15 * d, est


def test_twonn_on_a_curved_surface_and_with_duplicates() -> None:
    g = torch.Generator().manual_seed(0)
    u, v = torch.rand(2, 3000, generator=g, dtype=F64) * 2 * math.pi
    torus = torch.stack(
        [(2 + torch.cos(v)) * torch.cos(u), (2 + torch.cos(v)) * torch.sin(u), torch.sin(v)], 1
    )
    x = torch.cat([torus, torus[:10]])  # duplicates have r_1 = 0 and are dropped
    assert abs(twonn_dimension(x) - 2) < 0.3
    with pytest.raises(ValueError):
        twonn_dimension(x[:2])


def test_pca_dimension_on_a_known_spectrum() -> None:
    g = torch.Generator().manual_seed(1)
    q = torch.linalg.qr(torch.randn(6, 6, generator=g, dtype=F64))[0]
    scales = torch.tensor([3.0, 2.0, 1.0, 0.1, 0.1, 0.1], dtype=F64)
    x = (torch.randn(20000, 6, generator=g, dtype=F64) * scales) @ q.T
    # variance fractions: 9, 4, 1, .01 x 3 of 14.03 -> 64%, 93%, 99.8%
    assert pca_dimension(x, variance=0.5) == 1
    assert pca_dimension(x, variance=0.9) == 2
    assert pca_dimension(x, variance=0.99) == 3
    assert pca_dimension(x, variance=1.0) == 6
    with pytest.raises(ValueError):
        pca_dimension(x, variance=0.0)


def test_active_units() -> None:
    g = torch.Generator().manual_seed(2)
    means = torch.randn(500, 4, generator=g, dtype=F64) * torch.tensor([1.0, 0.5, 0.01, 0.0])
    count, activity = active_units(means)
    assert count == 2
    torch.testing.assert_close(activity, means.var(0))


def test_sharpness_of_a_step_edge_and_its_blur() -> None:
    img = torch.zeros(1, 8, 8, dtype=F64)
    img[:, :, 4:] = 1.0
    # forward differences on the 7x7 grid: one column of unit jumps
    torch.testing.assert_close(image_sharpness(img), torch.tensor([7 / 49], dtype=F64))
    blur = img.clone()
    blur[:, :, 3] = 1 / 3
    blur[:, :, 4] = 2 / 3
    # three jumps of 1/3 per row: energy 3 / 9 of the step's (its total variation is equal)
    torch.testing.assert_close(image_sharpness(blur.unsqueeze(1)), image_sharpness(img) / 3)
    with pytest.raises(ValueError):
        image_sharpness(torch.zeros(8, 8))
