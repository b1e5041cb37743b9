r"""Evaluation of RLHF policies: win rate, KL to the reference, diversity, perplexity.

Papers: N. Stiennon et al. 2020, arXiv:2009.01325 (win rate against a baseline policy, KL to
the SFT model); J. Li, M. Galley, C. Brockett, J. Gao & B. Dolan, "A diversity-promoting
objective function for neural conversation models", NAACL 2016, arXiv:1510.03055 (distinct-n).

.. math::

    \mathrm{win}(A, B) = \frac1N \sum_n \big([u(a_n) > u(b_n)] + \tfrac12 [u(a_n) = u(b_n)]\big)
                                                                                   \qquad (1)

    \mathrm{distinct}\text{-}n = \frac{|\{\text{distinct } n\text{-grams}\}|}
                                      {|\{n\text{-grams}\}|}                         \qquad (2)

    \mathrm{PPL}_{ref} = \exp\Big(-\frac{\sum_{b,t} m_{bt} \log\pi_{ref}(a_{bt}|s_{bt})}
                                        {\sum_{b,t} m_{bt}}\Big)                   \qquad (3)

    \widehat{\mathrm{KL}}[\pi_\theta \| \pi_{ref}] = \frac1B \sum_b \sum_t m_{bt}
        \big(\log\pi_\theta(a_{bt}|s_{bt}) - \log\pi_{ref}(a_{bt}|s_{bt})\big)      \qquad (4)

Eq. (1) compares paired responses to the same prompts under a utility :math:`u` (the learned
reward or the ground-truth annotator); Eq. (4) is the :math:`k_1` estimate per sequence with
responses sampled from :math:`\pi_\theta`. distinct-n counts character n-grams for the
character-level tasks (``unit="char"``) or word n-grams.

Tests: Eqs. (1)-(4) and the expected calibration error on hand-made inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

__all__ = [
    "distinct_n", "expected_calibration_error", "reference_perplexity", "sequence_kl", "win_rate",
]  # fmt: skip


def win_rate(u_a: Tensor, u_b: Tensor) -> float:
    """Eq. (1): fraction of pairs where ``a`` beats ``b`` (ties count one half).

    Shape:
        (N,), (N,) -> float.
    """
    if u_a.shape != u_b.shape or u_a.numel() == 0:
        raise ValueError(f"need equal, non-empty shapes, got {tuple(u_a.shape)}, {u_b.shape}")
    return float(((u_a > u_b).double() + 0.5 * (u_a == u_b).double()).mean())


def distinct_n(texts: Sequence[str], n: int, *, unit: Literal["char", "word"] = "word") -> float:
    """Eq. (2) over all texts together (0 when there is no n-gram)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    grams: list[tuple[str, ...]] = []
    for t in texts:
        toks = list(t) if unit == "char" else t.split()
        grams += [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def reference_perplexity(ref_logp: Tensor, mask: Tensor) -> float:
    """Eq. (3): perplexity of the responses under the reference model.

    Shape:
        (B, R), (B, R) -> float.
    """
    m = mask.to(ref_logp.dtype)
    return float(torch.exp(-(ref_logp * m).sum() / m.sum().clamp_min(1)))


def sequence_kl(logp: Tensor, ref_logp: Tensor, mask: Tensor) -> float:
    """Eq. (4): mean over sequences of the summed per-token log-ratio (nats per response).

    Shape:
        (B, R) x 3 -> float.
    """
    return float(((logp - ref_logp) * mask.to(logp.dtype)).sum(1).mean())


def expected_calibration_error(prob: Tensor, outcome: Tensor, *, bins: int = 10) -> float:
    r"""Calibration of predicted probabilities: :math:`\sum_k \frac{n_k}{N}|\bar y_k - \bar p_k|`
    over ``bins`` equal-width bins of :math:`p` (Naeini et al. 2015).

    Shape:
        prob (N,) in [0, 1], outcome (N,) in {0, 1} -> float.
    """
    if prob.shape != outcome.shape or bins < 1:
        raise ValueError("prob and outcome must have one shape; bins >= 1")
    idx = (prob.clamp(0, 1) * bins).long().clamp_max(bins - 1)  # (N,)
    err = 0.0
    for k in range(bins):
        sel = idx == k
        if sel.any():
            err += float(sel.sum()) * abs(float(outcome[sel].double().mean() - prob[sel].mean()))
    return err / prob.numel()
