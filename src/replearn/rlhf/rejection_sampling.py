r"""Rejection sampling (best-of-n) to expand an SFT data set.

Papers: H. Touvron et al., "Llama 2", 2023, arXiv:2307.09288, Sec. 3.2.3 (rejection-sampling
fine-tuning: sample K outputs, keep the best under the reward model, fine-tune on them);
DeepSeek-AI 2025, arXiv:2501.12948, Sec. 2.3.3 (rejection sampling from the RL checkpoint,
keeping correct responses only, to build new SFT data); Z. Yuan et al. 2023, arXiv:2308.01825
(RFT on math with a correctness filter).

For each prompt :math:`x`, draw :math:`y_1..y_n \sim \pi(\cdot|x)` and keep

.. math::

    y^*(x) = \arg\max_j R(x, y_j), \qquad \text{kept if } R(x, y^*) \ge r_{min}     \qquad (1)

The kept (prompt, response) sequences are new SFT examples (:class:`replearn.rlhf.trainers.SFTTask`
trains on them with the prompt masked). The policy of the kept samples is best-of-n
(:mod:`replearn.rlhf.best_of_n`), so fine-tuning on them moves the model towards it.

Tests: the kept rows are each prompt's highest-scoring candidate, the threshold drops prompts
whose best is below it, and the sequences keep their prompts.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from replearn.rlhf.best_of_n import best_of_n
from replearn.rlhf.policy import generate
from replearn.transformer.gpt.model import GPT

__all__ = ["rejection_sample"]

ScoreFn = Callable[[Tensor, Tensor, list[int]], Tensor]
"""``score_fn(seq, mask, prompt_index) -> (B,)``: rewards of candidate sequences."""


@torch.no_grad()
def rejection_sample(
    model: GPT,
    prompts: Tensor,
    score_fn: ScoreFn,
    *,
    n: int,
    max_new_tokens: int,
    eos_id: int,
    min_reward: float | None = None,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Eq. (1): the best of ``n`` samples per prompt, optionally only those above ``min_reward``.

    Returns:
        the kept sequences (prompt + response), the index of their prompt, and their rewards.

    Shape:
        prompts (N, P) -> seq (K, P + max_new_tokens), index (K,), rewards (K,), K <= N.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rep = prompts.repeat_interleave(n, dim=0)  # (N n, P)
    seq, mask = generate(model, rep, max_new_tokens, eos_id=eos_id, temperature=temperature,
                         generator=generator)  # fmt: skip
    owner = torch.arange(prompts.shape[0]).repeat_interleave(n)
    rewards = score_fn(seq, mask, owner.tolist()).reshape(-1, n)  # (N, n)
    idx, best = best_of_n(rewards)
    rows = torch.arange(prompts.shape[0]) * n + idx  # (N,)
    keep = torch.ones_like(best, dtype=torch.bool)
    if min_reward is not None:
        keep = best >= min_reward
    return seq[rows[keep]], torch.arange(prompts.shape[0])[keep], best[keep]
