r"""Decoding an autoregressive model: greedy, temperature, top-k, nucleus (top-p), beam search.

An autoregressive model gives :math:`p(x_t \mid x_{<t})` as logits :math:`z`; a decoder
chooses the next token from them.

* Greedy: :math:`x_t = \arg\max_v z_v`.
* Temperature ``T`` (Ackley, Hinton & Sejnowski 1985; used for text by e.g. Graves
  2013, arXiv:1308.0850): sample from :math:`\mathrm{softmax}(z / T)`; ``T < 1``
  sharpens the distribution (``T -> 0`` is greedy), ``T > 1`` flattens it (``T -> ∞``
  is uniform).
* Top-k (A. Fan, M. Lewis & Y. Dauphin, "Hierarchical Neural Story Generation", 2018,
  arXiv:1805.04833): keep the ``k`` largest logits, renormalise, sample.
* Top-p / nucleus (A. Holtzman, J. Buys, L. Du, M. Forbes & Y. Choi, "The Curious Case
  of Neural Text Degeneration", 2019, arXiv:1904.09751, Eq. 2): keep the smallest set
  :math:`V^{(p)}` of most likely tokens with :math:`\sum_{v \in V^{(p)}} p(v) \ge p`,
  renormalise, sample. The most likely token is always kept.
* Beam search (e.g. Sutskever, Vinyals & Le 2014, arXiv:1409.3215; Wu et al. 2016,
  arXiv:1609.08144 for the length penalty): keep the ``K`` prefixes of highest
  :math:`\sum_t \log p(x_t \mid x_{<t})`; extend each by every token and keep the best
  ``K`` of the ``K V`` extensions. Finished hypotheses are ranked by
  :math:`\sum_t \log p / |y|^{\alpha}` (``length_penalty`` α, the Hugging Face form
  rather than GNMT's :math:`((5 + |y|)/6)^\alpha`).

Order of the filters as in Hugging Face ``generate``: temperature, then top-k, then top-p.
A finished beam (it emitted ``eos_id``) stays in the beam with its score frozen and
is padded with ``eos_id``; with no ``eos_id`` all beams run ``max_new_tokens`` steps.

The model enters through ``step_fn(tokens (N, t), cache) -> (logits (N, V), cache)``:
it sees every token so far and may use or ignore ``cache`` (e.g. a list of
:class:`~replearn.transformer.attention.KVCache`). Beam search reorders the cache
along its batch axis when beams are re-ranked (tensors are indexed, objects with a
``reorder(index)`` method are called, lists/tuples/dicts recursively).

Tests check: the kept sets of top-k / top-p on hand-made distributions (ties, p close
to 0 and 1), sampling frequencies against the filtered distribution; beam size 1 ==
greedy; beam search == exhaustive search when the beam holds every prefix; a model
where beam search finds the best sequence and greedy does not; the length penalty
switching the choice between a short and a long hypothesis; cache reordering.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from replearn.registry import register

__all__ = [
    "beam_search",
    "greedy_next",
    "reorder_cache",
    "sample",
    "sample_next",
    "temperature_probs",
    "top_k_filter",
    "top_p_filter",
]

StepFn = Callable[[Tensor, Any], tuple[Tensor, Any]]


def greedy_next(logits: Tensor) -> Tensor:
    """The most likely token. Shape: (B, V) -> (B,) int64."""
    return logits.argmax(dim=-1)


def temperature_probs(logits: Tensor, temperature: float = 1.0) -> Tensor:
    r""":math:`\mathrm{softmax}(z / T)`. Shape: (..., V) -> (..., V)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return F.softmax(logits / temperature, dim=-1)


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    r"""Keep the ``k`` largest logits (ties with the ``k``-th kept too), others :math:`-\infty`.

    Shape:
        (..., V) -> (..., V).
    """
    if k < 1:
        raise ValueError(f"top_k must be >= 1, got {k}")
    if k >= logits.shape[-1]:
        return logits
    kth = logits.topk(k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: Tensor, p: float) -> Tensor:
    r"""Nucleus filter (Holtzman et al., Eq. 2): keep the smallest top set of mass :math:`\ge p`.

    A token is kept when the mass of the tokens strictly more likely than it (in
    sorted order) is below ``p``, so the most likely token is always kept.

    Shape:
        (..., V) -> (..., V), :math:`-\infty` outside the nucleus.
    """
    if not 0.0 < p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {p}")
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs  # (..., V) mass of the better tokens
    drop_sorted = mass_before >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))


def sample_next(
    logits: Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Sample the next token: temperature, then top-k, then top-p; ``temperature=0`` is greedy.

    The draw happens on the generator's device and the tokens come back to the logits'
    (a CPU generator gives the same tokens on every device).

    Shape:
        logits (B, V) -> (B,) int64.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return greedy_next(logits)
    z = logits.double() / temperature  # (B, V)
    if top_k is not None:
        z = top_k_filter(z, top_k)
    if top_p is not None:
        z = top_p_filter(z, top_p)
    probs = z.softmax(dim=-1)
    where = generator.device if generator is not None else probs.device
    return torch.multinomial(probs.to(where), 1, generator=generator)[:, 0].to(probs.device)


@torch.no_grad()
def sample(
    step_fn: StepFn,
    prompt: Tensor,
    *,
    max_new_tokens: int,
    cache: Any = None,
    eos_id: int | None = None,
    **sampling: Any,
) -> Tensor:
    """Generate ``max_new_tokens`` tokens with :func:`sample_next` (keyword ``sampling`` args).

    After ``eos_id`` a row keeps emitting ``eos_id``.

    Shape:
        prompt (B, t0) -> (B, t0 + max_new_tokens).
    """
    tokens = prompt
    done = torch.zeros(prompt.shape[0], dtype=torch.bool, device=prompt.device)
    for _ in range(max_new_tokens):
        logits, cache = step_fn(tokens, cache)
        nxt = sample_next(logits, **sampling)
        if eos_id is not None:
            nxt = nxt.masked_fill(done, eos_id)
            done = done | (nxt == eos_id)
        tokens = torch.cat([tokens, nxt[:, None]], dim=1)
    return tokens


def reorder_cache(cache: Any, index: Tensor) -> Any:
    """Select batch rows ``index`` of a cache (None, tensor, ``.reorder``-able, or containers)."""
    if cache is None:
        return None
    if isinstance(cache, Tensor):
        return cache[index]
    if hasattr(cache, "reorder"):
        cache.reorder(index)
        return cache
    if isinstance(cache, (list, tuple)):
        return type(cache)(reorder_cache(c, index) for c in cache)
    if isinstance(cache, dict):
        return {key: reorder_cache(c, index) for key, c in cache.items()}
    raise TypeError(f"cannot reorder a cache of type {type(cache).__name__}")


def beam_search(
    step_fn: StepFn,
    prompt: Tensor,
    *,
    beam_size: int,
    max_new_tokens: int,
    eos_id: int | None = None,
    length_penalty: float = 1.0,
    cache: Any = None,
) -> tuple[Tensor, Tensor]:
    r"""Beam search over ``step_fn``; hypotheses ranked by :math:`\sum \log p / |y|^{\alpha}`.

    Args:
        step_fn: ``(tokens (B*K, t), cache) -> (logits (B*K, V), cache)``.
        prompt: the prefix of every sequence.
        beam_size: K.
        max_new_tokens: generated tokens at most.
        eos_id: end-of-sequence token (finishes a hypothesis), or None.
        length_penalty: α; 0 ranks by total log-probability, larger favours longer output.
        cache: initial cache for ``prompt`` repeated K times (row ``b * K + k``).

    Shape:
        prompt (B, t0) -> sequences (B, K, t0 + max_new_tokens) best first, scores (B, K).
    """
    if beam_size < 1 or max_new_tokens < 1:
        raise ValueError(f"need beam_size, max_new_tokens >= 1, got {beam_size}, {max_new_tokens}")
    with torch.no_grad():  # (a context, not a decorator: the registry reads the source)
        b, k = prompt.shape[0], beam_size
        tokens = prompt.repeat_interleave(k, dim=0)  # (B*K, t0)
        logp_sum = torch.full((b, k), float("-inf"), dtype=torch.float64, device=prompt.device)
        logp_sum[:, 0] = 0.0  # all beams start equal: expand only the first one
        lengths = torch.zeros(b, k, dtype=torch.long, device=prompt.device)
        done = torch.zeros(b, k, dtype=torch.bool, device=prompt.device)
        for _ in range(max_new_tokens):
            logits, cache = step_fn(tokens, cache)
            logp = F.log_softmax(logits.double(), dim=-1).view(b, k, -1)  # (B, K, V)
            vocab = logp.shape[-1]
            if eos_id is not None:  # a finished hypothesis only extends by eos, at no cost
                frozen = torch.full_like(logp[0, 0], float("-inf"))
                frozen[eos_id] = 0.0
                logp = torch.where(done[..., None], frozen, logp)
            cand = (logp_sum[..., None] + logp).view(b, k * vocab)  # (B, K*V)
            logp_sum, flat = cand.topk(k, dim=-1)  # (B, K) best extensions
            beam, token = flat // vocab, flat % vocab  # parent beam and new token
            rows = (torch.arange(b, device=prompt.device)[:, None] * k + beam).view(-1)  # (B*K,)
            lengths = lengths.gather(1, beam) + (~done.gather(1, beam)).long()
            done = done.gather(1, beam) | (token == eos_id if eos_id is not None else False)
            tokens = torch.cat([tokens[rows], token.view(-1, 1)], dim=1)
            cache = reorder_cache(cache, rows)
            if eos_id is not None and done.all():
                pad = torch.full(
                    (b * k, max_new_tokens + prompt.shape[1] - tokens.shape[1]), eos_id
                )
                tokens = torch.cat([tokens, pad.to(tokens)], dim=1)
                break
        scores = logp_sum / lengths.clamp(min=1).double() ** length_penalty  # (B, K)
        scores, order = scores.sort(dim=-1, descending=True)
        seqs = tokens.view(b, k, -1).gather(1, order[..., None].expand(-1, -1, tokens.shape[1]))
        return seqs, scores


register(
    "transformer.beam_search",
    paper="Sutskever et al. 2014, arXiv:1409.3215; Wu et al. 2016, arXiv:1609.08144",
    reference="exhaustive search on small Markov models; beam 1 == greedy",
)(beam_search)
register(
    "transformer.top_p_filter",
    paper="Holtzman et al. 2019, arXiv:1904.09751",
    reference="kept sets on hand-made distributions; sampling frequencies",
)(top_p_filter)
