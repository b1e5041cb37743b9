"""GRPO trainer through the engine: one update per step, reference frozen, state declared."""

from __future__ import annotations

import torch

from replearn.engine import RunContext, fit
from replearn.experiments.rlhf.common import engine, frozen_copy
from replearn.rlhf.grpo_trainer import GRPOTask
from replearn.rlhf.tasks import ArithmeticTask
from replearn.transformer.gpt.model import GPT, GPTConfig


def _setup(seed=0):
    task = ArithmeticTask(ndigits=1)
    torch.manual_seed(seed)
    model = GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=16,
                          vocab_size=task.vocab_size))  # fmt: skip
    prompts = task.prompts(8, torch.Generator().manual_seed(5))
    grpo = GRPOTask(model, frozen_copy(model), task, prompts, prompts_per_step=2, group_size=4,
                    seed=seed)  # fmt: skip
    return task, model, grpo


def test_grpo_steps_through_the_engine(tmp_path):
    _, model, grpo = _setup()
    ref_before = [p.clone() for p in grpo.reference.parameters()]
    pol_before = [p.clone() for p in model.parameters()]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    loop = fit(grpo, opt, None, cfg=engine(3, 1, log_every=1), ctx=RunContext(out=tmp_path))
    rows = [h for h in loop.history if "train_reward" in h]
    assert len(rows) == 3
    assert {"train_kl", "train_accuracy", "train_response_length"} <= set(rows[0])
    assert any("val_accuracy" in h for h in loop.history)
    assert all(torch.equal(a, b) for a, b in zip(ref_before, grpo.reference.parameters(),
                                                 strict=True))  # fmt: skip
    assert any(not torch.equal(a, b) for a, b in zip(pol_before, model.parameters(), strict=True))


def test_sampling_state_is_declared():
    task, _, grpo = _setup()
    grpo.task.prompts(3, grpo.generator)  # move the stream
    state = grpo.state_dict()
    _, _, other = _setup()
    other.load_state_dict(state)
    a = task.prompts(4, grpo.generator).ids
    b = task.prompts(4, other.generator).ids
    assert torch.equal(a, b)
    ev1, ev2 = grpo.evaluate(grpo.eval_prompts), grpo.evaluate(grpo.eval_prompts)
    assert ev1 == ev2  # evaluation uses its own generator
