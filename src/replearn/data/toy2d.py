"""Two-dimensional toy densities for generative models (GANs, flows, diffusion).

All live roughly in ``[-4, 4]^2``. Definitions (``N(m, s^2)`` is isotropic):

- ``moons``: scikit-learn's two interleaving half circles, ``noise = 0.1``, centred
  at 0 and scaled by 2.
- ``8gaussians``: equal mixture of ``N(c_k, 0.2^2 I)``, centres ``c_k`` on the circle
  of radius 2 at angles ``2 pi k / 8``.
- ``25gaussians``: equal mixture of ``N(c, 0.1^2 I)`` over the grid
  ``c in {-2, -1, 0, 1, 2}^2``.
- ``rings``: equal mixture of three rings of radii 1, 2, 3: a point uniform on the
  circle plus ``N(0, 0.1^2 I)`` noise. Its density is exact,
  ``p_R(x) = exp(-(r - R)^2 / 2 s^2) i0e(r R / s^2) / (2 pi s^2)`` with ``r = |x|``
  and ``i0e`` the exponentially scaled Bessel function ``I_0``.
- ``checkerboard``: uniform on the 8 squares of side 2 of a checkerboard over
  ``[-4, 4]^2`` (cells ``(i, j)`` with ``i + j`` even), density ``1 / 32`` there.
- ``swissroll``: scikit-learn's swiss roll ``t (cos t, sin t)``,
  ``t ~ U[1.5 pi, 4.5 pi]``, plus ``N(0, 1)`` noise, divided by 5 (as in FFJORD).
- ``pinwheel``: five spiralling arms (Johnson et al. 2016; FFJORD's parameters:
  radial std 0.3, tangential std 0.1, rate 0.25), scaled by 2.

Mixtures, rings and the checkerboard have an exact :func:`log_density`; moons,
swiss roll and pinwheel do not (:func:`has_density` tells).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable

import torch
from torch.utils.data import Dataset

__all__ = ["NAMES", "Toy2D", "has_density", "log_density", "sample"]

EIGHT_RADIUS, EIGHT_STD = 2.0, 0.2
GRID_STD = 0.1
RING_RADII, RING_STD = (1.0, 2.0, 3.0), 0.1
CHECKER_HALF_WIDTH, CHECKER_CELL = 4.0, 2.0


def _eight_centres() -> torch.Tensor:
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return EIGHT_RADIUS * torch.stack([angles.cos(), angles.sin()], dim=1)  # (8, 2)


def _grid_centres() -> torch.Tensor:
    axis = torch.arange(-2.0, 3.0, dtype=torch.float64)
    return torch.cartesian_prod(axis, axis)  # (25, 2)


def _uniform(n: int, g: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, generator=g, dtype=torch.float64)


def _normal(n: int, g: torch.Generator | None) -> torch.Tensor:
    return torch.randn(n, 2, generator=g, dtype=torch.float64)


def _mixture_sample(
    centres: torch.Tensor, std: float, n: int, g: torch.Generator | None
) -> torch.Tensor:
    k = torch.randint(0, len(centres), (n,), generator=g)
    return centres[k] + std * _normal(n, g)


def _mixture_log_density(centres: torch.Tensor, std: float, x: torch.Tensor) -> torch.Tensor:
    sq = (x[:, None, :] - centres.to(x)[None]).pow(2).sum(-1)  # (n, K)
    log_components = -sq / (2 * std**2) - math.log(2 * math.pi * std**2)
    return torch.logsumexp(log_components, dim=1) - math.log(len(centres))


def _moons(n: int, g: torch.Generator | None) -> torch.Tensor:
    t = math.pi * _uniform(n, g)
    lower = torch.rand(n, generator=g) < 0.5
    outer = torch.stack([t.cos(), t.sin()], dim=1)
    inner = torch.stack([1 - t.cos(), 0.5 - t.sin()], dim=1)
    points = torch.where(lower[:, None], inner, outer) + 0.1 * _normal(n, g)
    return 2 * (points - torch.tensor([0.5, 0.25], dtype=torch.float64))


def _rings(n: int, g: torch.Generator | None) -> torch.Tensor:
    radii = torch.tensor(RING_RADII, dtype=torch.float64)[torch.randint(0, 3, (n,), generator=g)]
    theta = 2 * math.pi * _uniform(n, g)
    circle = radii[:, None] * torch.stack([theta.cos(), theta.sin()], dim=1)
    return circle + RING_STD * _normal(n, g)


def _rings_log_density(x: torch.Tensor) -> torch.Tensor:
    r = x.norm(dim=1, keepdim=True)  # (n, 1)
    radii = torch.tensor(RING_RADII, dtype=x.dtype)[None]  # (1, K)
    var = RING_STD**2
    log_components = (
        -(r - radii).pow(2) / (2 * var)
        + torch.special.i0e(r * radii / var).log()
        - math.log(2 * math.pi * var)
    )
    return torch.logsumexp(log_components, dim=1) - math.log(len(RING_RADII))


def _checkerboard(n: int, g: torch.Generator | None) -> torch.Tensor:
    i = torch.randint(0, 4, (n,), generator=g)
    j = 2 * torch.randint(0, 2, (n,), generator=g) + i % 2  # i + j even
    corner = -CHECKER_HALF_WIDTH + CHECKER_CELL * torch.stack([i, j], dim=1).double()
    return corner + CHECKER_CELL * torch.rand(n, 2, generator=g, dtype=torch.float64)


def _checkerboard_log_density(x: torch.Tensor) -> torch.Tensor:
    cells = torch.floor((x + CHECKER_HALF_WIDTH) / CHECKER_CELL)  # (n, 2)
    inside = ((cells >= 0) & (cells < 4)).all(dim=1) & (cells.sum(dim=1) % 2 == 0)
    area = 8 * CHECKER_CELL**2
    return torch.where(inside, -math.log(area), -math.inf).to(x.dtype)


def _swissroll(n: int, g: torch.Generator | None) -> torch.Tensor:
    t = 1.5 * math.pi * (1 + 2 * _uniform(n, g))
    return (t[:, None] * torch.stack([t.cos(), t.sin()], dim=1) + _normal(n, g)) / 5


def _pinwheel(n: int, g: torch.Generator | None) -> torch.Tensor:
    arm = torch.randint(0, 5, (n,), generator=g).double()
    f = _normal(n, g) * torch.tensor([0.3, 0.1], dtype=torch.float64)
    f[:, 0] += 1
    angle = 2 * math.pi * arm / 5 + 0.25 * f[:, 0].exp()
    c, s = angle.cos(), angle.sin()
    return 2 * torch.stack([f[:, 0] * c + f[:, 1] * s, -f[:, 0] * s + f[:, 1] * c], dim=1)


_SAMPLERS: dict[str, Callable[[int, torch.Generator | None], torch.Tensor]] = {
    "moons": _moons,
    "8gaussians": lambda n, g: _mixture_sample(_eight_centres(), EIGHT_STD, n, g),
    "25gaussians": lambda n, g: _mixture_sample(_grid_centres(), GRID_STD, n, g),
    "rings": _rings,
    "checkerboard": _checkerboard,
    "swissroll": _swissroll,
    "pinwheel": _pinwheel,
}

_DENSITIES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "8gaussians": lambda x: _mixture_log_density(_eight_centres(), EIGHT_STD, x),
    "25gaussians": lambda x: _mixture_log_density(_grid_centres(), GRID_STD, x),
    "rings": _rings_log_density,
    "checkerboard": _checkerboard_log_density,
}

NAMES: tuple[str, ...] = tuple(_SAMPLERS)


def _check_name(name: str) -> None:
    if name not in _SAMPLERS:
        close = difflib.get_close_matches(name, NAMES, n=3, cutoff=0.5)
        hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
        raise ValueError(f"unknown toy density {name!r}{hint}; known: {', '.join(NAMES)}")


def has_density(name: str) -> bool:
    """Return whether :func:`log_density` is available for ``name``."""
    _check_name(name)
    return name in _DENSITIES


def sample(name: str, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw ``n`` points from a toy density.

    Args:
        name: One of :data:`NAMES`.
        n: Number of points.
        generator: Source of randomness; the global torch generator when ``None``.
            The same generator state gives bitwise the same points.

    Returns:
        float32 tensor of shape ``(n, 2)``.
    """
    _check_name(name)
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    return _SAMPLERS[name](n, generator).float()


def log_density(name: str, x: torch.Tensor) -> torch.Tensor:
    """Exact log-density of a toy distribution at points ``x``.

    Args:
        name: A name with :func:`has_density` true.
        x: Points, shape ``(n, 2)``, float32 or float64.

    Returns:
        ``log p(x)``, shape ``(n,)``, in the dtype of ``x`` (``-inf`` off the support).

    Raises:
        ValueError: Unknown name, a density without a closed form, or a bad shape.
    """
    _check_name(name)
    if name not in _DENSITIES:
        raise ValueError(
            f"toy density {name!r} has no closed-form density; these do: {', '.join(_DENSITIES)}"
        )
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (n, 2), got {tuple(x.shape)}")
    return _DENSITIES[name](x)


class Toy2D(Dataset):
    """``n`` points of a toy density, drawn once from ``seed``; item ``i`` is a ``(2,)`` tensor.

    Args:
        name: One of :data:`NAMES`.
        n: Number of points.
        seed: Seed of the generator the points are drawn with.

    Attributes:
        data: All points, float32 ``(n, 2)``.
    """

    def __init__(self, name: str, n: int, seed: int = 0) -> None:
        self.name = name
        self.data = sample(name, n, generator=torch.Generator().manual_seed(seed))

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.data[i]
