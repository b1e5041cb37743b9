"""Tests of replearn.data.toy2d: exact densities, sample statistics, determinism."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.data import toy2d
from replearn.data.toy2d import NAMES, Toy2D, has_density, log_density, sample

WITH_DENSITY = ["8gaussians", "25gaussians", "rings", "checkerboard"]
N = 100_000


def grid(half_width: float = 6.0, step: float = 0.02) -> tuple[torch.Tensor, float]:
    """Cell midpoints of a square grid over [-half_width, half_width]^2, and the cell area."""
    axis = torch.arange(-half_width + step / 2, half_width, step, dtype=torch.float64)
    return torch.cartesian_prod(axis, axis), step**2


def draw(name: str, n: int = N, seed: int = 0) -> torch.Tensor:
    return sample(name, n, generator=torch.Generator().manual_seed(seed)).double()


def test_names_and_has_density():
    assert set(NAMES) == {*WITH_DENSITY, "moons", "swissroll", "pinwheel"}
    assert [name for name in NAMES if has_density(name)] == WITH_DENSITY
    with pytest.raises(ValueError, match="no closed-form density"):
        log_density("moons", torch.zeros(1, 2))
    with pytest.raises(ValueError, match="did you mean '8gaussians'"):
        sample("8gaussian", 3)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        log_density("rings", torch.zeros(3))


@pytest.mark.parametrize("name", NAMES)
def test_samples_shape_and_determinism(name):
    a = sample(name, 1000, generator=torch.Generator().manual_seed(5))
    b = sample(name, 1000, generator=torch.Generator().manual_seed(5))
    c = sample(name, 1000, generator=torch.Generator().manual_seed(6))
    assert a.shape == (1000, 2) and a.dtype == torch.float32
    assert torch.isfinite(a).all() and a.abs().max() < 6
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(0)
    assert sample(name, 4).shape == (4, 2)  # the global generator works too


@pytest.mark.parametrize("name", WITH_DENSITY)
def test_density_integrates_to_one(name):
    points, area = grid()
    density = log_density(name, points).exp()
    assert density.dtype == torch.float64 and torch.isfinite(density).all()
    assert abs(density.sum().item() * area - 1.0) < 1e-3


@pytest.mark.parametrize("name", WITH_DENSITY)
@pytest.mark.parametrize("box", [(0.0, 6.0, -6.0, 6.0), (-1.5, 0.5, 0.25, 2.5)])
def test_samples_follow_the_density(name, box):
    """The fraction of samples in a box matches the integral of the density over it."""
    x0, x1, y0, y1 = box
    points, area = grid()
    inside = (points[:, 0] > x0) & (points[:, 0] < x1) & (points[:, 1] > y0) & (points[:, 1] < y1)
    mass = log_density(name, points[inside]).exp().sum().item() * area
    x = draw(name)
    hits = ((x[:, 0] > x0) & (x[:, 0] < x1) & (x[:, 1] > y0) & (x[:, 1] < y1)).double()
    assert abs(hits.mean().item() - mass) < 0.01  # ~6 standard errors at n = 1e5


# name -> (mean, E|x|^2) from the definitions in toy2d's docstring.
MOMENTS = {
    "8gaussians": ((0.0, 0.0), 2.0**2 + 2 * 0.2**2),
    "25gaussians": ((0.0, 0.0), 2 * 2.0 + 2 * 0.1**2),  # Var of uniform on {-2..2} is 2
    "rings": ((0.0, 0.0), (1 + 4 + 9) / 3 + 2 * 0.1**2),
    "checkerboard": ((0.0, 0.0), 2 * 8.0**2 / 12),  # each coordinate uniform on [-4, 4]
    # t ~ U[1.5 pi, 4.5 pi]: E[t cos t] = 2, E[t sin t] = 2 / (3 pi), E[t^2] = 39 pi^2 / 4.
    "swissroll": ((2 / 5, 2 / (15 * math.pi)), (39 * math.pi**2 / 4 + 2) / 25),
}


@pytest.mark.parametrize("name", list(MOMENTS))
def test_sample_moments(name):
    mean, second = MOMENTS[name]
    x = draw(name)
    torch.testing.assert_close(
        x.mean(0), torch.tensor(mean, dtype=torch.float64), atol=0.03, rtol=0
    )
    assert abs(x.pow(2).sum(1).mean().item() - second) / second < 0.01


@pytest.mark.parametrize("name", ["moons", "pinwheel"])
def test_symmetric_shapes_are_centred(name):
    x = draw(name)
    torch.testing.assert_close(x.mean(0), torch.zeros(2, dtype=torch.float64), atol=0.02, rtol=0)
    assert x.std(0).min() > 0.5 and x.std(0).max() < 3


def test_eight_gaussians_hit_all_modes():
    x = draw("8gaussians", 8000)
    centres = toy2d._eight_centres()
    nearest = torch.cdist(x, centres).min(dim=1)
    assert (nearest.values < 3 * 0.2 * math.sqrt(2)).float().mean() > 0.98
    counts = torch.bincount(nearest.indices, minlength=8)
    assert counts.min() > 850 and counts.max() < 1150  # ~1000 each


def test_checkerboard_support():
    # Cell (i, j) = floor((x + 4) / 2) is filled when i + j is even.
    inside = torch.tensor([[-3.0, -3.0], [-1.0, -1.0], [1.0, 1.0], [3.0, -1.0], [-1.0, 3.0]])
    outside = torch.tensor([[-3.0, -1.0], [1.0, 3.0], [-1.0, 1.0], [4.5, 0.0]])
    torch.testing.assert_close(log_density("checkerboard", inside), torch.full((5,), -math.log(32)))
    assert torch.isneginf(log_density("checkerboard", outside)).all()
    assert torch.isfinite(log_density("checkerboard", sample("checkerboard", 1000))).all()


def test_rings_density_is_finite_at_the_origin():
    value = log_density("rings", torch.zeros(1, 2, dtype=torch.float64))
    assert torch.isfinite(value).all() and value.item() < -40


def test_toy2d_dataset():
    data = Toy2D("rings", 256, seed=3)
    assert len(data) == 256 and data[0].shape == (2,)
    assert torch.equal(data.data, Toy2D("rings", 256, seed=3).data)
    assert torch.equal(data.data, sample("rings", 256, generator=torch.Generator().manual_seed(3)))
