r"""Returns, advantages and the losses of policy-gradient methods (REINFORCE, A2C, PPO).

Papers: R. J. Williams, "Simple statistical gradient-following algorithms for
connectionist reinforcement learning", Machine Learning 8, 1992 (REINFORCE);
J. Schulman, P. Moritz, S. Levine, M. Jordan & P. Abbeel, "High-dimensional continuous
control using generalized advantage estimation", ICLR 2016, arXiv:1506.02438 (GAE);
V. Mnih et al., "Asynchronous methods for deep reinforcement learning", ICML 2016,
arXiv:1602.01783 (A2C/A3C, entropy bonus); J. Schulman, F. Wolski, P. Dhariwal,
A. Radford & O. Klimov, "Proximal policy optimization algorithms", 2017,
arXiv:1707.06347 (PPO); J. Schulman, "Approximating KL divergence", 2020 blog note
(the k1/k3 estimators).

Time runs along the first dimension (``T``); any further dimensions (parallel
environments ``N``) are carried along. ``dones[t] = 1`` marks a transition that *ended*
its episode (the reward ``r_t`` is the last one of that episode), so nothing is
bootstrapped across it. With discount :math:`\gamma`, GAE parameter :math:`\lambda`,
:math:`m_t = 1 - d_t`, value estimates :math:`V_t = V(s_t)` and
:math:`V_T` = ``last_value`` (the value of the state after the last step):

.. math::

    G_t = r_t + \gamma\, m_t\, G_{t+1}, \qquad G_T = V_T
        \qquad (1)\ \text{reward-to-go (bootstrapped)}

    \delta_t = r_t + \gamma\, m_t\, V_{t+1} - V_t
        \qquad (2)\ \text{TD error (GAE paper, Eq. 9)}

    \hat A_t = \delta_t + \gamma\lambda\, m_t\, \hat A_{t+1}
        = \sum_{l \ge 0} (\gamma\lambda)^l \delta_{t+l}\ \text{(within the episode)}
        \qquad (3)\ \text{GAE (Eq. 16)}

    \rho_t = \exp(\log\pi_\theta(a_t|s_t) - \log\pi_{\theta_{old}}(a_t|s_t))
        \qquad (4)\ \text{probability ratio}

    L^{CLIP} = \hat{\mathbb E}_t\big[\min(\rho_t \hat A_t,\
        \operatorname{clip}(\rho_t, 1-\epsilon, 1+\epsilon)\, \hat A_t)\big]
        \qquad (5)\ \text{PPO paper, Eq. 7 (maximized)}

    L^{V} = \tfrac12\, \hat{\mathbb E}_t\big[\max\big((V_\theta - R_t)^2,\
        (V_{old} + \operatorname{clip}(V_\theta - V_{old}, -\epsilon_V, \epsilon_V) - R_t)^2
        \big)\big]   \qquad (6)\ \text{value loss (clipped form of OpenAI baselines)}

    H = -\sum_a \pi(a|s) \log \pi(a|s)   \qquad (7)\ \text{entropy bonus}

    k_1 = -\log \rho_t, \qquad k_3 = (\rho_t - 1) - \log \rho_t
        \qquad (8)\ \text{estimators of } \mathrm{KL}(\pi_{old}\,\|\,\pi_\theta)

Deviations and conventions: time-limit truncation is not a termination; a caller that
truncates an episode should add :math:`\gamma V(s_{final})` to that step's reward and
mark it done (as stable-baselines3 does). :math:`R_t = \hat A_t + V_t` is the value
target of GAE (the :math:`\lambda`-return). The value loss carries the factor 1/2 of
CleanRL (stable-baselines3 has none). :func:`clipped_surrogate` returns the objective
(5), to be *maximized*; :func:`policy_loss` is its negative. Every reduction takes an
optional ``mask`` (a masked mean, for padded token sequences in RLHF). Clipping the
ratio does not bound the KL divergence between successive policies (see
``docs/corrections.md``, "Reinforcement learning").

Tests (``tests/rl/test_losses.py``, float64): (1) and (3) against the direct
discounted sums over each episode; (5) against hand-computed values on both sides of
and exactly at the clip boundaries, and its gradient (zero where clipped); (6) by hand;
(7) against ``torch.distributions.Categorical``; (8) against the exact KL of two
categorical distributions by Monte Carlo, and :math:`k_3 \ge 0`.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from replearn.registry import register

__all__ = [
    "approx_kl",
    "clip_fraction",
    "clipped_surrogate",
    "discounted_returns",
    "entropy_bonus",
    "gae_advantages",
    "masked_mean",
    "policy_loss",
    "value_loss",
]


def masked_mean(x: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean of ``x`` over all elements, or over those where ``mask`` is nonzero.

    Shape:
        x, mask: any shape (equal); output: scalar.
    """
    if mask is None:
        return x.mean()
    mask = mask.to(x.dtype)
    return (x * mask).sum() / mask.sum().clamp_min(1.0)


def _check_time_major(rewards: Tensor, dones: Tensor, last_value: Tensor) -> None:
    if rewards.shape != dones.shape:
        raise ValueError(f"rewards {tuple(rewards.shape)} and dones {tuple(dones.shape)} differ")
    if rewards.dim() < 1:
        raise ValueError("rewards need a time dimension first, shape (T, ...)")
    if tuple(last_value.shape) != tuple(rewards.shape[1:]):
        raise ValueError(
            f"last_value must have shape {tuple(rewards.shape[1:])} (rewards without time), "
            f"got {tuple(last_value.shape)}"
        )


def discounted_returns(rewards: Tensor, dones: Tensor, gamma: float, last_value: Tensor) -> Tensor:
    r"""Bootstrapped reward-to-go :math:`G_t = r_t + \gamma (1 - d_t) G_{t+1}` (Eq. 1).

    :math:`G_T = V_T` = ``last_value``.

    Pass ``last_value = 0`` for complete episodes (Monte Carlo returns of REINFORCE).

    Shape:
        rewards, dones: (T, *B); last_value: (*B); output: (T, *B).
    """
    last_value = torch.as_tensor(last_value, dtype=rewards.dtype, device=rewards.device)
    if last_value.dim() == 0 and rewards.dim() > 1:
        last_value = last_value.expand(rewards.shape[1:])
    _check_time_major(rewards, dones, last_value)
    notdone = 1.0 - dones.to(rewards.dtype)
    returns = torch.empty_like(rewards)
    running = last_value
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] + gamma * notdone[t] * running  # Eq. (1)
        returns[t] = running
    return returns


@register(
    "rl.gae",
    paper="Schulman, Moritz, Levine, Jordan & Abbeel 2016, arXiv:1506.02438",
    reference="the direct discounted sum of TD errors within each episode (float64)",
)
def gae_advantages(
    rewards: Tensor,
    values: Tensor,
    dones: Tensor,
    last_value: Tensor,
    gamma: float,
    lam: float,
) -> Tensor:
    r"""Generalized advantage estimates (Eqs. 2-3).

    :math:`\hat A_t = \delta_t + \gamma\lambda(1-d_t)\hat A_{t+1}`.

    ``lam = 1`` gives :math:`G_t - V_t` (Eq. 1 minus the baseline); ``lam = 0`` the one-step
    TD error. The value targets are ``advantages + values``.

    Shape:
        rewards, values, dones: (T, *B); last_value: (*B); output: (T, *B).
    """
    last_value = torch.as_tensor(last_value, dtype=rewards.dtype, device=rewards.device)
    if last_value.dim() == 0 and rewards.dim() > 1:
        last_value = last_value.expand(rewards.shape[1:])
    _check_time_major(rewards, dones, last_value)
    if values.shape != rewards.shape:
        raise ValueError(f"values {tuple(values.shape)} and rewards {tuple(rewards.shape)} differ")
    notdone = 1.0 - dones.to(rewards.dtype)
    advantages = torch.empty_like(rewards)
    next_value = last_value
    running = torch.zeros_like(last_value)
    for t in range(rewards.shape[0] - 1, -1, -1):
        delta = rewards[t] + gamma * notdone[t] * next_value - values[t]  # Eq. (2)
        running = delta + gamma * lam * notdone[t] * running  # Eq. (3)
        advantages[t] = running
        next_value = values[t]
    return advantages


def _ratio(logp_new: Tensor, logp_old: Tensor) -> Tensor:
    if logp_new.shape != logp_old.shape:
        raise ValueError(
            f"logp_new {tuple(logp_new.shape)} and logp_old {tuple(logp_old.shape)} differ"
        )
    return torch.exp(logp_new - logp_old)  # Eq. (4)


@register(
    "rl.clipped_surrogate",
    paper="Schulman, Wolski, Dhariwal, Radford & Klimov 2017, arXiv:1707.06347 (Eq. 7)",
    reference="hand-computed values inside, outside and at the clip boundaries (float64)",
)
def clipped_surrogate(
    logp_new: Tensor,
    logp_old: Tensor,
    advantages: Tensor,
    clip: float,
    *,
    mask: Tensor | None = None,
    reduction: Literal["mean", "none"] = "mean",
) -> Tensor:
    r"""PPO's clipped surrogate objective :math:`L^{CLIP}` (Eq. 5), to be maximized.

    :math:`\min(\rho A, \operatorname{clip}(\rho, 1-\epsilon, 1+\epsilon) A)`: the gradient
    is zero where the ratio has moved past the boundary in the direction the advantage
    favours (:math:`\rho > 1+\epsilon` with :math:`A > 0`, :math:`\rho < 1-\epsilon` with
    :math:`A < 0`), and equal to the unclipped one everywhere else.

    Args:
        logp_new: :math:`\log\pi_\theta(a_t|s_t)` (carries the gradient).
        logp_old: :math:`\log\pi_{\theta_{old}}(a_t|s_t)` (treated as a constant).
        advantages: :math:`\hat A_t` (treated as a constant).
        clip: :math:`\epsilon > 0`.
        mask: optional weights of a masked mean (1 = counted).
        reduction: ``"mean"`` (a scalar) or ``"none"`` (per element).

    Shape:
        logp_new, logp_old, advantages, mask: (*B); output: scalar or (*B).
    """
    if clip <= 0:
        raise ValueError(f"clip must be > 0, got {clip}")
    ratio = _ratio(logp_new, logp_old.detach())
    advantages = advantages.detach()
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip, 1.0 + clip) * advantages
    objective = torch.minimum(unclipped, clipped)  # Eq. (5)
    return objective if reduction == "none" else masked_mean(objective, mask)


def policy_loss(
    logp_new: Tensor,
    logp_old: Tensor,
    advantages: Tensor,
    clip: float | None,
    *,
    mask: Tensor | None = None,
) -> Tensor:
    r"""The loss minimized for the policy: :math:`-L^{CLIP}`, or with ``clip=None`` the
    unclipped importance-weighted surrogate :math:`-\hat{\mathbb E}[\rho_t \hat A_t]`
    (the vanilla policy gradient at :math:`\rho = 1`).

    Shape:
        logp_new, logp_old, advantages, mask: (*B); output: scalar.
    """
    if clip is None:
        return -masked_mean(_ratio(logp_new, logp_old.detach()) * advantages.detach(), mask)
    return -clipped_surrogate(logp_new, logp_old, advantages, clip, mask=mask)


def clip_fraction(
    logp_new: Tensor, logp_old: Tensor, clip: float, *, mask: Tensor | None = None
) -> Tensor:
    r"""Fraction of samples whose ratio lies outside :math:`[1-\epsilon, 1+\epsilon]`.

    Shape:
        logp_new, logp_old, mask: (*B); output: scalar.
    """
    with torch.no_grad():
        ratio = _ratio(logp_new, logp_old)
        return masked_mean(((ratio - 1.0).abs() > clip).to(logp_new.dtype), mask)


def value_loss(
    values: Tensor,
    returns: Tensor,
    *,
    old_values: Tensor | None = None,
    clip: float | None = None,
    mask: Tensor | None = None,
) -> Tensor:
    r"""Squared error of the critic, :math:`\tfrac12 \hat{\mathbb E}[(V_\theta - R)^2]`,
    or with ``clip`` and ``old_values`` the pessimistic clipped form (Eq. 6).

    Shape:
        values, returns, old_values, mask: (*B); output: scalar.
    """
    if values.shape != returns.shape:
        raise ValueError(f"values {tuple(values.shape)} and returns {tuple(returns.shape)} differ")
    returns = returns.detach()
    err = (values - returns) ** 2
    if clip is not None:
        if old_values is None:
            raise ValueError("a clipped value loss needs old_values")
        if clip <= 0:
            raise ValueError(f"clip must be > 0, got {clip}")
        old_values = old_values.detach()
        v_clipped = old_values + torch.clamp(values - old_values, -clip, clip)
        err = torch.maximum(err, (v_clipped - returns) ** 2)  # Eq. (6)
    return 0.5 * masked_mean(err, mask)


def entropy_bonus(logits: Tensor, *, mask: Tensor | None = None) -> Tensor:
    r"""Mean entropy :math:`H = -\sum_a \pi(a|s)\log\pi(a|s)` of categorical policies (Eq. 7).

    Added to the objective with a coefficient (subtracted from the loss) to keep the
    policy exploring.

    Shape:
        logits: (*B, A) unnormalized log-probabilities; mask: (*B); output: scalar.
    """
    logp = torch.log_softmax(logits, dim=-1)
    # p log p with p = 0 contributes 0 (logits of -inf give nan without this guard)
    plogp = torch.where(logp.isneginf(), torch.zeros_like(logp), logp.exp() * logp)
    return masked_mean(-plogp.sum(-1), mask)


def approx_kl(
    logp_new: Tensor,
    logp_old: Tensor,
    *,
    estimator: Literal["k1", "k3"] = "k3",
    mask: Tensor | None = None,
) -> Tensor:
    r"""Sample estimate of :math:`\mathrm{KL}(\pi_{old}\,\|\,\pi_\theta)` from actions drawn by
    :math:`\pi_{old}` (Eq. 8).

    ``"k1"`` is :math:`-\log\rho` (unbiased, can be negative, high variance); ``"k3"`` is
    :math:`(\rho - 1) - \log\rho` (unbiased, never negative, lower variance; CleanRL's
    ``approx_kl``).

    Shape:
        logp_new, logp_old, mask: (*B); output: scalar.
    """
    log_ratio = logp_new - logp_old
    if estimator == "k1":
        k = -log_ratio
    elif estimator == "k3":
        k = torch.expm1(log_ratio) - log_ratio
    else:
        raise ValueError(f"estimator must be 'k1' or 'k3', got {estimator!r}")
    return masked_mean(k, mask)
