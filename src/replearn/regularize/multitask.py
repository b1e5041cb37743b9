r"""Multi-task learning: a shared trunk, one head per task, and a weighted sum of the losses.

Papers: R. Caruana, "Multitask Learning", *Machine Learning* 28, 1997 (hard
parameter sharing); Goodfellow, Bengio & Courville, *Deep Learning*, 2016, §7.7;
A. Kendall, Y. Gal & R. Cipolla, "Multi-Task Learning Using Uncertainty to Weigh
Losses for Scene Geometry and Semantics", CVPR 2018, arXiv:1705.07115.

Hard parameter sharing: tasks :math:`t = 1..T` share the trunk :math:`h = g_\phi(x)`
and each has its own head :math:`\hat y_t = f_{\psi_t}(h)`. Training minimises a
weighted sum of the task losses (Caruana 1997; Goodfellow Fig. 7.2):

.. math::

    \mathcal L(\phi, \psi_{1..T}) = \sum_{t=1}^T w_t\, \mathcal L_t(f_{\psi_t}(g_\phi(x)), y_t)
                                                                            \qquad (1)

The trunk receives the gradient :math:`\sum_t w_t \nabla_\phi \mathcal L_t`: every
task's data constrains the shared parameters (the statistical-strength argument of
§7.7), while each head only sees its own task.

Learned weights (Kendall et al., Eq. 7 in the common form with
:math:`s_t = \log \sigma_t^2` learned alongside the network):

.. math::

    \mathcal L = \sum_t \bigl( e^{-s_t} \mathcal L_t + s_t \bigr)             \qquad (2)

(the paper's factors 1/2 for regression losses are dropped, as in most code; the
minimiser over :math:`s_t` is :math:`s_t = \log \mathcal L_t`).

Tests: Eq. (1) against a hand-written sum; the trunk's gradient equals the
weighted sum of the per-task gradients; a head's gradient does not depend on the
other tasks; Eq. (2)'s minimiser.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from replearn.registry import register

__all__ = ["MultiTaskNet", "UncertaintyWeights", "uncertainty_weighted_loss", "weighted_loss"]


@register(
    "regularize.multitask",
    paper="Caruana 1997, Machine Learning 28 (multitask learning); Kendall, Gal & Cipolla "
    "2018, arXiv:1705.07115",
    reference="hand-written weighted sum; trunk gradient = sum of weighted per-task gradients",
)
def weighted_loss(losses: Mapping[str, Tensor], weights: Mapping[str, float]) -> Tensor:
    r"""Eq. (1): :math:`\sum_t w_t \mathcal L_t` over the tasks named in ``losses``.

    Args:
        losses: task name -> scalar loss.
        weights: task name -> :math:`w_t \ge 0`; every task of ``losses`` must have one.

    Shape:
        losses: scalars () -> scalar ().
    """
    missing = sorted(set(losses) - set(weights))
    if missing:
        raise ValueError(f"no weight for task(s) {', '.join(missing)}")
    if any(weights[t] < 0 for t in losses):
        raise ValueError(f"task weights must be >= 0, got {dict(weights)}")
    return torch.stack([weights[t] * losses[t] for t in losses]).sum()


def uncertainty_weighted_loss(
    losses: Mapping[str, Tensor], log_vars: Mapping[str, Tensor]
) -> Tensor:
    r"""Eq. (2): :math:`\sum_t e^{-s_t} \mathcal L_t + s_t`, learned :math:`s_t = \log\sigma_t^2`.

    Shape:
        losses: scalars (), log_vars: scalars () -> scalar ().
    """
    return torch.stack([torch.exp(-log_vars[t]) * losses[t] + log_vars[t] for t in losses]).sum()


class UncertaintyWeights(nn.Module):
    """One learned log-variance :math:`s_t` per task for Eq. (2), initialised to 0 (w_t = 1).

    Args:
        tasks: task names.
    """

    def __init__(self, tasks: list[str] | tuple[str, ...]) -> None:
        super().__init__()
        self.log_vars = nn.ParameterDict({t: nn.Parameter(torch.zeros(())) for t in tasks})

    def forward(self, losses: Mapping[str, Tensor]) -> Tensor:
        return uncertainty_weighted_loss(losses, dict(self.log_vars))

    def weights(self) -> dict[str, float]:
        """The current effective weights :math:`e^{-s_t}`."""
        return {t: float(torch.exp(-s.detach())) for t, s in self.log_vars.items()}


class MultiTaskNet(nn.Module):
    """Hard parameter sharing: ``heads[t](trunk(x))`` for every task ``t``.

    Not registered in the registry: its output is a dict (one tensor per task),
    which the registry-wide shape tests do not handle.

    Args:
        trunk: the shared :math:`g_\\phi`.
        heads: task name -> head :math:`f_{\\psi_t}` (applied to the trunk's output).

    Shape:
        (B, *) -> {task: (B, *out_t)}.
    """

    def __init__(self, trunk: nn.Module, heads: Mapping[str, nn.Module]) -> None:
        super().__init__()
        if not heads:
            raise ValueError("a multi-task network needs at least one head")
        self.trunk = trunk
        self.heads = nn.ModuleDict(dict(heads))

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        h = self.trunk(x)  # (B, D) shared representation
        return {task: head(h) for task, head in self.heads.items()}

    def extra_repr(self) -> str:
        return f"tasks={list(self.heads)}"
