r"""Span corruption: T5's unsupervised denoising objective.

Paper: C. Raffel, N. Shazeer, A. Roberts, K. Lee, S. Narang, M. Matena, Y. Zhou, W. Li &
P. J. Liu, "Exploring the Limits of Transfer Learning with a Unified Text-to-Text
Transformer", 2020, arXiv:1910.10683, Sec. 3.3 and Fig. 2.

Of a sequence of :math:`L` tokens, a fraction :math:`r = 0.15` (``noise_density``) is
dropped in :math:`k` contiguous spans of mean length :math:`\mu = 3`
(``mean_noise_span_length``):

.. math::

    n_{noise} = \mathrm{round}(r L),\qquad k = \mathrm{round}(n_{noise} / \mu)      \qquad (1)

The span lengths are a uniformly random composition of :math:`n_{noise}` into :math:`k`
positive parts, the kept tokens a random composition into the :math:`k + 1` gaps around them
(the :math:`k - 1` inner gaps non-empty, the two outer ones possibly empty). Each dropped span
is replaced in the **input** by one sentinel token :math:`S_i` (the same id for the same
span index in every example); the **target** is each sentinel followed by the span it stands
for, closed by one more sentinel:

.. math::

    \text{input} = a_0\, S_0\, a_1\, S_1 \cdots S_{k-1}\, a_k,\qquad
    \text{target} = S_0\, s_0\, S_1\, s_1 \cdots S_{k-1}\, s_{k-1}\, S_k       \qquad (2)

("Thank you <X> me to your party <Y> week." -> "<X> for inviting <Y> last <Z>"). Inputs
shrink by :math:`n_{noise} - k` tokens and targets hold :math:`n_{noise} + k + 1`, which is
why the objective is cheap (Sec. 3.3.4). T5 takes the sentinels from the end of the
vocabulary (``<extra_id_0>`` is the last id; :func:`sentinel_ids`).

Deviation: the original sampler (``random_spans_noise_mask`` in the T5 code) alternates
kept and dropped segments starting with a kept one and ending with a dropped one; here the
outer kept segments may be empty or not, so a sequence may start with a span and end with
kept text. Everything is a pure function of the tokens and a seeded ``torch.Generator``.

Tests: :func:`reconstruct` gives the original back from input and target (hypothesis over
lengths, densities and span lengths); the fraction of dropped tokens and the mean span length
match Eq. (1) on average over many draws, within tolerances derived from the number of draws;
the same generator seed gives the same corruption.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from replearn.registry import register

__all__ = [
    "corrupt_spans", "noise_span_counts", "random_composition", "random_spans_noise_mask",
    "reconstruct", "sentinel_ids", "span_corruption", "span_lengths",
]  # fmt: skip


def noise_span_counts(
    length: int, noise_density: float = 0.15, mean_noise_span_length: float = 3.0
) -> tuple[int, int]:
    """Eq. (1): dropped tokens and spans of a sequence of ``length`` tokens.

    At least one token is dropped and one kept; spans are limited so that every inner kept
    gap can hold one token.
    """
    if length < 2:
        raise ValueError(f"need at least 2 tokens to corrupt, got {length}")
    if not 0.0 < noise_density < 1.0 or mean_noise_span_length < 1.0:
        raise ValueError("need 0 < noise_density < 1 and mean_noise_span_length >= 1, got "
                         f"{noise_density}, {mean_noise_span_length}")  # fmt: skip
    n_noise = min(max(round(length * noise_density), 1), length - 1)
    k = max(round(n_noise / mean_noise_span_length), 1)
    return n_noise, min(k, length - n_noise + 1)


def random_composition(total: int, parts: int, generator: torch.Generator | None = None) -> Tensor:
    """A uniformly random way of writing ``total`` as an ordered sum of ``parts`` positive ints.

    The ``parts - 1`` cuts are distinct points of ``1 .. total - 1`` drawn without
    replacement (stars and bars).

    Shape:
        -> (parts,) int64, summing to ``total``.
    """
    if not 1 <= parts <= total:
        raise ValueError(f"need 1 <= parts <= total, got parts={parts}, total={total}")
    cuts = (torch.randperm(total - 1, generator=generator)[: parts - 1] + 1).sort().values
    edges = torch.cat([torch.zeros(1, dtype=torch.long), cuts, torch.tensor([total])])
    return edges.diff()


def random_spans_noise_mask(
    length: int,
    *,
    noise_density: float = 0.15,
    mean_noise_span_length: float = 3.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Which tokens are dropped: ``k`` spans of random lengths in random kept gaps (Eq. 1).

    Shape:
        -> (length,) bool, True = dropped.
    """
    n_noise, k = noise_span_counts(length, noise_density, mean_noise_span_length)
    spans = random_composition(n_noise, k, generator)  # (k,) >= 1
    gaps = random_composition(length - n_noise + 2, k + 1, generator)  # (k + 1,) >= 1
    gaps[0] -= 1  # the outer gaps may be empty
    gaps[-1] -= 1
    mask = torch.zeros(length, dtype=torch.bool)
    start = 0
    for gap, span in zip(gaps[:-1].tolist(), spans.tolist(), strict=True):
        start += gap
        mask[start : start + span] = True
        start += span
    return mask


def span_lengths(mask: Tensor) -> list[int]:
    """Lengths of the runs of True in a 1-D boolean mask, in order."""
    padded = torch.cat([torch.zeros(1, dtype=torch.long), mask.long(), torch.zeros(1).long()])
    change = padded.diff()
    starts, ends = (change == 1).nonzero()[:, 0], (change == -1).nonzero()[:, 0]
    return (ends - starts).tolist()


def sentinel_ids(vocab_size: int, n: int) -> list[int]:
    """T5's sentinels: ``<extra_id_i>`` is id ``vocab_size - 1 - i``."""
    if not 0 < n < vocab_size:
        raise ValueError(f"need 0 < n < vocab_size, got n={n}, vocab_size={vocab_size}")
    return [vocab_size - 1 - i for i in range(n)]


def corrupt_spans(tokens: Tensor, mask: Tensor, sentinels: Sequence[int]) -> tuple[Tensor, Tensor]:
    """Eq. (2) for a given mask: each run of dropped tokens becomes one sentinel.

    Shape:
        tokens (L,), mask (L,) bool with k runs -> inputs (L - n_noise + k,),
        targets (n_noise + k + 1,).
    """
    inputs: list[int] = []
    targets: list[int] = []
    span, previous = -1, False
    for tok, dropped in zip(tokens.tolist(), mask.tolist(), strict=True):
        if dropped and not previous:  # a new span: its sentinel in both
            span += 1
            inputs.append(sentinels[span])
            targets.append(sentinels[span])
        (targets if dropped else inputs).append(tok)
        previous = dropped
    targets.append(sentinels[span + 1])  # the closing sentinel
    return torch.tensor(inputs, dtype=torch.long), torch.tensor(targets, dtype=torch.long)


def span_corruption(
    tokens: Tensor | Sequence[int],
    sentinels: Sequence[int],
    *,
    noise_density: float = 0.15,
    mean_noise_span_length: float = 3.0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Eq. (2): the corrupted input and the target of one token sequence.

    Args:
        tokens: the token ids; none may be a sentinel.
        sentinels: ids ``S_0, S_1, ...``; at least (number of spans + 1) of them.
        noise_density: fraction r of dropped tokens.
        mean_noise_span_length: mean span length μ.
        generator: the random source (a seeded ``torch.Generator`` makes it reproducible).

    Shape:
        tokens (L,) -> inputs (L - n_noise + k,), targets (n_noise + k + 1,) int64.
    """
    tokens = torch.as_tensor(tokens, dtype=torch.long)
    if tokens.ndim != 1:
        raise ValueError(f"expected a 1-D token sequence, got shape {tuple(tokens.shape)}")
    if torch.isin(tokens, torch.tensor(list(sentinels), dtype=torch.long)).any():
        raise ValueError("the tokens contain a sentinel id")
    _, k = noise_span_counts(len(tokens), noise_density, mean_noise_span_length)
    if len(sentinels) < k + 1:
        raise ValueError(f"{k} spans need {k + 1} sentinels, got {len(sentinels)}")
    mask = random_spans_noise_mask(len(tokens), noise_density=noise_density,
                                   mean_noise_span_length=mean_noise_span_length,
                                   generator=generator)  # fmt: skip
    return corrupt_spans(tokens, mask, sentinels)


def reconstruct(inputs: Tensor, targets: Tensor, sentinels: Sequence[int]) -> Tensor:
    """Undo Eq. (2): put each span of ``targets`` back in place of its sentinel in ``inputs``.

    Shape:
        inputs (L_in,), targets (L_tgt,) -> (L,) the original tokens.
    """
    index = {s: i for i, s in enumerate(sentinels)}
    spans: dict[int, list[int]] = {}
    current = None
    for tok in targets.tolist():
        if tok in index:
            current = index[tok]
            spans[current] = []
        elif current is not None:
            spans[current].append(tok)
    out: list[int] = []
    for tok in inputs.tolist():
        out.extend(spans[index[tok]] if tok in index else [tok])
    return torch.tensor(out, dtype=torch.long)


register(
    "transformer.span_corruption",
    paper="Raffel et al. 2020, arXiv:1910.10683",
    reference="reconstruction from input + target; dropped fraction and mean span length "
    "against Eq. (1) over many draws",
)(span_corruption)
