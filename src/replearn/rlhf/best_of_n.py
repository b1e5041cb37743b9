r"""Best-of-n (rejection) sampling: keep the highest-reward of n samples.

Papers: N. Stiennon et al., "Learning to summarize from human feedback", 2020, arXiv:2009.01325
(best-of-n against the reward model); J. Hilton & L. Gao, "Measuring Goodhart's law" (2022,
OpenAI blog) and A. Beirami et al., "Theoretical guarantees on the best-of-n alignment policy",
2024, arXiv:2401.01879 (the KL formula); Llama 2 (Touvron et al. 2023, arXiv:2307.09288,
Sec. 3.2.3) and DeepSeek-R1 (2025, arXiv:2501.12948, Sec. 2.3.3) use rejection sampling to build
new SFT data.

Draw :math:`y_1..y_n \sim \pi(\cdot|x)` and keep :math:`y^* = \arg\max_j R(x, y_j)`. With
continuous, distinct rewards the best-of-n policy's divergence from :math:`\pi` is

.. math::

    \mathrm{KL}[\pi_{BoN} \| \pi] = \log n - \frac{n-1}{n}                          \qquad (1)

(an upper bound for discrete rewards, Beirami et al.), and for Gaussian rewards
:math:`R \sim \mathcal N(\mu, \sigma^2)` the expected best reward grows as
:math:`\mu + \sigma\sqrt{2\log n}` for large n, so the gain per doubling of n shrinks.

Tests: :func:`best_of_n` picks the argmax per prompt; Eq. (1) against the exact KL of the
best-of-n distribution over 20 000 equally likely distinct outcomes (where
:math:`\pi_{BoN}(i) = F_i^n - F_{i-1}^n`); the mean of the best of n standard normals against
the exact expectation computed by quadrature.
"""

from __future__ import annotations

import math

from torch import Tensor

__all__ = ["best_of_n", "best_of_n_kl"]


def best_of_n(rewards: Tensor) -> tuple[Tensor, Tensor]:
    """Index and reward of the best of each row's ``n`` candidates.

    Shape:
        rewards (N, n) -> indices (N,) int64, best rewards (N,).
    """
    if rewards.ndim != 2 or rewards.shape[1] < 1:
        raise ValueError(f"expected rewards of shape (N, n >= 1), got {tuple(rewards.shape)}")
    best, idx = rewards.max(dim=1)
    return idx, best


def best_of_n_kl(n: int) -> float:
    r"""Eq. (1): :math:`\log n - (n - 1)/n` nats."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return math.log(n) - (n - 1) / n
