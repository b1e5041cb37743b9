"""Engine tasks of the supervised stages: SFT masks the prompt, the reward-model task's metrics."""

from __future__ import annotations

import pytest
import torch

from replearn.rlhf.reward_model import RewardModel, bradley_terry_loss
from replearn.rlhf.sft import response_mask, sft_loss
from replearn.rlhf.trainers import LanguageModelTask, RewardModelTask, SFTTask
from replearn.transformer.gpt.model import GPT, GPTConfig, lm_loss


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


def test_dpo_task_matches_the_loss_on_sequence_logprobs():
    from replearn.experiments.rlhf.common import frozen_copy
    from replearn.rlhf.dpo import dpo_loss
    from replearn.rlhf.trainers import DPOTask, sequence_logprob

    policy = _gpt().double()
    ref = frozen_copy(policy)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.05 * torch.randn_like(p))
    win, lose = torch.randint(0, 6, (3, 9)), torch.randint(0, 6, (3, 9))
    win[0, 6] = 6
    loss, metrics = DPOTask(policy, ref, prompt_len=4, eos_id=6, beta=0.5).training_step(
        (win, lose)
    )
    full = torch.log_softmax(policy(win[:1, :-1]), -1)[0].detach()
    by_hand = sum(float(full[t - 1, win[0, t]]) for t in range(4, 7))  # up to the end token
    got = float(sequence_logprob(policy, win, 4, 6)[0].detach())
    assert got == pytest.approx(by_hand, rel=1e-12)
    want, _ = dpo_loss(sequence_logprob(policy, win, 4, 6), sequence_logprob(policy, lose, 4, 6),
                       sequence_logprob(ref, win, 4, 6), sequence_logprob(ref, lose, 4, 6),
                       beta=0.5)  # fmt: skip
    torch.testing.assert_close(loss, want)
    assert set(metrics) == {"accuracy"}
