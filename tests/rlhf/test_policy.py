"""Policy sampling, response log-probabilities and the value head's positions."""

from __future__ import annotations

import torch

from replearn.rlhf.policy import PolicyWithValue, generate, response_logprobs
from replearn.transformer.gpt.model import GPT, GPTConfig


def _gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=16, vocab_size=6))


def test_response_logprobs_match_the_full_pass():
    model = _gpt().double()
    seq = torch.randint(0, 6, (3, 10))
    got = response_logprobs(model, seq, 4)
    full = torch.log_softmax(model(seq), -1)
    for t in range(4, 10):  # token t is predicted at position t - 1
        want = full[torch.arange(3), t - 1, seq[:, t]]
        torch.testing.assert_close(got[:, t - 4], want, rtol=1e-12, atol=1e-12)


def test_value_head_reads_the_predicting_position():
    pv = PolicyWithValue(_gpt()).double()
    with torch.no_grad():
        pv.value_head.weight.normal_()
    seq = torch.randint(0, 6, (2, 9))
    values, logp = pv(seq, 3)
    assert values.shape == logp.shape == (2, 6)
    torch.testing.assert_close(logp, response_logprobs(pv.model, seq, 3), rtol=1e-12, atol=1e-12)
    # the value of token t depends on tokens < t only: change the last token, values stay
    seq2 = seq.clone()
    seq2[:, -1] = (seq2[:, -1] + 1) % 6
    torch.testing.assert_close(pv(seq2, 3)[0], values, rtol=0, atol=0)


def test_generate_is_reproducible_and_pads_after_the_end_token():
    model = _gpt()
    prompts = torch.randint(0, 5, (8, 4))
    a, ma = generate(model, prompts, 8, eos_id=5, generator=torch.Generator().manual_seed(1))
    b, mb = generate(model, prompts, 8, eos_id=5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and torch.equal(ma, mb)
    assert a.shape == (8, 12) and ma.shape == (8, 8)
    assert torch.equal(a[:, :4], prompts)
    for row, m in zip(a[:, 4:].tolist(), ma.tolist(), strict=True):
        n = int(sum(m))
        assert all(x == 1 for x in m[:n]) and all(x == 0 for x in m[n:])
        if 5 in row:
            assert row.index(5) == n - 1 and all(x == 5 for x in row[n:])
        else:
            assert n == 8
