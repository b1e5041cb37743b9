r"""Vanilla policy gradients: REINFORCE with reward-to-go and a baseline, and advantage
actor-critic (A2C).

Papers: R. J. Williams, "Simple statistical gradient-following algorithms for
connectionist reinforcement learning", Machine Learning 8, 1992 (REINFORCE, baselines);
R. S. Sutton, D. McAllester, S. Singh & Y. Mansour, "Policy gradient methods for
reinforcement learning with function approximation", NeurIPS 1999 (the policy gradient
theorem); V. Mnih et al., "Asynchronous methods for deep reinforcement learning", ICML
2016, arXiv:1602.01783 (A2C/A3C).

.. math::

    \nabla_\theta J = \mathbb E\Big[\sum_t \nabla_\theta \log\pi_\theta(a_t|s_t)\,
        \Psi_t\Big]   \qquad (1)\ \text{policy gradient}

    \Psi_t = G_t = \sum_{k \ge t} \gamma^{k-t} r_k
        \qquad (2)\ \text{REINFORCE with reward-to-go}

    \Psi_t = G_t - b(s_t),\ b = V_\phi   \qquad (3)\ \text{with a baseline (unbiased)}

    \Psi_t = \hat A^{GAE(\gamma,\lambda)}_t,\ \text{e.g. } \lambda = 0:\
        r_t + \gamma V_\phi(s_{t+1}) - V_\phi(s_t)   \qquad (4)\ \text{actor-critic}

    L^{A2C} = -\hat{\mathbb E}[\log\pi_\theta(a_t|s_t)\, \hat A_t]
        + c_V\, \tfrac12 \hat{\mathbb E}[(V_\phi(s_t) - R_t)^2] - c_H\, H[\pi_\theta]
        \qquad (5)

REINFORCE needs complete episodes: :func:`complete_episode_mask` marks the steps of a
rollout whose episode ended inside it, and the losses average over those only (masked
means). Deviation from the 1992 paper: the baseline is a learned state-value network
(as in most modern texts) and the gradient is averaged over steps, not summed per episode.

Tests: (1)-(3) by hand on a two-armed bandit, whose policy gradient is known in closed
form; the mask by hand; the A2C loss equals its three terms.
"""

from __future__ import annotations

import torch
from torch import Tensor

from replearn.registry import register
from replearn.rl.losses import entropy_bonus, masked_mean, value_loss

__all__ = ["a2c_loss", "complete_episode_mask", "pg_surrogate", "reinforce_loss"]


def pg_surrogate(logp: Tensor, psi: Tensor, *, mask: Tensor | None = None) -> Tensor:
    r"""The surrogate :math:`-\hat{\mathbb E}[\log\pi(a_t|s_t)\,\Psi_t]` whose gradient is
    minus the estimate (1); ``psi`` is treated as a constant.

    Shape:
        logp, psi, mask: (*B); output: scalar.
    """
    return -masked_mean(logp * psi.detach(), mask)


def complete_episode_mask(dones: Tensor) -> Tensor:
    """1 for the steps of a time-major rollout whose episode ends inside the rollout.

    Shape:
        dones: (T, *B); output: (T, *B), floating (dones' dtype if floating).
    """
    # a step counts if some done occurs at it or later in the same column
    d = dones if dones.is_floating_point() else dones.float()
    return torch.flip(torch.cummax(torch.flip(d, [0]), 0).values, [0])


@register(
    "rl.reinforce",
    paper="Williams 1992, Machine Learning 8",
    reference="the closed-form policy gradient of a two-armed bandit",
)
def reinforce_loss(
    logp: Tensor,
    returns: Tensor,
    *,
    baseline: Tensor | None = None,
    mask: Tensor | None = None,
) -> Tensor:
    r"""REINFORCE surrogate with reward-to-go :math:`G_t` (Eq. 2), minus a baseline (Eq. 3).

    Shape:
        logp, returns, baseline, mask: (*B); output: scalar.
    """
    psi = returns if baseline is None else returns - baseline.detach()
    return pg_surrogate(logp, psi, mask=mask)


@register(
    "rl.a2c",
    paper="Mnih et al. 2016, arXiv:1602.01783",
    reference="the sum of its policy, value and entropy terms; GAE by the direct sum",
)
def a2c_loss(
    logp: Tensor,
    logits: Tensor,
    values: Tensor,
    advantages: Tensor,
    returns: Tensor,
    *,
    vf_coef: float = 0.5,
    ent_coef: float = 0.01,
    mask: Tensor | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The A2C loss (Eq. 5) and its terms (``policy_loss``, ``value_loss``, ``entropy``).

    Shape:
        logp, values, advantages, returns, mask: (*B); logits: (*B, A); output: scalar.
    """
    pg = pg_surrogate(logp, advantages, mask=mask)
    vl = value_loss(values, returns, mask=mask)
    ent = entropy_bonus(logits, mask=mask)
    loss = pg + vf_coef * vl - ent_coef * ent
    return loss, {"policy_loss": pg.detach(), "value_loss": vl.detach(), "entropy": ent.detach()}
