r"""The PPO-RLHF trainer: generate, score with the reward model, shape with the KL, update.

Ziegler et al. 2019 (arXiv:1909.08593) and InstructGPT (arXiv:2203.02155) as detailed by Huang
et al. 2024 (arXiv:2403.17031). Per engine step:

1. draw ``prompts_per_step`` prompts and sample one response each from
   :math:`\pi_{\theta_{old}}` (temperature 1);
2. score each response with ``reward_fn`` (the learned reward model, or any sequence score);
   keep the rollout's log-probabilities and values, and the reference's log-probabilities;
3. per-token rewards :math:`\tilde R_t = -\beta\log(\pi_{old}/\pi_{ref}) + [t = R]\,R`, GAE,
   whitened advantages (:mod:`replearn.rlhf.ppo`);
4. ``ppo_epochs`` passes over ``minibatches`` shuffled minibatches, each one ``loop.optimize`` on
   the clipped surrogate plus the clipped value loss;
5. the KL controller (fixed or adaptive) updates :math:`\beta` from the measured KL.

The sampling generator and :math:`\beta` are declared state (``get_extra_state``).
:meth:`PPOTask.validate` reports the mean reward of sampled responses on fixed prompts and their
KL to the reference. CPU runs only (generation draws on a CPU generator).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from replearn.engine import Loop, Task
from replearn.rlhf.evaluation import sequence_kl
from replearn.rlhf.kl import FixedKLController
from replearn.rlhf.policy import PolicyWithValue, generate, response_logprobs
from replearn.rlhf.ppo import ppo_rlhf_advantages, ppo_rlhf_loss, whiten
from replearn.rlhf.tasks.common import PromptBatch
from replearn.transformer.gpt.model import GPT

__all__ = ["PPOTask"]

RewardFn = Callable[[Tensor, Tensor, PromptBatch], Tensor]
"""``reward_fn(seq, mask, prompts) -> (B,)`` scores of sampled sequences."""


class PPOTask(Task):
    """One PPO-RLHF iteration per engine step.

    Args:
        policy: :class:`PolicyWithValue` (trained in place).
        reference: frozen :math:`\\pi_{ref}`.
        task: ``prompts(n, generator)``, ``prompt_len``, ``max_response_len``, ``eos_id``.
        reward_fn: sequence scores (see :data:`RewardFn`).
        eval_prompts: fixed prompts for :meth:`validate`.
        kl_controller: fixed or adaptive :math:`\\beta`.
        prompts_per_step: rollouts per step.
        ppo_epochs: passes over each rollout batch.
        minibatches: minibatches per pass.
        clip: ratio clip (None: the unclipped policy gradient).
        value_clip: value clip (None: plain squared error).
        vf_coef: value-loss weight.
        gamma: discount over tokens.
        lam: GAE :math:`\\lambda`.
        temperature: sampling temperature.
        seed: seed of the sampling generator.
    """

    def __init__(
        self,
        policy: PolicyWithValue,
        reference: GPT,
        task: Any,
        reward_fn: RewardFn,
        eval_prompts: PromptBatch,
        *,
        kl_controller: FixedKLController | None = None,
        prompts_per_step: int = 32,
        ppo_epochs: int = 2,
        minibatches: int = 2,
        clip: float | None = 0.2,
        value_clip: float | None = 0.2,
        vf_coef: float = 0.1,
        gamma: float = 1.0,
        lam: float = 0.95,
        temperature: float = 1.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if prompts_per_step < minibatches or ppo_epochs < 1 or minibatches < 1:
            raise ValueError("need ppo_epochs >= 1 and 1 <= minibatches <= prompts_per_step")
        self.policy, self.reference, self.task = policy, reference, task
        self.reference.requires_grad_(False).eval()
        self.reward_fn, self.eval_prompts = reward_fn, eval_prompts
        self.kl = kl_controller or FixedKLController(0.05)
        self.prompts_per_step, self.ppo_epochs, self.minibatches = (
            prompts_per_step, ppo_epochs, minibatches,
        )  # fmt: skip
        self.clip, self.value_clip, self.vf_coef = clip, value_clip, vf_coef
        self.gamma, self.lam, self.temperature = gamma, lam, temperature
        self.generator = torch.Generator().manual_seed(seed)

    def get_extra_state(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "kl": self.kl.state_dict()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.kl.load_state_dict(state["kl"])

    def sample(
        self, prompts: PromptBatch, generator: torch.Generator, temperature: float | None = None
    ) -> tuple[Tensor, Tensor]:
        """Responses of the current policy: (seq, mask)."""
        t = self.temperature if temperature is None else temperature
        return generate(self.policy.model, prompts.ids, self.task.max_response_len,
                        eos_id=self.task.eos_id, temperature=t, generator=generator)  # fmt: skip

    def update(self, batch: Any, loop: Loop) -> dict[str, Tensor]:
        p = self.task.prompt_len
        prompts = self.task.prompts(self.prompts_per_step, self.generator)
        seq, mask = self.sample(prompts, self.generator)
        with torch.no_grad():
            score = self.reward_fn(seq, mask, prompts).to(mask.dtype)
            old_values, old_logp = self.policy(seq, p)
            ref_logp = response_logprobs(self.reference, seq, p)
        beta = self.kl.beta
        adv, returns, _ = ppo_rlhf_advantages(
            score, old_logp, ref_logp, old_values, mask, beta=beta, gamma=self.gamma, lam=self.lam
        )
        adv = whiten(adv, mask)
        n = seq.shape[0]
        stats: dict[str, Tensor] = {}
        for _ in range(self.ppo_epochs):
            perm = torch.randperm(n, generator=self.generator)
            for idx in perm.chunk(self.minibatches):
                with loop.autocast():
                    values, logp = self.policy(seq[idx], p)
                    loss, stats = ppo_rlhf_loss(
                        logp, old_logp[idx], adv[idx], values, old_values[idx], returns[idx],
                        mask[idx], clip=self.clip, value_clip=self.value_clip,
                        vf_coef=self.vf_coef,
                    )  # fmt: skip
                loop.optimize(loss)
        kl = sequence_kl(old_logp, ref_logp, mask)
        self.kl.update(kl, n)
        return {
            "reward": score.mean(),
            "kl": torch.tensor(kl),
            "beta": torch.tensor(beta),
            "objective": score.mean() - beta * kl,
            "response_length": mask.sum(1).mean(),
            **stats,
        }

    @torch.no_grad()
    def evaluate(self, prompts: PromptBatch, *, seed: int = 1234) -> dict[str, Any]:
        """Sampled responses on ``prompts``: their reward, KL to the reference, the samples."""
        seq, mask = self.sample(prompts, torch.Generator().manual_seed(seed))
        p = self.task.prompt_len
        logp = response_logprobs(self.policy.model, seq, p)
        ref_logp = response_logprobs(self.reference, seq, p)
        return {
            "reward": float(self.reward_fn(seq, mask, prompts).mean()),
            "kl": sequence_kl(logp, ref_logp, mask),
            "seq": seq, "mask": mask, "ref_logp": ref_logp,
        }  # fmt: skip

    def validate(self, loop: Loop) -> dict[str, float]:
        ev = self.evaluate(self.eval_prompts)
        return {"val_reward": ev["reward"], "val_kl": ev["kl"]}
