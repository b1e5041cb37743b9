"""PPO-RLHF trainer through the engine: updates, KL controller, declared state."""

from __future__ import annotations

import torch

from replearn.engine import RunContext, fit
from replearn.experiments.rlhf.common import engine, frozen_copy
from replearn.rlhf.kl import AdaptiveKLController
from replearn.rlhf.policy import PolicyWithValue
from replearn.rlhf.ppo_trainer import PPOTask
from replearn.rlhf.tasks import SentimentTask
from replearn.transformer.gpt.model import GPT, GPTConfig


def _setup(beta=0.1, adaptive=False):
    task = SentimentTask(response_chars=6)
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=24,
                        vocab_size=task.vocab_size))  # fmt: skip
    target = task.tokenizer.encode("g")[0]

    def reward_fn(seq, mask, prompts):  # reward: how many 'g' characters in the response
        return ((seq[:, task.prompt_len :] == target).float() * mask).sum(1)

    ctl = AdaptiveKLController(beta, target=1.0, horizon=100) if adaptive else None
    ppo = PPOTask(PolicyWithValue(gpt), frozen_copy(gpt), task, reward_fn,
                  task.prompts(8, torch.Generator().manual_seed(3)), kl_controller=ctl,
                  prompts_per_step=8, minibatches=2, seed=0)  # fmt: skip
    return ppo


def test_ppo_updates_through_the_engine(tmp_path):
    ppo = _setup(adaptive=True)
    before = [p.clone() for p in ppo.policy.parameters()]
    opt = torch.optim.AdamW(ppo.policy.parameters(), lr=1e-2)
    loop = fit(ppo, opt, None, cfg=engine(3, 1, log_every=1), ctx=RunContext(out=tmp_path))
    rows = [h for h in loop.history if "train_reward" in h]
    assert len(rows) == 3
    assert {"train_kl", "train_beta", "train_value_loss", "train_clip_fraction"} <= set(rows[0])
    assert abs(rows[0]["train_beta"] - 0.1) < 1e-6 and abs(rows[1]["train_beta"] - 0.1) > 1e-6
    assert any("val_reward" in h for h in loop.history)
    assert any(not torch.equal(a, b) for a, b in zip(before, ppo.policy.parameters(), strict=True))
    assert all(not p.requires_grad for p in ppo.reference.parameters())


def test_generator_and_beta_are_declared_state():
    ppo = _setup(adaptive=True)
    ppo.kl.update(5.0, 50)
    ppo.task.prompts(2, ppo.generator)
    other = _setup(adaptive=True)
    other.load_state_dict(ppo.state_dict())
    assert other.kl.beta == ppo.kl.beta
    assert torch.equal(other.generator.get_state(), ppo.generator.get_state())
