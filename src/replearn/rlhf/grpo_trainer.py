r"""The GRPO trainer: sample a group per prompt, score by rules, update without a critic.

Algorithm 1 of DeepSeekMath (Shao et al. 2024, arXiv:2402.03300), as DeepSeek-R1-Zero runs it
(arXiv:2501.12948): per engine step,

1. draw ``prompts_per_step`` prompts and sample ``group_size`` responses to each from
   :math:`\pi_{\theta_{old}} = \pi_\theta` (temperature ``temperature``);
2. score each response with the task's rule-based reward (:mod:`replearn.rlhf.rewards`);
3. advantages by Eq. (1) of :mod:`replearn.rlhf.grpo` (group-standardized rewards);
4. ``inner_steps`` gradient steps on Eq. (2) (clipped ratio, :math:`k_3` KL to the frozen
   reference), each through ``loop.optimize``.

With ``inner_steps = 1`` the ratio is 1 and the clip inactive (TRL's default
``num_iterations=1``). The sampling generator is declared state (``get_extra_state``), so a
resumed run draws the same prompts and responses. :meth:`GRPOTask.validate` reports greedy
accuracy on a fixed set of evaluation prompts, the mean reward of sampled responses and their
KL to the reference (nats per response, Eq. 4 of :mod:`replearn.rlhf.evaluation`).

The task object (``ArithmeticTask``) supplies ``prompts(n, generator)``, ``decode(seq)``,
``reward(responses, info)``, ``accuracy(responses, info)``, ``prompt_len``,
``max_response_len`` and ``eos_id``. Generation draws on the CPU generator: CPU runs only.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from replearn.engine import Loop, Task
from replearn.rlhf.evaluation import sequence_kl
from replearn.rlhf.grpo import group_relative_advantages, grpo_loss
from replearn.rlhf.policy import generate, response_logprobs
from replearn.rlhf.tasks.common import PromptBatch
from replearn.transformer.gpt.model import GPT

__all__ = ["GRPOTask"]


class GRPOTask(Task):
    """One GRPO iteration per engine step (generate, score, ``inner_steps`` updates).

    Args:
        policy: :math:`\\pi_\\theta` (trained in place).
        reference: :math:`\\pi_{ref}` (frozen copy of the SFT model).
        task: prompts, decoding and rule-based rewards (see the module docstring).
        eval_prompts: fixed prompts for :meth:`validate`.
        prompts_per_step: prompts per step (each sampled ``group_size`` times).
        group_size: G.
        inner_steps: gradient steps per batch of samples.
        clip_eps: ratio clip.
        beta: weight of the :math:`k_3` KL.
        temperature: sampling temperature.
        seed: seed of the sampling generator.
    """

    def __init__(
        self,
        policy: GPT,
        reference: GPT,
        task: Any,
        eval_prompts: PromptBatch,
        *,
        prompts_per_step: int = 16,
        group_size: int = 8,
        inner_steps: int = 1,
        clip_eps: float = 0.2,
        beta: float = 0.04,
        temperature: float = 1.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if prompts_per_step < 1 or group_size < 2 or inner_steps < 1:
            raise ValueError("need prompts_per_step >= 1, group_size >= 2, inner_steps >= 1")
        self.policy, self.reference, self.task = policy, reference, task
        self.reference.requires_grad_(False).eval()
        self.eval_prompts = eval_prompts
        self.prompts_per_step, self.group_size, self.inner_steps = (
            prompts_per_step, group_size, inner_steps,
        )  # fmt: skip
        self.clip_eps, self.beta, self.temperature = clip_eps, beta, temperature
        self.generator = torch.Generator().manual_seed(seed)

    def get_extra_state(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])

    def rollout(
        self, prompts: PromptBatch, temperature: float, generator: torch.Generator
    ) -> dict[str, Any]:
        """Sample responses and score them (no gradient)."""
        seq, mask = generate(
            self.policy, prompts.ids, self.task.max_response_len, eos_id=self.task.eos_id,
            temperature=temperature, generator=generator,
        )  # fmt: skip
        responses = self.task.decode(seq)
        return {
            "seq": seq, "mask": mask, "responses": responses,
            "reward": self.task.reward(responses, prompts.info),
            "accuracy": self.task.accuracy(responses, prompts.info),
        }  # fmt: skip

    def update(self, batch: Any, loop: Loop) -> dict[str, Tensor]:
        p = self.task.prompt_len
        prompts = self.task.prompts(self.prompts_per_step, self.generator).repeat(self.group_size)
        roll = self.rollout(prompts, self.temperature, self.generator)
        seq, mask = roll["seq"], roll["mask"]
        adv = group_relative_advantages(roll["reward"], self.group_size).to(seq.device)
        with torch.no_grad():
            old_logp = response_logprobs(self.policy, seq, p)
            ref_logp = response_logprobs(self.reference, seq, p)
        for _ in range(self.inner_steps):
            with loop.autocast():
                logp = response_logprobs(self.policy, seq, p)
                loss, stats = grpo_loss(
                    logp, old_logp, ref_logp, adv, mask, clip_eps=self.clip_eps, beta=self.beta
                )
            loop.optimize(loss)
        solved = roll["accuracy"].reshape(-1, self.group_size)
        return {
            "loss": loss.detach(),
            "reward": roll["reward"].mean(),
            "accuracy": roll["accuracy"].mean(),
            "kl": stats["kl"],
            "clip_fraction": stats["clip_fraction"],
            "response_length": mask.sum(1).mean(),
            "groups_with_signal": (solved.std(1) > 0).float().mean(),
        }

    @torch.no_grad()
    def evaluate(self, prompts: PromptBatch, *, seed: int = 1234) -> dict[str, float]:
        """Greedy accuracy; sampled reward and KL to the reference, on ``prompts``."""
        gen = torch.Generator().manual_seed(seed)
        greedy = self.rollout(prompts, 0.0, gen)
        sampled = self.rollout(prompts, self.temperature, gen)
        p = self.task.prompt_len
        logp = response_logprobs(self.policy, sampled["seq"], p)
        ref_logp = response_logprobs(self.reference, sampled["seq"], p)
        return {
            "accuracy": float(greedy["accuracy"].mean()),
            "sampled_accuracy": float(sampled["accuracy"].mean()),
            "sampled_reward": float(sampled["reward"].mean()),
            "kl": sequence_kl(logp, ref_logp, sampled["mask"]),
            "response_length": float(sampled["mask"].sum(1).mean()),
        }

    def validate(self, loop: Loop) -> dict[str, float]:
        """:meth:`evaluate` on the fixed prompts (its own generator: the stream is untouched)."""
        return {f"val_{k}": v for k, v in self.evaluate(self.eval_prompts).items()}
