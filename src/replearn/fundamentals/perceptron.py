r"""Rosenblatt's perceptron and its error-correction learning rule.

Paper: F. Rosenblatt, "The perceptron: a probabilistic model for information
storage and organization in the brain", *Psychological Review* 65(6), 1958.
Convergence theorem: A. B. J. Novikoff, "On convergence proofs on perceptrons",
*Symposium on the Mathematical Theory of Automata*, 1962.

A perceptron is a linear threshold unit with weights :math:`w \in \mathbb{R}^d`
and bias :math:`b`. With labels :math:`y \in \{-1, +1\}`:

.. math::

    s(x) = w^\top x + b                                   \qquad (1)\ \text{score}

    \hat y(x) = \operatorname{sign}(s(x)) \quad (+1 \text{ if } s > 0, \text{ else } -1)
                                                          \qquad (2)\ \text{decision}

    \text{on a mistake } y\, s(x) \le 0:\quad
    w \leftarrow w + \eta\, y\, x, \qquad b \leftarrow b + \eta\, y
                                                          \qquad (3)\ \text{update}

Training visits the examples in a fixed order, epoch after epoch, starting from
:math:`w = 0, b = 0`, and stops after an epoch without a mistake (the data are
then separated). Novikoff's theorem: if some unit vector :math:`u` (over the
augmented inputs :math:`\tilde x = (x, 1)`) separates the data with margin
:math:`\gamma = \min_i y_i\, u^\top \tilde x_i > 0` and
:math:`R = \max_i \lVert \tilde x_i \rVert`, the rule makes at most

.. math::

    k \le (R / \gamma)^2                                  \qquad (4)\ \text{mistake bound}

updates in total, whatever the order and the learning rate :math:`\eta > 0`.

Deviations: Rosenblatt's unit is a 0/1 threshold on association cells; we use
the usual modern form with ±1 labels. A point exactly on the hyperplane
(:math:`y\,s = 0`) counts as a mistake during training (so training can start
from :math:`w = 0`, and as in Novikoff's proof); :func:`perceptron_predict`
sends :math:`s = 0` to :math:`-1`, like scikit-learn.

Tests check :func:`train_perceptron` against ``sklearn.linear_model.Perceptron``
(``eta0=1, alpha=0, penalty=None, shuffle=False, tol=None``: scikit-learn's
SGD with the hinge loss at threshold 0 updates by :math:`\eta\, y\, x` exactly
when :math:`y\,s \le 0`) on the same data order in float64, and the mistake
count against the bound (4).

See docs/corrections.md#fundamentals-and-history (the perceptron is Rosenblatt's;
McCulloch–Pitts gave the threshold unit).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from replearn.registry import Example, register

__all__ = [
    "Perceptron",
    "PerceptronResult",
    "augment",
    "margin",
    "novikoff_bound",
    "perceptron_predict",
    "perceptron_score",
    "perceptron_update",
    "train_perceptron",
]


def perceptron_score(x: Tensor, w: Tensor, b: Tensor | float) -> Tensor:
    r"""Eq. (1): the score :math:`s(x) = w^\top x + b`.

    Shape:
        x: (N, d) or (d,); w: (d,); b: scalar -> (N,) or ().
    """
    return x @ w + b


def perceptron_predict(x: Tensor, w: Tensor, b: Tensor | float) -> Tensor:
    r"""Eq. (2): the decision :math:`\hat y = +1` if :math:`s(x) > 0` else :math:`-1`.

    Shape:
        x: (N, d); w: (d,); b: scalar -> (N,) with values in {-1, +1} (dtype of x).
    """
    s = perceptron_score(x, w, b)  # (N,)
    return torch.where(s > 0, torch.ones_like(s), -torch.ones_like(s))


def perceptron_update(
    w: Tensor, b: Tensor, x: Tensor, y: Tensor | float, lr: float = 1.0
) -> tuple[Tensor, Tensor]:
    r"""Eq. (3): one error-correction step :math:`w + \eta y x,\; b + \eta y`.

    Applied by :func:`train_perceptron` only on a mistake (:math:`y\,s \le 0`).

    Shape:
        w: (d,); b: (); x: (d,); y: scalar in {-1, +1} -> ((d,), ()).
    """
    return w + lr * y * x, b + lr * y


def augment(x: Tensor) -> Tensor:
    r"""The augmented inputs :math:`\tilde x = (x, 1)` that fold the bias into the weights.

    Shape:
        x: (N, d) -> (N, d + 1).
    """
    return torch.cat([x, torch.ones_like(x[:, :1])], dim=1)


def margin(x: Tensor, y: Tensor, w: Tensor, b: Tensor | float) -> Tensor:
    r"""Geometric margin of :math:`(w, b)` over the augmented inputs.

    .. math:: \gamma = \min_i \frac{y_i (w^\top x_i + b)}{\lVert (w, b) \rVert}

    Negative when :math:`(w, b)` misclassifies a point.

    Shape:
        x: (N, d); y: (N,); w: (d,); b: scalar -> ().
    """
    norm = torch.linalg.vector_norm(torch.cat([w.reshape(-1), torch.as_tensor(b).reshape(1)]))
    return (y * perceptron_score(x, w, b)).min() / norm


def novikoff_bound(x: Tensor, y: Tensor, w_star: Tensor, b_star: Tensor | float) -> float:
    r"""Eq. (4): :math:`(R/\gamma)^2` with :math:`R = \max_i \lVert (x_i, 1) \rVert`.

    ``(w_star, b_star)`` is any separating hyperplane; the bound is finite only
    if it separates the data (:math:`\gamma > 0`), else ``inf`` is returned.

    Shape:
        x: (N, d); y: (N,); w_star: (d,); b_star: scalar -> float.
    """
    gamma = float(margin(x, y, w_star, b_star))
    if gamma <= 0:
        return float("inf")
    radius = float(torch.linalg.vector_norm(augment(x), dim=1).max())
    return (radius / gamma) ** 2


@dataclass(frozen=True)
class PerceptronResult:
    """What :func:`train_perceptron` returns.

    Attributes:
        w: final weights, shape (d,).
        b: final bias, shape ().
        mistakes_per_epoch: number of updates in each epoch that ran.
        converged: the last epoch made no mistake (the data are separated).
    """

    w: Tensor
    b: Tensor
    mistakes_per_epoch: list[int]
    converged: bool

    @property
    def total_mistakes(self) -> int:
        """Updates made over the whole run (the quantity Novikoff's theorem bounds)."""
        return sum(self.mistakes_per_epoch)


def _check_labels(x: Tensor, y: Tensor) -> None:
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, d), got {tuple(x.shape)}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must have shape ({x.shape[0]},), got {tuple(y.shape)}")
    if not bool(((y == 1) | (y == -1)).all()):
        raise ValueError("labels y must be -1 or +1")


def train_perceptron(
    x: Tensor,
    y: Tensor,
    *,
    epochs: int,
    lr: float = 1.0,
    order: Tensor | None = None,
    init: tuple[Tensor, Tensor] | None = None,
) -> PerceptronResult:
    r"""Rosenblatt's learning rule: sweep the data in ``order``, update on every mistake.

    Starts from :math:`w = 0, b = 0` (or ``init``); each epoch visits ``x[order]`` once and
    applies Eq. (3) whenever :math:`y_i (w^\top x_i + b) \le 0`. Stops early after
    an epoch without a mistake (later epochs would change nothing), so
    ``len(mistakes_per_epoch) <= epochs``.

    Args:
        x: inputs (any floating dtype; float64 for exact comparisons).
        y: labels in {-1, +1}, same dtype as ``x`` or castable to it.
        epochs: maximum number of passes over the data (>= 1).
        lr: learning rate :math:`\eta > 0` (with :math:`w_0 = 0` it only scales
            :math:`(w, b)`, never changes the decisions).
        order: a permutation of ``range(N)`` giving the visiting order used in
            every epoch; ``None`` keeps the data order.
        init: ``(w, b)`` to continue from, instead of zeros.

    Returns:
        A :class:`PerceptronResult`.

    Shape:
        x: (N, d); y: (N,); order: (N,); init: ((d,), ()) -> w: (d,), b: ().
    """
    _check_labels(x, y)
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if lr <= 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    n, d = x.shape
    if order is None:
        order = torch.arange(n)
    elif sorted(order.tolist()) != list(range(n)):
        raise ValueError("order must be a permutation of range(N)")
    y = y.to(x.dtype)
    if init is None:
        w = torch.zeros(d, dtype=x.dtype, device=x.device)  # (d,)
        b = torch.zeros((), dtype=x.dtype, device=x.device)  # ()
    else:
        w, b = init[0].to(x.dtype).reshape(d), init[1].to(x.dtype).reshape(())
    mistakes: list[int] = []
    for _ in range(epochs):
        count = 0
        for i in order.tolist():
            if y[i] * perceptron_score(x[i], w, b) <= 0:  # a mistake (or on the boundary)
                w, b = perceptron_update(w, b, x[i], y[i], lr)
                count += 1
        mistakes.append(count)
        if count == 0:
            break
    return PerceptronResult(w=w, b=b, mistakes_per_epoch=mistakes, converged=mistakes[-1] == 0)


def _example() -> Example:
    module = Perceptron(3)
    with torch.no_grad():
        module.weight.copy_(torch.tensor([0.5, -1.0, 2.0]))
        module.bias.fill_(0.25)
    return Example(module, (torch.randn(5, 3),), (5,))


@register(
    "fundamentals.perceptron",
    paper="Rosenblatt 1958, Psychological Review 65(6); Novikoff 1962 (convergence)",
    reference="sklearn.linear_model.Perceptron (same weights, float64); Novikoff bound",
    example=_example,
)
class Perceptron(nn.Module):
    """A linear threshold unit: ``forward`` gives the score ``w·x + b`` (Eq. 1).

    The weights are learned by :func:`train_perceptron` (not by gradient
    descent); :meth:`load_result` copies its output in.

    Args:
        in_features: input dimension d (>= 1).
    """

    def __init__(self, in_features: int) -> None:
        super().__init__()
        if in_features < 1:
            raise ValueError(f"in_features must be >= 1, got {in_features}")
        self.in_features = in_features
        self.weight = nn.Parameter(torch.zeros(in_features))
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        """Score ``w·x + b``.

        Shape:
            x: (N, d) -> (N,).
        """
        if x.shape[-1] != self.in_features:
            raise ValueError(f"expected {self.in_features} input features, got {x.shape[-1]}")
        return perceptron_score(x, self.weight, self.bias)

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """Decision in {-1, +1} (Eq. 2). Shape: (N, d) -> (N,)."""
        return perceptron_predict(x, self.weight, self.bias)

    @torch.no_grad()
    def load_result(self, result: PerceptronResult) -> Perceptron:
        """Copy the weights found by :func:`train_perceptron` into the module."""
        self.weight.copy_(result.w)
        self.bias.copy_(result.b)
        return self

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}"
