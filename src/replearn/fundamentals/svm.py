r"""The support vector machine as a baseline: scikit-learn's solver behind a fit/predict API.

Papers: C. Cortes & V. Vapnik, "Support-vector networks", *Machine Learning* 20, 1995
(soft margin); B. E. Boser, I. M. Guyon & V. Vapnik, COLT 1992 (kernels). Solver:
LIBSVM (C.-C. Chang & C.-J. Lin, 2011) through ``sklearn.svm.SVC``.

With labels :math:`y_i \in \{-1, +1\}` and a feature map :math:`\phi` (kernel
:math:`k(x, x') = \phi(x)^\top \phi(x')`), the soft-margin SVM solves

.. math::

    \min_{w, b}\ \tfrac12 \lVert w \rVert^2 + C \sum_i \max(0,\ 1 - y_i f(x_i)),
    \quad f(x) = w^\top \phi(x) + b                        \qquad (1)\ \text{primal}

whose solution is a sum over the support vectors, :math:`f(x) = \sum_i \alpha_i y_i k(x_i, x) + b`
with :math:`0 \le \alpha_i \le C` (the dual). Multi-class: one-vs-one voting (LIBSVM's).
The RBF kernel is :math:`k(x, x') = \exp(-\gamma \lVert x - x' \rVert^2)`, with
:math:`\gamma = 1 / (d\, \mathrm{Var}(x))` (``"scale"``) by default.  \qquad (2)

This file holds the objective (1) as pure functions and a thin wrapper; the solver is
scikit-learn's, the reference. Deviations: none (it *is* LIBSVM).

Tests check, for a linear kernel on separable data, that the decision function equals
:math:`w^\top x + b` from the solver's coefficients, that the margin conditions hold
(:math:`y f(x) \ge 1` for all points, :math:`= 1` on the support vectors, tolerance 1e-3),
that (1) at the solution is no larger than at perturbed weights, and that the wrapper
predicts as ``SVC`` does.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.svm import SVC
from torch import Tensor

from replearn.registry import register

__all__ = ["SVMClassifier", "hinge_loss", "svm_primal_objective"]


def hinge_loss(scores: Tensor, y: Tensor) -> Tensor:
    r"""The hinge :math:`\max(0, 1 - y f(x))` per example (labels in {-1, +1}).

    Shape:
        scores: (N,); y: (N,) -> (N,).
    """
    return torch.clamp(1.0 - y * scores, min=0.0)


def svm_primal_objective(x: Tensor, y: Tensor, w: Tensor, b: Tensor | float, c: float) -> Tensor:
    r"""Eq. (1) for a linear kernel: :math:`\tfrac12 \lVert w\rVert^2 + C\sum_i \text{hinge}_i`.

    Shape:
        x: (N, d); y: (N,); w: (d,); b: scalar -> ().
    """
    return 0.5 * w.pow(2).sum() + c * hinge_loss(x @ w + b, y).sum()


def _numpy(t: Tensor | np.ndarray) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, Tensor) else np.asarray(t)


@register(
    "fundamentals.svm",
    paper="Cortes & Vapnik 1995, Machine Learning 20; Boser, Guyon & Vapnik 1992 (kernels)",
    reference="sklearn.svm.SVC (LIBSVM); margin conditions and the primal objective (1)",
)
class SVMClassifier:
    """A soft-margin SVM (Eq. 1) with ``fit`` / ``predict`` / ``score`` on tensors or arrays.

    Inputs of any shape are flattened to vectors. Not an ``nn.Module``: it has no gradient
    training; it is the classical baseline the neural networks are compared with.

    Args:
        c: the soft-margin penalty :math:`C > 0`.
        kernel: ``"rbf"``, ``"linear"`` or ``"poly"``.
        gamma: RBF/poly width :math:`\\gamma` (Eq. 2): ``"scale"``, ``"auto"`` or a float > 0.
    """

    def __init__(
        self, *, c: float = 10.0, kernel: str = "rbf", gamma: str | float = "scale"
    ) -> None:
        if c <= 0:
            raise ValueError(f"c must be > 0, got {c}")
        if kernel not in ("rbf", "linear", "poly"):
            raise ValueError(f"kernel must be 'rbf', 'linear' or 'poly', got {kernel!r}")
        if isinstance(gamma, str) and gamma not in ("scale", "auto"):
            raise ValueError(f"gamma must be 'scale', 'auto' or a positive float, got {gamma!r}")
        if not isinstance(gamma, str) and gamma <= 0:
            raise ValueError(f"gamma must be > 0, got {gamma}")
        self.c, self.kernel, self.gamma = c, kernel, gamma
        self.svc = SVC(C=c, kernel=kernel, gamma=gamma)

    def fit(self, x: Tensor | np.ndarray, y: Tensor | np.ndarray) -> SVMClassifier:
        """Solve the dual of (1) with LIBSVM. Shape: x (N, *), y (N,) integer labels."""
        xs = _numpy(x).reshape(len(x), -1)
        self.svc.fit(xs, _numpy(y))
        return self

    def decision_function(self, x: Tensor | np.ndarray) -> Tensor:
        """:math:`f(x)` (two classes: (N,)) or one-vs-one scores (N, K(K-1)/2), float64."""
        return torch.from_numpy(self.svc.decision_function(_numpy(x).reshape(len(x), -1)))

    def predict(self, x: Tensor | np.ndarray) -> Tensor:
        """Predicted labels (N,) int64."""
        return torch.from_numpy(self.svc.predict(_numpy(x).reshape(len(x), -1)).astype(np.int64))

    def score(self, x: Tensor | np.ndarray, y: Tensor | np.ndarray) -> float:
        """Accuracy on ``(x, y)``."""
        return float((self.predict(x).numpy() == _numpy(y)).mean())

    @property
    def n_support(self) -> int:
        """Number of support vectors after ``fit``."""
        return int(self.svc.n_support_.sum())

    def __repr__(self) -> str:
        return f"SVMClassifier(c={self.c}, kernel={self.kernel!r}, gamma={self.gamma!r})"
