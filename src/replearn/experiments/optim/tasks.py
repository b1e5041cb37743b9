r"""Problems of the optimization experiments (and of the optimizer tests), and the roster.

* Rosenbrock (1960): :math:`f(x, y) = (a - x)^2 + b (y - x^2)^2`, minimum 0 at
  :math:`(a, a^2)`: a curved, badly conditioned valley.
* Beale (1958): :math:`(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2`,
  minimum 0 at :math:`(3, 0.5)`: flat plateaus and steep walls.
* An ill-conditioned quadratic :math:`\tfrac12 \sum_i \lambda_i x_i^2`, eigenvalues
  log-spaced from 1 to the condition number :math:`\kappa`.
* Reddi, Kale & Kumar (2018, arXiv:1904.09237, Sec. 5): the online problem
  :math:`f_t(x) = C x` if :math:`t \bmod P = 1`, else :math:`-s x`, on
  :math:`x \in [-1, 1]`; with :math:`C = 1010, s = 10, P = 101` the average
  gradient is :math:`+10/101`, so the optimum is :math:`x^* = -1`.
* A Zipf-distributed item classification task (rare items: sparse gradients).
* Least squares with features on very different scales, and its ridge solution.

Point functions take (..., d) and return (...). Also here: :func:`roster_optimizer` (the
roster), :func:`descend` (full-gradient descent of a test function); :func:`single_thread` is
:func:`replearn.engine.context.single_thread`, re-exported for the optimizer experiments.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from replearn.engine.context import single_thread
from replearn.optim import SGD, AdaBound, Adagrad, Adam, AdamW, AMSGrad, RMSprop

__all__ = [
    "BEALE_MIN",
    "BEALE_START",
    "OPTIMIZERS",
    "ROSENBROCK_MIN",
    "ROSENBROCK_START",
    "anisotropic_regression",
    "beale",
    "descend",
    "quadratic",
    "quadratic_eigenvalues",
    "reddi_gradient",
    "ridge_solution",
    "rosenbrock",
    "roster_optimizer",
    "single_thread",
    "steps_to_tolerance",
    "zipf_items",
]

ROSENBROCK_START = (-1.5, 2.0)
ROSENBROCK_MIN = (1.0, 1.0)
BEALE_START = (1.0, 1.5)
BEALE_MIN = (3.0, 0.5)

OPTIMIZERS = (
    "sgd",
    "momentum",
    "nesterov",
    "adagrad",
    "rmsprop",
    "adam",
    "adamw",
    "amsgrad",
    "adabound",
)
"""The roster compared by the experiments, in the order of the course."""


def roster_optimizer(
    name: str,
    params: Iterable[Any],
    lr: float,
    *,
    final_lr: float = 0.1,
    gamma: float = 1e-3,
) -> torch.optim.Optimizer:
    """An optimizer of the roster: torch defaults except ``lr`` (momentum 0.9; AdamW decay 1e-2).

    Args:
        name: one of :data:`OPTIMIZERS`.
        params: parameters or parameter groups.
        lr: learning rate.
        final_lr: AdaBound's SGD-phase learning rate.
        gamma: AdaBound's bound convergence speed.
    """
    if name == "sgd":
        return SGD(params, lr=lr)
    if name == "momentum":
        return SGD(params, lr=lr, momentum=0.9)
    if name == "nesterov":
        return SGD(params, lr=lr, momentum=0.9, nesterov=True)
    if name == "adagrad":
        return Adagrad(params, lr=lr)
    if name == "rmsprop":
        return RMSprop(params, lr=lr)
    if name == "adam":
        return Adam(params, lr=lr)
    if name == "adamw":
        return AdamW(params, lr=lr, weight_decay=1e-2)
    if name == "amsgrad":
        return AMSGrad(params, lr=lr)
    if name == "adabound":
        return AdaBound(params, lr=lr, final_lr=final_lr, gamma=gamma)
    raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")


def descend(
    f: Callable[[Tensor], Tensor],
    start: tuple[float, ...],
    name: str,
    lr: float,
    steps: int,
    *,
    stop_below: float = -math.inf,
    **kw: Any,
) -> list[tuple[float, ...]]:
    """Points ``(*x, f(x))`` of up to ``steps`` full-gradient updates of ``f`` from ``start``.

    Stops early once ``f(x) <= stop_below``; ``kw`` goes to :func:`roster_optimizer`.
    """
    x = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = roster_optimizer(name, [x], lr, **kw)
    path = []
    for _ in range(steps):
        opt.zero_grad()
        loss = f(x)
        path.append((*x.tolist(), loss.item()))
        if path[-1][-1] <= stop_below:
            return path
        loss.backward()
        opt.step()
    with torch.no_grad():
        path.append((*x.tolist(), f(x).item()))
    return path


def steps_to_tolerance(losses: list[float], tolerance: float) -> int | None:
    """First step whose loss is at most ``tolerance * losses[0]`` (None if none)."""
    return next((t for t, v in enumerate(losses) if v <= tolerance * losses[0]), None)


def rosenbrock(xy: Tensor, a: float = 1.0, b: float = 100.0) -> Tensor:
    """Rosenbrock's banana function.

    Shape:
        (..., 2) -> (...)
    """
    x, y = xy[..., 0], xy[..., 1]
    return (a - x) ** 2 + b * (y - x**2) ** 2


def beale(xy: Tensor) -> Tensor:
    """Beale's function.

    Shape:
        (..., 2) -> (...)
    """
    x, y = xy[..., 0], xy[..., 1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def quadratic_eigenvalues(dim: int, condition: float, dtype: torch.dtype = torch.float64) -> Tensor:
    """Eigenvalues log-spaced from 1 to ``condition`` (the Hessian's diagonal).

    Shape:
        () -> (dim,)
    """
    return torch.logspace(0.0, math.log10(condition), dim, dtype=dtype)


def quadratic(x: Tensor, eigenvalues: Tensor) -> Tensor:
    r""":math:`\tfrac12 \sum_i \lambda_i x_i^2`.

    Shape:
        x: (..., d), eigenvalues: (d,) -> (...)
    """
    return 0.5 * (eigenvalues * x**2).sum(-1)


def reddi_gradient(t: int, *, big: float = 1010.0, small: float = 10.0, period: int = 101) -> float:
    """Gradient of Reddi et al.'s online loss at step ``t`` (1-based): ``big`` or ``-small``."""
    return big if t % period == 1 else -small


def zipf_items(
    num_items: int, num_classes: int, exponent: float, *, steps: int, batch: int, seed: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Items drawn with probability proportional to ``rank ** -exponent``, each with a random class.

    Returns:
        ``(stream, labels, counts)``: the item indices of every batch (steps, batch),
        each item's class (num_items,), and how often each item occurs in the stream.
    """
    gen = torch.Generator().manual_seed(seed)
    probs = torch.arange(1, num_items + 1, dtype=torch.float64) ** -exponent
    labels = torch.randint(0, num_classes, (num_items,), generator=gen)
    stream = torch.multinomial(probs / probs.sum(), steps * batch, replacement=True, generator=gen)
    counts = torch.bincount(stream, minlength=num_items)
    return stream.view(steps, batch), labels, counts


def anisotropic_regression(
    n: int, dim: int, *, scale_range: float, noise: float, seed: int
) -> tuple[Tensor, Tensor]:
    """Linear data ``y = X w + noise`` whose feature scales are log-spaced over ``scale_range``.

    Shape:
        -> X: (n, dim), y: (n,), float64
    """
    gen = torch.Generator().manual_seed(seed)
    half = math.log10(scale_range) / 2
    scales = torch.logspace(-half, half, dim, dtype=torch.float64)
    x = torch.randn(n, dim, generator=gen, dtype=torch.float64) * scales
    w = torch.randn(dim, generator=gen, dtype=torch.float64)
    return x, x @ w + noise * torch.randn(n, generator=gen, dtype=torch.float64)


def ridge_solution(x: Tensor, y: Tensor, lam: float) -> Tensor:
    r"""Minimiser of :math:`\frac{1}{2n}\|Xw - y\|^2 + \frac{\lambda}{2}\|w\|^2`:
    :math:`(X^\top X / n + \lambda I)^{-1} X^\top y / n`.

    Shape:
        x: (n, d), y: (n,) -> (d,)
    """
    n, d = x.shape
    eye = torch.eye(d, dtype=x.dtype)
    return torch.linalg.solve(x.T @ x / n + lam * eye, x.T @ y / n)
