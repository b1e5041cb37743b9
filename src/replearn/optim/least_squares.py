r"""Least squares in closed form, beside gradient descent on the same objective.

References: C. F. Gauss, *Theoria motus*, 1809 and A.-M. Legendre, 1805 (least squares);
G. H. Golub & C. F. Van Loan, *Matrix Computations*, 4th ed. 2013, Sec. 5.3 (normal
equations vs QR); Y. Nesterov, *Introductory Lectures on Convex Optimization*, 2004,
Theorem 2.1.15 (gradient descent on a strongly convex quadratic).

For :math:`f(w) = \frac{1}{2n}\|Xw - y\|^2 + \frac{\lambda}{2}\|w\|^2` with
:math:`A = X^\top X / n + \lambda I` and :math:`b = X^\top y / n`:

.. math::

    w^* = A^{-1} b                                          \qquad (1)\ \text{normal equations}

    X = QR \ (\lambda = 0):\quad R\, w^* = Q^\top y          \qquad (2)\ \text{QR, stable}

    w_{k+1} = w_k - \eta (A w_k - b)                          \qquad (3)\ \text{gradient descent}

    w_k - w^* = (I - \eta A)^k (w_0 - w^*)                    \qquad (4)\ \text{GD in closed form}

    \|w_k - w^*\| \le \rho^k \|w_0 - w^*\|,\ \rho = \max_i |1 - \eta \lambda_i(A)|,
    \min_\eta \rho = \frac{\kappa - 1}{\kappa + 1} \text{ at } \eta = \frac{2}{\lambda_{max}
    + \lambda_{min}}                                           \qquad (5)\ \text{rate}

Eq. (4) is why gradient descent is slow on badly scaled inputs: the error along an
eigenvector of :math:`A` shrinks by :math:`|1 - \eta\lambda_i|` per step, and the
condition number :math:`\kappa = \lambda_{max}/\lambda_{min}` sets the number of steps,
:math:`\approx \frac{\kappa + 1}{2} \ln\frac{1}{\varepsilon}` (:func:`gd_steps_bound`).
Standardizing the inputs (:mod:`replearn.norm.standardize`) shrinks :math:`\kappa`.
The normal equations square the condition number of :math:`X`; QR does not (Eq. 2).

Tests (tests/optim/test_least_squares.py): Eqs. (1)-(2) against ``torch.linalg.lstsq``
(float64, tall and ridge problems); gradient descent (``replearn.optim.SGD`` on the
loss) against Eq. (4) at every step; the rate of Eq. (5).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from replearn.registry import register

__all__ = ["gd_closed_form", "gd_rate", "gd_steps_bound", "least_squares", "normal_matrix"]


def normal_matrix(x: Tensor, y: Tensor, ridge: float = 0.0) -> tuple[Tensor, Tensor]:
    r""":math:`A = X^\top X / n + \lambda I` and :math:`b = X^\top y / n`.

    Shape:
        x: (n, d), y: (n,) or (n, k) -> A: (d, d), b: (d,) or (d, k)
    """
    n, d = x.shape
    return x.T @ x / n + ridge * torch.eye(d, dtype=x.dtype, device=x.device), x.T @ y / n


@register(
    "optim.least_squares",
    paper="Legendre 1805 / Gauss 1809; Golub & Van Loan 2013, Sec. 5.3 (normal equations, QR)",
    reference="torch.linalg.lstsq (float64); gradient descent iterates vs Eq. (4)",
)
def least_squares(x: Tensor, y: Tensor, *, ridge: float = 0.0, method: str = "qr") -> Tensor:
    r"""The minimiser :math:`w^*` of the (ridge) least-squares objective, in closed form.

    Args:
        x: design matrix :math:`X`.
        y: targets.
        ridge: :math:`\lambda \ge 0` (the QR path takes :math:`\lambda = 0` only).
        method: ``"qr"`` (Eq. 2, needs full column rank) or ``"normal"`` (Eq. 1).

    Shape:
        x: (n, d), y: (n,) or (n, k) -> (d,) or (d, k)
    """
    if method not in ("qr", "normal"):
        raise ValueError(f"method must be 'qr' or 'normal', got {method!r}")
    if ridge < 0:
        raise ValueError(f"ridge must be >= 0, got {ridge!r}")
    if x.ndim != 2 or y.shape[0] != x.shape[0]:
        raise ValueError(f"need x (n, d) and y (n, ...), got {tuple(x.shape)}, {tuple(y.shape)}")
    if method == "qr" and ridge == 0:
        q, r = torch.linalg.qr(x)  # Eq. (2), reduced QR: q (n, d), r (d, d)
        rhs = q.T @ y
        vec = rhs.ndim == 1
        w = torch.linalg.solve_triangular(r, rhs.unsqueeze(-1) if vec else rhs, upper=True)
        return w.squeeze(-1) if vec else w
    a, b = normal_matrix(x, y, ridge)
    return torch.linalg.solve(a, b)  # Eq. (1)


def gd_closed_form(a: Tensor, w_star: Tensor, w_0: Tensor, lr: float, k: int) -> Tensor:
    r"""Eq. (4): the ``k``-th gradient-descent iterate :math:`w^* + (I - \eta A)^k (w_0 - w^*)`.

    Shape:
        a: (d, d), w_star, w_0: (d,) -> (d,)
    """
    m = torch.eye(a.shape[0], dtype=a.dtype, device=a.device) - lr * a
    return w_star + torch.linalg.matrix_power(m, k) @ (w_0 - w_star)


def gd_rate(a: Tensor, lr: float) -> float:
    r"""Eq. (5): :math:`\rho = \max_i |1 - \eta \lambda_i(A)|` (< 1: gradient descent converges).

    Shape:
        a: (d, d) symmetric -> ()
    """
    return float((1 - lr * torch.linalg.eigvalsh(a)).abs().max())


def gd_steps_bound(condition: float, tolerance: float) -> int:
    r"""Steps after which Eq. (5)'s bound at the best rate falls under ``tolerance``:
    :math:`\lceil \ln(1/\varepsilon) / \ln\frac{\kappa + 1}{\kappa - 1} \rceil`."""
    if condition <= 1:
        return 1
    return math.ceil(math.log(1 / tolerance) / math.log((condition + 1) / (condition - 1)))
