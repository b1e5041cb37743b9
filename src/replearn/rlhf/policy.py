r"""The language-model policy of RLHF: sampling responses, their log-probabilities, a value head.

Papers: D. M. Ziegler et al., "Fine-tuning language models from human preferences", 2019,
arXiv:1909.08593 (policy and value function on one transformer); L. Ouyang et al. (InstructGPT)
2022, arXiv:2203.02155.

A prompt :math:`x` of length :math:`P` is continued by a response :math:`a_1..a_R` sampled from
:math:`\pi_\theta`; the state of token :math:`t` is :math:`s_t = (x, a_{<t})`, so

.. math::

    \log\pi_\theta(a \mid x) = \sum_{t=1}^{R} m_t \log\pi_\theta(a_t \mid s_t)      \qquad (1)

with :math:`m_t` the response mask (tokens up to and including the first end token).
:class:`PolicyWithValue` adds the critic :math:`V_\psi(s_t)`, a linear head on the final hidden
state at the position that *predicts* :math:`a_t` (the policy and the value share the
transformer, as in Ziegler et al.; TRL's ``AutoModelForCausalLMWithValueHead``).

Generation draws tokens with a ``torch.Generator`` through :meth:`GPT.generate` (KV cache);
tokens after the first end token are replaced by the end token so padding is canonical.

Tests: :func:`response_logprobs` equals the per-token log-softmax read from the full pass;
the value head's positions; sampling is reproducible with a generator and stops at the end token.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from replearn.registry import Example, register
from replearn.rlhf.reward_model import final_hidden
from replearn.rlhf.sft import response_mask, token_logprobs
from replearn.transformer.gpt.model import GPT, GPTConfig

__all__ = ["PolicyWithValue", "generate", "response_logprobs"]


@torch.no_grad()
def generate(
    model: GPT,
    prompts: Tensor,
    max_new_tokens: int,
    *,
    eos_id: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Sample responses; returns the sequences and their response mask.

    Shape:
        prompts (B, P) -> seq (B, P + max_new_tokens), mask (B, max_new_tokens) float, both
        on the model's device.
    """
    prompts = prompts.to(next(model.parameters()).device)
    was_training = model.training
    model.eval()
    seq = model.generate(prompts, max_new_tokens, temperature=temperature, generator=generator)
    model.train(was_training)
    p = prompts.shape[1]
    mask = response_mask(seq, p, eos_id=eos_id)[:, p - 1 :]  # (B, R)
    resp = seq[:, p:]
    seq = torch.cat([prompts, torch.where(mask > 0, resp, torch.full_like(resp, eos_id))], 1)
    return seq, mask


def response_logprobs(model: nn.Module, seq: Tensor, prompt_len: int) -> Tensor:
    r"""Eq. (1)'s terms :math:`\log\pi(a_t|s_t)` for the response tokens ``seq[:, P:]``.

    Shape:
        seq (B, P + R) -> (B, R).
    """
    logits = model(seq[:, :-1])[:, prompt_len - 1 :]  # (B, R, V)
    return token_logprobs(logits, seq[:, prompt_len:])


def _example() -> Example:
    cfg = GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=8, vocab_size=11)
    return Example(PolicyWithValue(GPT(cfg)), (torch.randint(0, 11, (2, 8)), 3), (2, 5))


@register(
    "rlhf.policy_with_value",
    paper="Ziegler et al. 2019, arXiv:1909.08593",
    reference="log-probabilities vs the full pass's log-softmax; value positions by hand",
    example=_example,
)
class PolicyWithValue(nn.Module):
    """A GPT policy with a scalar value head sharing its transformer.

    Args:
        model: the :class:`GPT` policy (trained in place).

    Shape:
        seq (B, P + R), prompt_len P -> values (B, R), logprobs (B, R).
    """

    def __init__(self, model: GPT) -> None:
        super().__init__()
        self.model = model
        self.value_head = nn.Linear(model.cfg.n_embd, 1)
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)

    def forward(self, seq: Tensor, prompt_len: int) -> tuple[Tensor, Tensor]:
        hidden, logits = final_hidden(self.model, seq[:, :-1])  # (B, T-1, C), (B, T-1, V)
        hidden, logits = hidden[:, prompt_len - 1 :], logits[:, prompt_len - 1 :]
        logp = token_logprobs(logits, seq[:, prompt_len:])  # (B, R)
        return self.value_head(hidden).squeeze(-1), logp  # (B, R) each

    def extra_repr(self) -> str:
        return f"n_embd={self.model.cfg.n_embd}"
