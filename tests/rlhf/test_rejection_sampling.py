"""Rejection sampling keeps each prompt's best candidate (and drops those below a threshold)."""

from __future__ import annotations

import pytest
import torch

from replearn.rlhf.policy import generate
from replearn.rlhf.rejection_sampling import rejection_sample
from replearn.transformer.gpt.model import GPT, GPTConfig


def test_keeps_the_best_candidate_per_prompt():
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=16, vocab_size=6))
    prompts = torch.randint(0, 5, (3, 4))

    def score(seq, mask, owner):  # reward: the number of token 2 in the response
        return ((seq[:, 4:] == 2).float() * mask).sum(1)

    seq, index, best = rejection_sample(model, prompts, score, n=5, max_new_tokens=6, eos_id=5,
                                        generator=torch.Generator().manual_seed(1))  # fmt: skip
    # the same draws, scored by hand
    all_seq, all_mask = generate(model, prompts.repeat_interleave(5, 0), 6, eos_id=5,
                                 generator=torch.Generator().manual_seed(1))  # fmt: skip
    r = score(all_seq, all_mask, None).reshape(3, 5)
    assert index.tolist() == [0, 1, 2]
    assert best.tolist() == r.max(1).values.tolist()
    for k in range(3):
        assert torch.equal(seq[k, :4], prompts[k])
        j = int(r[k].argmax())
        assert torch.equal(seq[k], all_seq[k * 5 + j])
    thr = float(r.max(1).values.max())
    seq2, index2, best2 = rejection_sample(model, prompts, score, n=5, max_new_tokens=6, eos_id=5,
                                           min_reward=thr,
                                           generator=torch.Generator().manual_seed(1))  # fmt: skip
    assert set(index2.tolist()) == {k for k in range(3) if float(r[k].max()) >= thr}
    assert (best2 >= thr).all() and seq2.shape[0] == index2.shape[0]
    with pytest.raises(ValueError):
        rejection_sample(model, prompts, score, n=0, max_new_tokens=2, eos_id=5)
