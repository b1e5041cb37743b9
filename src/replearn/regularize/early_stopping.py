r"""Early stopping and the two ways of then using the validation data (Goodfellow et al. §7.8).

Reference: I. Goodfellow, Y. Bengio & A. Courville, *Deep Learning*, MIT Press
2016, §7.8, Algorithms 7.1-7.3; L. Prechelt, "Early Stopping -- But When?", in
*Neural Networks: Tricks of the Trade*, 1998.

**Algorithm 7.1** (the meta-algorithm; the engine's ``EarlyStopping`` callback):
evaluate the validation error :math:`v` every :math:`n` steps; keep the parameters
:math:`\theta^*` and step count :math:`i^*` of the best evaluation so far; stop after
:math:`p` (the patience) evaluations in a row without improvement:

.. math::

    i^* = n \cdot \arg\min_k v_k, \qquad
    \text{stop after } p \text{ evaluations in a row that do not improve on the best}  \qquad (7.1)

Early stopping holds out data. Two ways to get it back once :math:`i^*` is known:

**Algorithm 7.2** (retrain): reinitialise :math:`\theta` and train on
subtrain + validation for :math:`i^*` steps -- or for as many *epochs* as
:math:`i^*` steps were on the subtrain set (the book leaves the choice open):

.. math::

    i_{\text{retrain}} = i^* \quad\text{or}\quad
    i_{\text{retrain}} = \mathrm{round}(i^* |\mathcal D_{train}| / |\mathcal D_{subtrain}|)
                                                                            \qquad (7.2)

**Algorithm 7.3** (stop on a surrogate loss): keep :math:`\theta^*`, note the
subtrain objective there, and continue training on subtrain + validation until
the validation objective falls below it:

.. math::

    \varepsilon = J(\theta^*; \mathcal D_{\text{subtrain}}), \qquad
    \text{while } J(\theta; \mathcal D_{\text{valid}}) > \varepsilon:
    \text{ train } n \text{ steps on } \mathcal D_{\text{train}}            \qquad (7.3)

Algorithm 7.3 may never terminate (the validation loss need not reach
:math:`\varepsilon`), so callers cap its steps. Both losses are measured in
evaluation mode (dropout off), as the engine evaluates.

This file holds the decision rules as pure functions; training (the engine's
``fit`` with its ``EarlyStopping`` callback) lives in the experiment
``regularize-early-stopping``.

Tests: :func:`early_stopping_point` replayed on recorded curves gives the same best
and stopping steps as the engine's ``EarlyStopping`` callback driven by ``fit``;
Eq. (7.2)'s two budgets; Eq. (7.3)'s loop condition.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from replearn.registry import register

__all__ = ["StoppingPoint", "early_stopping_point", "retrain_steps", "surrogate_continue"]


@dataclass(frozen=True)
class StoppingPoint:
    """Outcome of Algorithm 7.1 on a validation curve.

    Attributes:
        best_index: index k of the best evaluation.
        best_step: :math:`i^*`, training steps at the best evaluation.
        best_value: the best validation error :math:`v`.
        stop_index: index of the evaluation after which training stops (the last
            one if patience never ran out).
        stop_step: training steps when training stops.
        stopped: whether patience ran out before the curve ended.
    """

    best_index: int
    best_step: int
    best_value: float
    stop_index: int
    stop_step: int
    stopped: bool


@register(
    "regularize.early_stopping",
    paper="Goodfellow, Bengio & Courville 2016, Deep Learning §7.8, Algorithm 7.1",
    reference="the engine's EarlyStopping callback inside fit: same best and stopping steps",
)
def early_stopping_point(
    values: Sequence[float],
    steps: Sequence[int],
    *,
    patience: int,
    min_delta: float = 0.0,
    mode: Literal["min", "max"] = "min",
) -> StoppingPoint:
    r"""Algorithm 7.1 replayed on evaluations ``values`` made after ``steps`` training steps.

    An evaluation improves on the best so far if it is lower by more than
    ``min_delta`` (higher, for ``mode="max"``), the rule of the engine's callback.

    Args:
        values: validation errors :math:`v_k`, in order.
        steps: training steps at each evaluation (e.g. ``n, 2n, ...``).
        patience: :math:`p \ge 1`.
        min_delta: smallest change counted as an improvement.
        mode: ``"min"`` for losses, ``"max"`` for accuracies.

    Shape:
        values, steps: (K,) -> a :class:`StoppingPoint`.
    """
    if len(values) != len(steps) or not values:
        raise ValueError(f"need equally long, non-empty curves, got {len(values)}, {len(steps)}")
    if patience < 1:
        raise ValueError(f"patience must be >= 1, got {patience}")
    sign = 1.0 if mode == "min" else -1.0
    best, best_k, bad = math.inf, 0, 0
    for k, v in enumerate(values):
        if sign * v < best - min_delta:
            best, best_k, bad = sign * v, k, 0
        else:
            bad += 1
            if bad >= patience:
                return StoppingPoint(best_k, steps[best_k], values[best_k], k, steps[k], True)
    last = len(values) - 1
    return StoppingPoint(best_k, steps[best_k], values[best_k], last, steps[last], False)


@register(
    "regularize.early_stopping_retrain",
    paper="Goodfellow, Bengio & Courville 2016, Deep Learning §7.8, Algorithm 7.2",
    reference="closed form: i* steps, or i* * |train| / |subtrain| steps for equal epochs",
)
def retrain_steps(
    best_step: int,
    n_subtrain: int,
    n_train: int,
    *,
    unit: Literal["steps", "epochs"] = "steps",
) -> int:
    r"""Eq. (7.2): the budget for retraining on subtrain + validation from scratch.

    Args:
        best_step: :math:`i^*` from Algorithm 7.1 on the subtrain set.
        n_subtrain: examples in the subtrain set.
        n_train: examples in subtrain + validation.
        unit: ``"steps"`` (same number of updates) or ``"epochs"`` (same passes over the data).

    Shape:
        -> an int >= 1.
    """
    if best_step < 0 or n_subtrain < 1 or n_train < n_subtrain:
        raise ValueError(f"bad sizes: best_step={best_step}, {n_subtrain=}, {n_train=}")
    if unit == "steps":
        return max(best_step, 1)
    if unit == "epochs":
        return max(round(best_step * n_train / n_subtrain), 1)
    raise ValueError(f"unit must be 'steps' or 'epochs', got {unit!r}")


@register(
    "regularize.early_stopping_surrogate",
    paper="Goodfellow, Bengio & Courville 2016, Deep Learning §7.8, Algorithm 7.3",
    reference="the loop condition J(valid) > J(subtrain at the early-stopping point)",
)
def surrogate_continue(valid_loss: float, subtrain_loss_at_stop: float) -> bool:
    r"""Eq. (7.3)'s loop condition: :math:`J(\theta; \mathcal D_{valid}) > \varepsilon`.

    Args:
        valid_loss: the validation objective now (the validation set is now trained on).
        subtrain_loss_at_stop: :math:`\varepsilon`, the subtrain objective at :math:`\theta^*`.
    """
    return valid_loss > subtrain_loss_at_stop
