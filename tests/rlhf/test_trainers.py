"""Engine tasks of the supervised stages: SFT masks the prompt, the reward-model task's metrics."""

from __future__ import annotations

import torch

from replearn.rlhf.reward_model import RewardModel, bradley_terry_loss
from replearn.rlhf.sft import response_mask, sft_loss
from replearn.rlhf.trainers import LanguageModelTask, RewardModelTask, SFTTask
from replearn.transformer.gpt import GPT, GPTConfig, lm_loss


def _gpt():
    torch.manual_seed(0)
    return GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=12, vocab_size=7))


def test_sft_task_is_the_masked_loss():
    model = _gpt()
    seq = torch.randint(0, 6, (4, 10))
    seq[:, 7] = 6
    loss, _ = SFTTask(model, prompt_len=4, eos_id=6).training_step((seq,))
    want = sft_loss(model(seq[:, :-1]), seq[:, 1:], response_mask(seq, 4, eos_id=6))
    torch.testing.assert_close(loss, want)
    x = torch.randint(0, 7, (2, 12))
    torch.testing.assert_close(LanguageModelTask(model).training_step((x, x))[0],
                               lm_loss(model(x), x))  # fmt: skip


def test_reward_model_task():
    rm = RewardModel(_gpt(), tau=2.0)
    win, lose = torch.randint(0, 7, (3, 8)), torch.randint(0, 7, (3, 8))
    lw, ll = torch.tensor([7, 5, 3]), torch.tensor([2, 7, 6])
    loss, metrics = RewardModelTask(rm, l2=0.1).training_step((win, lose, lw, ll))
    want = bradley_terry_loss(rm(win, lw), rm(lose, ll), 2.0, l2=0.1)
    torch.testing.assert_close(loss, want)
    assert set(metrics) == {"accuracy", "tau"}
    assert abs(float(metrics["tau"]) - 2.0) < 1e-6
