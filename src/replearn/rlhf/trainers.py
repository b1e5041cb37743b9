r"""Engine tasks of the supervised stages: language-model pretraining, SFT, the reward model.

Each is a :class:`replearn.engine.Task` trained by :func:`replearn.engine.fit`:

* :class:`LanguageModelTask`: next-token cross-entropy on windows of text (step 0, pretraining;
  :func:`replearn.transformer.gpt.lm_loss`);
* :class:`SFTTask`: Eq. (2) of :mod:`replearn.rlhf.sft` on (prompt, response) sequences, the
  prompt masked;
* :class:`RewardModelTask`: the Bradley–Terry loss with L2 penalty and learned temperature of
  :mod:`replearn.rlhf.reward_model` on (preferred, rejected) pairs; it logs the preference
  accuracy and validates on held-out pairs.

The reinforcement-learning stages (generate-score-update in one engine step) are
:class:`replearn.rlhf.grpo_trainer.GRPOTask` and :class:`replearn.rlhf.ppo_trainer.PPOTask`.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from replearn.engine import Task
from replearn.rlhf.reward_model import RewardModel
from replearn.rlhf.sft import response_mask, sft_loss
from replearn.transformer.gpt import GPT, lm_loss

__all__ = ["LanguageModelTask", "RewardModelTask", "SFTTask"]


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
