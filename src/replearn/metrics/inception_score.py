r"""Inception Score and Mode Score, from a classifier's class probabilities.

Papers: T. Salimans, I. Goodfellow, W. Zaremba, V. Cheung, A. Radford & X. Chen,
"Improved Techniques for Training GANs", NeurIPS 2016, arXiv:1606.03498 (Sec. 4:
Inception Score); T. Che, Y. Li, A. P. Jacob, Y. Bengio & W. Li, "Mode Regularized
Generative Adversarial Networks", ICLR 2017, arXiv:1612.02136 (Sec. 5.1: MODE score).

With :math:`p(y \mid x)` the classifier's softmax on a generated sample :math:`x`,
the marginal :math:`p(y) = \mathbb{E}_x\, p(y \mid x)` over the generated samples,
and :math:`p^*(y)` the class distribution of the training data:

.. math::

    \mathrm{IS} = \exp\Bigl(\mathbb{E}_x\,
        \mathrm{KL}\bigl(p(y \mid x) \,\|\, p(y)\bigr)\Bigr)                             \qquad (1)

    \mathrm{MS} = \exp\Bigl(\mathbb{E}_x\,
        \mathrm{KL}\bigl(p(y \mid x) \,\|\, p^*(y)\bigr)
        - \mathrm{KL}\bigl(p(y) \,\|\, p^*(y)\bigr)\Bigr)                                \qquad (2)

:math:`1 \le \mathrm{IS} \le K` for :math:`K` classes: it is :math:`K` when every
sample is classified confidently and the classes are used equally, 1 when every
sample gets the same prediction (collapse) or every prediction is uniform. The
Mode Score also penalizes a marginal that differs from the training classes.
Eq. (1) is :math:`\exp(H[p(y)] - \mathbb{E}_x H[p(y \mid x)])`; Eq. (2) equals
Eq. (1) when :math:`p(y) = p^*(y)` (with uniform :math:`p^*` it is
:math:`\exp(\log K - \mathbb{E}_x H[p(y \mid x)] - \mathrm{KL}(p(y) \| U))`).

As in the reference implementation (and torchmetrics), the samples are cut into
``splits`` equal parts; the score is the mean over parts and the standard
deviation is reported with it. Probabilities are clamped at ``eps`` inside the
logarithms. A "score" is only comparable within one classifier (replearn's
digits/Fashion-MNIST classifier is not InceptionV3). Everything runs in float64.

Tests: closed forms (one-hot balanced predictions give :math:`K`, a collapsed
generator 1, uniform predictions 1), the entropy identity, ``scipy.stats.entropy``
for the KL terms, and the Mode Score equal to the Inception Score when
:math:`p(y) = p^*(y)`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from replearn.metrics.fid import _as64
from replearn.registry import register

__all__ = ["inception_score", "kl_to_marginal", "mode_score"]

ArrayLike = Tensor | np.ndarray


def _check_probs(probs: Tensor) -> None:
    if probs.ndim != 2 or probs.shape[0] < 1:
        raise ValueError(f"probabilities must be (n, K), got {tuple(probs.shape)}")
    if (probs < 0).any() or not torch.allclose(
        probs.sum(1), torch.ones(len(probs), dtype=probs.dtype), atol=1e-4
    ):
        raise ValueError("each row of probabilities must be non-negative and sum to 1")


def kl_to_marginal(probs: Tensor, marginal: Tensor, eps: float = 1e-12) -> Tensor:
    r"""Per-sample :math:`\mathrm{KL}(p(y \mid x_i) \,\|\, q(y))`.

    Shape:
        probs: (n, K), marginal: (K,) -> (n,).
    """
    p = probs.clamp_min(eps)
    return (probs * (p.log() - marginal.clamp_min(eps).log())).sum(1)


def _splits(n: int, splits: int) -> list[slice]:
    if not 1 <= splits <= n:
        raise ValueError(f"splits must be in [1, {n}], got {splits}")
    size = n // splits
    return [slice(i * size, (i + 1) * size if i < splits - 1 else n) for i in range(splits)]


@register(
    "metrics.inception_score",
    paper="Salimans et al. 2016, arXiv:1606.03498",
    reference="closed forms (K for balanced one-hot, 1 for collapse); scipy.stats.entropy",
)
def inception_score(
    probs: ArrayLike, *, splits: int = 1, eps: float = 1e-12
) -> tuple[float, float]:
    r"""Inception Score, Eq. (1): mean and standard deviation over ``splits`` parts.

    Shape:
        probs: (n, K) rows summing to 1 -> (mean, std) floats.
    """
    p = _as64(probs)
    _check_probs(p)
    scores = []
    for part in _splits(len(p), splits):
        q = p[part]
        marginal = q.mean(0)  # (K,)
        scores.append(float(torch.exp(kl_to_marginal(q, marginal, eps).mean())))
    s = np.array(scores)
    return float(s.mean()), float(s.std())


@register(
    "metrics.mode_score",
    paper="Che et al. 2017, arXiv:1612.02136",
    reference="closed forms; equals the Inception Score when p(y) = p*(y)",
)
def mode_score(
    probs: ArrayLike,
    train_marginal: ArrayLike | None = None,
    *,
    splits: int = 1,
    eps: float = 1e-12,
) -> tuple[float, float]:
    r"""Mode Score, Eq. (2): mean and standard deviation over ``splits`` parts.

    Args:
        probs: :math:`p(y \mid x)` on generated samples.
        train_marginal: :math:`p^*(y)`, the training class frequencies (default uniform).

    Shape:
        probs: (n, K), train_marginal: (K,) -> (mean, std) floats.
    """
    p = _as64(probs)
    _check_probs(p)
    k = p.shape[1]
    ref = torch.full((k,), 1.0 / k, dtype=torch.float64)
    if train_marginal is not None:
        ref = _as64(train_marginal).reshape(-1)
        if ref.numel() != k or (ref < 0).any() or abs(float(ref.sum()) - 1.0) > 1e-4:
            raise ValueError(f"train_marginal must be a distribution over {k} classes")
    scores = []
    for part in _splits(len(p), splits):
        q = p[part]
        marginal = q.mean(0)  # (K,)
        kl_marg = kl_to_marginal(marginal[None], ref, eps)[0]
        scores.append(float(torch.exp(kl_to_marginal(q, ref, eps).mean() - kl_marg)))
    s = np.array(scores)
    return float(s.mean()), float(s.std())
