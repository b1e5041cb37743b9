r"""Engine tasks of the supervised stages: language-model pretraining, SFT, the reward model.

Each is a :class:`replearn.engine.Task` trained by :func:`replearn.engine.fit`:

* :class:`LanguageModelTask`: next-token cross-entropy on windows of text (step 0, pretraining;
  :func:`replearn.transformer.gpt.lm_loss`);
* :class:`SFTTask`: Eq. (2) of :mod:`replearn.rlhf.sft` on (prompt, response) sequences, the
  prompt masked;
* :class:`RewardModelTask`: the Bradley–Terry loss with L2 penalty and learned temperature of
  :mod:`replearn.rlhf.reward_model` on (preferred, rejected) pairs; it logs the preference
  accuracy and validates on held-out pairs;
* :class:`DPOTask`: the DPO loss of :mod:`replearn.rlhf.dpo` on (preferred, rejected) response
  pairs against a frozen reference (no reward model, no sampling).

The reinforcement-learning stages (generate-score-update in one engine step) are
:class:`replearn.rlhf.grpo_trainer.GRPOTask` and :class:`replearn.rlhf.ppo_trainer.PPOTask`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from replearn.engine import Task
from replearn.rlhf.dpo import dpo_loss
from replearn.rlhf.reward_model import RewardModel
from replearn.rlhf.sft import response_mask, sft_loss, token_logprobs
from replearn.transformer.gpt.model import GPT, lm_loss

__all__ = ["DPOTask", "LanguageModelTask", "RewardModelTask", "SFTTask", "sequence_logprob"]


class LanguageModelTask(Task):
    """Mean next-token cross-entropy of ``(x, y)`` windows (y = x shifted by one)."""

    def __init__(self, model: GPT) -> None:
        super().__init__()
        self.model = model

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch
        return lm_loss(self.model(x), y), {}


class SFTTask(Task):
    """Response-only negative log-likelihood of ``(seq,)`` batches (prompt of ``prompt_len``).

    Args:
        model: the policy being fine-tuned.
        prompt_len: prompt length P (the same for every sequence).
        eos_id: end-of-response token; what follows it is padding.
    """

    def __init__(self, model: GPT, *, prompt_len: int, eos_id: int) -> None:
        super().__init__()
        if prompt_len < 1:
            raise ValueError(f"prompt_len must be >= 1, got {prompt_len}")
        self.model, self.prompt_len, self.eos_id = model, prompt_len, eos_id

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        seq = batch[0]
        mask = response_mask(seq, self.prompt_len, eos_id=self.eos_id)
        return sft_loss(self.model(seq[:, :-1]), seq[:, 1:], mask), {}


class RewardModelTask(Task):
    """Bradley–Terry on ``(win, lose, last_win, last_lose)`` batches of token sequences.

    Args:
        reward_model: the :class:`RewardModel` (backbone, head, temperature).
        l2: weight of the L2 penalty on the rewards.
    """

    def __init__(self, reward_model: RewardModel, *, l2: float = 0.01) -> None:
        super().__init__()
        self.reward_model, self.l2 = reward_model, l2

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        win, lose, last_w, last_l = batch
        loss, acc = self.reward_model.loss(win, lose, l2=self.l2, last_w=last_w, last_l=last_l)
        return loss, {"accuracy": acc, "tau": self.reward_model.tau.detach()}


def sequence_logprob(model: GPT, seq: Tensor, prompt_len: int, eos_id: int) -> Tensor:
    r""":math:`\log\pi(y|x)`: the summed log-probability of the response tokens (to the end token).

    Shape:
        seq (B, P + R) -> (B,).
    """
    mask = response_mask(seq, prompt_len, eos_id=eos_id)  # (B, T - 1)
    logits = model(seq[:, :-1])  # (B, T - 1, V)
    return (token_logprobs(logits, seq[:, 1:]) * mask).sum(1)


class DPOTask(Task):
    """DPO on ``(win, lose)`` batches of prompt + response sequences (one prompt length).

    Args:
        policy: the model trained.
        reference: the frozen SFT model.
        prompt_len: prompt length P.
        eos_id: end-of-response token.
        beta: DPO's :math:`\beta`.
    """

    def __init__(self, policy: GPT, reference: GPT, *, prompt_len: int, eos_id: int,
                 beta: float = 0.1) -> None:  # fmt: skip
        super().__init__()
        if beta <= 0:
            raise ValueError(f"beta must be > 0, got {beta}")
        self.policy, self.reference = policy, reference.requires_grad_(False).eval()
        self.prompt_len, self.eos_id, self.beta = prompt_len, eos_id, beta

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        win, lose = batch[0], batch[1]
        p, e = self.prompt_len, self.eos_id
        with torch.no_grad():
            ref_w = sequence_logprob(self.reference, win, p, e)
            ref_l = sequence_logprob(self.reference, lose, p, e)
        loss, acc = dpo_loss(sequence_logprob(self.policy, win, p, e),
                             sequence_logprob(self.policy, lose, p, e), ref_w, ref_l,
                             beta=self.beta)  # fmt: skip
        return loss, {"accuracy": acc}
