r"""The KL penalty of RLHF: sample estimators, per-token reward shaping, the adaptive controller.

Papers: J. Schulman, "Approximating KL divergence" (2020, blog note, no arXiv id) for the
estimators :math:`k_1, k_2, k_3`; D. M. Ziegler, N. Stiennon, J. Wu et al., "Fine-tuning language
models from human preferences", 2019, arXiv:1909.08593, Sec. 2.2 (KL-shaped reward, adaptive
:math:`\beta`); N. Stiennon et al. 2020, arXiv:2009.01325, Eq. (1).

The policy :math:`q = \pi_\theta` is kept near the reference :math:`p = \pi_{ref}` (the SFT
model). With a token :math:`x \sim q` and :math:`\rho = p(x) / q(x)`:

.. math::

    \mathrm{KL}[q \,\|\, p] = \sum_x q(x) \log \frac{q(x)}{p(x)}                 \qquad (1)

    k_1 = -\log \rho, \qquad k_2 = \tfrac12 (\log \rho)^2, \qquad
    k_3 = (\rho - 1) - \log \rho                                                 \qquad (2)

:math:`\mathbb E_q[k_1] = \mathbb E_q[k_3] = \mathrm{KL}[q\|p]` (unbiased, since
:math:`\mathbb E_q[\rho] = 1`); :math:`k_3 \ge 0` always and has a lower variance than
:math:`k_1` when :math:`p \approx q`; :math:`k_2` is biased (its mean is an f-divergence that
matches KL to second order). GRPO uses :math:`k_3` (DeepSeekMath Eq. 4).

RLHF maximizes :math:`J(\theta) = \mathbb E[R] - \beta\,\mathrm{KL}[\pi_\theta \| \pi_{ref}]`.
Per token of a response :math:`a_1..a_m` with sequence reward :math:`R` (Ziegler et al.):

.. math::

    \tilde R_t = -\beta \log \frac{\pi_\theta(a_t \mid s_t)}{\pi_{ref}(a_t \mid s_t)}
                 + [t = m]\, R                                                     \qquad (3)

The adaptive controller (Ziegler et al. Sec. 2.2) steers the measured KL to a target:

.. math::

    e_t = \mathrm{clip}\Big(\frac{\mathrm{KL}_t - \mathrm{KL}_{target}}{\mathrm{KL}_{target}},
           -0.2, 0.2\Big), \qquad
    \beta_{t+1} = \beta_t \,(1 + K_\beta\, e_t)                                    \qquad (4)

with :math:`K_\beta = n / H` (``n`` samples seen in the step, horizon ``H``), as TRL's
``AdaptiveKLController``.

Tests: :math:`\mathbb E_q[k_1]` and :math:`\mathbb E_q[k_3]` summed exactly over small
vocabularies equal Eq. (1) (float64, 1e-12) and Monte-Carlo means agree with it; :math:`k_2`'s
exact mean is within the second-order error; Eq. (3) and Eq. (4) against hand-computed values.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "AdaptiveKLController", "FixedKLController", "exact_kl", "kl_k1", "kl_k2", "kl_k3",
    "kl_shaped_rewards",
]  # fmt: skip


def exact_kl(logits_q: Tensor, logits_p: Tensor) -> Tensor:
    r"""Eq. (1) from logits, summed over the last (vocabulary) axis.

    Shape:
        (*, V), (*, V) -> (*).
    """
    logq, logp = torch.log_softmax(logits_q, -1), torch.log_softmax(logits_p, -1)
    return (logq.exp() * (logq - logp)).sum(-1)


def kl_k1(logp_q: Tensor, logp_p: Tensor) -> Tensor:
    r"""Eq. (2): :math:`k_1 = \log q(x) - \log p(x)` at sampled tokens :math:`x \sim q`.

    Shape:
        (*), (*) -> (*).
    """
    return logp_q - logp_p


def kl_k2(logp_q: Tensor, logp_p: Tensor) -> Tensor:
    r"""Eq. (2): :math:`k_2 = \frac12 (\log p(x) - \log q(x))^2`.

    Shape:
        (*), (*) -> (*).
    """
    return 0.5 * (logp_p - logp_q).square()


def kl_k3(logp_q: Tensor, logp_p: Tensor) -> Tensor:
    r"""Eq. (2): :math:`k_3 = \rho - 1 - \log\rho`, :math:`\rho = p(x)/q(x)`; always >= 0.

    Shape:
        (*), (*) -> (*).
    """
    log_rho = logp_p - logp_q
    return torch.expm1(log_rho) - log_rho


def kl_shaped_rewards(
    score: Tensor, logp: Tensor, ref_logp: Tensor, mask: Tensor, *, beta: float
) -> Tensor:
    r"""Eq. (3): per-token rewards, the KL penalty on every token and the score on the last.

    Args:
        score: sequence reward :math:`R` of each response.
        logp: :math:`\log\pi_\theta(a_t|s_t)` of the sampled tokens (the rollout's, detached).
        ref_logp: :math:`\log\pi_{ref}(a_t|s_t)`.
        mask: 1 on response tokens (:func:`~replearn.rlhf.sft.response_mask`).
        beta: KL coefficient :math:`\beta \ge 0`.

    Shape:
        score (B,), logp, ref_logp, mask (B, T) -> (B, T) (0 outside the mask).
    """
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    rewards = -beta * (logp - ref_logp) * mask  # (B, T)
    last = (mask * torch.arange(1, mask.shape[1] + 1, device=mask.device)).argmax(dim=1)  # (B,)
    has = mask.sum(dim=1) > 0
    rows = torch.arange(mask.shape[0], device=mask.device)
    return rewards.index_put((rows[has], last[has]), score[has].to(rewards.dtype), accumulate=True)


class FixedKLController:
    """A constant :math:`\\beta` (the interface of :class:`AdaptiveKLController`)."""

    def __init__(self, beta: float) -> None:
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        self.beta = float(beta)

    def update(self, kl: float, n_steps: int) -> float:
        return self.beta

    def state_dict(self) -> dict[str, float]:
        return {"beta": self.beta}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.beta = float(state["beta"])


class AdaptiveKLController(FixedKLController):
    """Eq. (4): proportional control of :math:`\\beta` towards a target KL.

    Args:
        beta: initial coefficient.
        target: target KL per sequence (nats).
        horizon: samples over which an error is corrected (:math:`K_\\beta = n / H`).
    """

    def __init__(self, beta: float, *, target: float, horizon: int) -> None:
        super().__init__(beta)
        if target <= 0 or horizon <= 0:
            raise ValueError(f"need target > 0 and horizon > 0, got {target}, {horizon}")
        self.target, self.horizon = float(target), int(horizon)

    def update(self, kl: float, n_steps: int) -> float:
        """Measured KL of the last step and its number of samples -> the new :math:`\\beta`."""
        error = min(max(kl / self.target - 1.0, -0.2), 0.2)  # Eq. (4)
        self.beta *= 1.0 + error * n_steps / self.horizon
        return self.beta

    def __repr__(self) -> str:
        return (
            f"AdaptiveKLController(beta={self.beta}, target={self.target}, horizon={self.horizon})"
        )
