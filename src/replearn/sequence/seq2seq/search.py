r"""Greedy and beam-search decoding of an autoregressive decoder given as a step function.

Papers: I. Sutskever, O. Vinyals & Q. V. Le, "Sequence to Sequence Learning with Neural
Networks", 2014, arXiv:1409.3215 (Sec. 3.1: left-to-right beam search); Y. Wu et al.,
"Google's Neural Machine Translation System", 2016, arXiv:1609.08144 (Sec. 7: length
normalisation).

A decoder defines :math:`\log p(y \mid x) = \sum_t \log p(y_t \mid y_{<t}, x)`. The
most likely output :math:`\arg\max_y \log p(y \mid x)` is intractable; *greedy*
decoding takes :math:`y_t = \arg\max p(\cdot \mid y_{<t}, x)` at every step, *beam
search* keeps the ``K`` best prefixes by their summed log-probability

.. math::

    \text{score}(y_{\le t}) = \sum_{\tau \le t} \log p(y_\tau \mid y_{<\tau}, x)   \qquad (1)

extending each by every token and keeping the ``K`` best of the ``K V`` extensions.
A prefix that emits ``EOS`` is finished: it keeps its score and its slot (it may only
be extended by ``PAD`` at no cost). At the end the hypotheses are ranked by the
length-normalised score

.. math::

    \text{score}(y) / |y|^{\alpha}                                              \qquad (2)

(:math:`|y|` counts ``EOS``; :math:`\alpha = 0` is the raw score (1), :math:`\alpha = 1`
the mean log-probability per token; GNMT's :math:`((5+|y|)/6)^\alpha` differs only
in the base).

A step function is ``step_fn(prev_tokens (N,), state) -> (logits (N, V), state)``
where ``state`` is a tuple of tensors whose first axis is the batch ``N``; beam search
runs ``N = B K`` rows and reorders every state tensor along that axis.

Tests check: beam width 1 equals greedy decoding; a beam of width >= V^T equals an
exhaustive search over all outputs of length <= T (raw and length-normalised); on a
hand-made model where greedy decoding misses the most likely output, a beam of 2 finds it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from replearn.registry import register

__all__ = ["StepFn", "beam_search", "greedy_search", "length_normalised"]

State = tuple[Tensor, ...]
StepFn = Callable[[Tensor, State], tuple[Tensor, State]]


def length_normalised(scores: Tensor, lengths: Tensor, alpha: float) -> Tensor:
    r"""Eq. (2): :math:`\text{score} / |y|^\alpha` (lengths clamped to >= 1).

    Shape:
        scores, lengths: (*) -> (*).
    """
    return scores / lengths.clamp(min=1).to(scores.dtype) ** alpha


@torch.no_grad()
def greedy_search(
    step_fn: StepFn,
    state: State,
    *,
    batch_size: int,
    bos_id: int,
    eos_id: int,
    max_len: int,
    pad_id: int = 0,
) -> tuple[Tensor, Tensor]:
    """The most likely token at every step until ``EOS`` or ``max_len`` tokens.

    Returns:
        tokens (B, max_len) int64 (``PAD`` after ``EOS``) and their summed log-probability (B,).
    """
    prev = torch.full((batch_size,), bos_id, dtype=torch.long, device=state[0].device)
    done = torch.zeros(batch_size, dtype=torch.bool, device=prev.device)
    score = torch.zeros(batch_size, dtype=torch.float64, device=prev.device)
    out = []
    for _ in range(max_len):
        logits, state = step_fn(prev, state)
        logp = F.log_softmax(logits.double(), dim=-1)  # (B, V)
        tok = logp.argmax(dim=-1)
        score = score + torch.where(done, 0.0, logp.gather(1, tok[:, None])[:, 0])
        tok = torch.where(done, pad_id, tok)
        out.append(tok)
        done = done | (tok == eos_id)
        prev = tok
        if bool(done.all()):
            break
    tokens = torch.stack(out, dim=1)
    return F.pad(tokens, (0, max_len - tokens.shape[1]), value=pad_id), score


@torch.no_grad()
@register(
    "sequence.beam_search",
    paper="Sutskever et al. 2014, arXiv:1409.3215; Wu et al. 2016, arXiv:1609.08144",
    reference="width >= V^T == exhaustive search; width 1 == greedy; beats greedy (hand-made)",
)
def beam_search(
    step_fn: StepFn,
    state: State,
    *,
    batch_size: int,
    bos_id: int,
    eos_id: int,
    max_len: int,
    beam_width: int,
    length_penalty: float = 0.0,
    pad_id: int = 0,
) -> tuple[Tensor, Tensor]:
    """Beam search of width ``K`` with Eq. (2)'s length normalisation at the final ranking.

    Args:
        step_fn: the decoder (see the module docstring); called on ``B K`` rows.
        state: initial state, tensors with ``B`` rows (repeated ``K`` times here).
        batch_size: ``B``.
        bos_id, eos_id, pad_id: special tokens.
        max_len: most tokens generated (``EOS`` included); unfinished beams compete too.
        beam_width: ``K``.
        length_penalty: :math:`\\alpha` of Eq. (2).

    Returns:
        the best tokens (B, max_len) int64 (``PAD`` after ``EOS``) and their raw score (B,).
    """
    if beam_width < 1 or max_len < 1:
        raise ValueError(f"beam_width and max_len must be >= 1, got {beam_width}, {max_len}")
    b, k = batch_size, beam_width
    device = state[0].device
    state = tuple(s.repeat_interleave(k, dim=0) for s in state)  # (B K, ...)
    scores = torch.full((b, k), float("-inf"), dtype=torch.float64, device=device)
    scores[:, 0] = 0.0  # one live beam at the start: the K copies would tie
    tokens = torch.zeros(b, k, 0, dtype=torch.long, device=device)
    finished = torch.zeros(b, k, dtype=torch.bool, device=device)
    lengths = torch.zeros(b, k, dtype=torch.long, device=device)
    prev = torch.full((b * k,), bos_id, dtype=torch.long, device=device)
    rows = torch.arange(b, device=device)[:, None]  # (B, 1)
    for _ in range(max_len):
        logits, state = step_fn(prev, state)
        logp = F.log_softmax(logits.double(), dim=-1).view(b, k, -1)  # (B, K, V)
        v = logp.shape[-1]
        after_eos = torch.full((v,), float("-inf"), dtype=logp.dtype, device=device)
        after_eos[pad_id] = 0.0  # a finished beam only continues with PAD, at no cost
        logp = torch.where(finished[..., None], after_eos, logp)
        top, idx = (scores[..., None] + logp).view(b, k * v).topk(k, dim=-1)  # (B, K)
        beam, tok = idx // v, idx % v
        was_finished = finished[rows, beam]
        tokens = torch.cat([tokens[rows, beam], tok[..., None]], dim=-1)  # (B, K, t + 1)
        lengths = lengths[rows, beam] + (~was_finished).long()
        finished = was_finished | (tok == eos_id)
        scores = top
        state = tuple(s.index_select(0, (rows * k + beam).view(-1)) for s in state)
        prev = tok.view(-1)
        if bool(finished.all()):
            break
    best = length_normalised(scores, lengths, length_penalty).argmax(dim=-1)  # (B,)
    out = tokens[torch.arange(b, device=device), best]  # (B, t)
    return F.pad(out, (0, max_len - out.shape[1]), value=pad_id), scores[rows[:, 0], best]
