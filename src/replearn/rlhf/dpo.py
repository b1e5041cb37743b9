r"""DPO: direct preference optimization, the RLHF objective solved in closed form.

Paper: R. Rafailov, A. Sharma, E. Mitchell, S. Ermon, C. D. Manning & C. Finn, "Direct preference
optimization: your language model is secretly a reward model", NeurIPS 2023, arXiv:2305.18290.

The KL-regularized objective :math:`\max_\pi \mathbb E[r] - \beta\,\mathrm{KL}[\pi\|\pi_{ref}]`
has the optimum :math:`\pi^*(y|x) \propto \pi_{ref}(y|x) e^{r(x,y)/\beta}`, so a reward is
implied by any policy (Eq. 5 of the paper):

.. math::

    \hat r_\theta(x, y) = \beta \log \frac{\pi_\theta(y \mid x)}{\pi_{ref}(y \mid x)}    \qquad (1)

Substituted in the Bradley–Terry likelihood, the reward model disappears (Eq. 7):

.. math::

    \mathcal L_{DPO}(\theta) = -\,\mathbb E\Big[\log\sigma\big(
        \hat r_\theta(x, y_w) - \hat r_\theta(x, y_l)\big)\Big]                     \qquad (2)

:math:`\log\pi(y|x)` is the sum over the response tokens
(:func:`replearn.rlhf.sft.token_logprobs` times the response mask, summed).

Tests: Eq. (2) against hand-computed values; its gradient equals the paper's Eq. (8) weight
:math:`\beta\,\sigma(\hat r_l - \hat r_w)` times the log-likelihood gradients.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["dpo_implicit_reward", "dpo_loss"]


def dpo_implicit_reward(logp: Tensor, ref_logp: Tensor, *, beta: float) -> Tensor:
    r"""Eq. (1): :math:`\beta(\log\pi_\theta(y|x) - \log\pi_{ref}(y|x))` per sequence.

    Shape:
        (N,), (N,) -> (N,).
    """
    return beta * (logp - ref_logp)


def dpo_loss(
    logp_w: Tensor, logp_l: Tensor, ref_logp_w: Tensor, ref_logp_l: Tensor, *, beta: float = 0.1
) -> tuple[Tensor, Tensor]:
    r"""Eq. (2): the DPO loss and the preference accuracy of the implicit reward.

    Args:
        logp_w, logp_l: sequence log-probabilities of the preferred / rejected responses.
        ref_logp_w, ref_logp_l: the same under the frozen reference.
        beta: :math:`\beta > 0`.

    Shape:
        four (N,) -> (), () .
    """
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    margin = dpo_implicit_reward(logp_w, ref_logp_w, beta=beta) - dpo_implicit_reward(
        logp_l, ref_logp_l, beta=beta
    )  # (N,)
    return -F.logsigmoid(margin).mean(), (margin > 0).float().mean().detach()
