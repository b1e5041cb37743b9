"""SFT loss on response tokens only, checked token by token (float64)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from replearn.rlhf.sft import response_mask, sft_loss, token_logprobs


def test_token_logprobs_match_cross_entropy():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 7, generator=g, dtype=torch.float64)
    targets = torch.randint(0, 7, (3, 5), generator=g)
    ref = -F.cross_entropy(logits.reshape(-1, 7), targets.reshape(-1), reduction="none")
    torch.testing.assert_close(
        token_logprobs(logits, targets), ref.reshape(3, 5), rtol=0, atol=1e-12
    )


def test_response_mask_token_by_token():
    eos = 9
    seq = torch.tensor([[1, 2, 3, 4, 5, 9, 9, 9], [1, 2, 3, 9, 4, 5, 6, 7]])
    mask = response_mask(seq, 3, eos_id=eos)
    # targets are seq[:, 1:] at positions 1..7; response starts at position 3
    want0 = [0, 0, 1, 1, 1, 0, 0]  # 4, 5, then the first eos counts, later ones do not
    want1 = [0, 0, 1, 0, 0, 0, 0]  # the response is the eos token alone
    assert mask.tolist() == [want0, want1]
    per_row = response_mask(seq, torch.tensor([2, 3]))
    assert per_row.tolist() == [[0, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1]]


@pytest.mark.parametrize("reduction", ["token", "sequence"])
def test_sft_loss_matches_a_loop_over_tokens(reduction):
    g = torch.Generator().manual_seed(1)
    b, t, v, p = 4, 9, 6, 4
    seq = torch.randint(0, v - 1, (b, t), generator=g)
    seq[1, 6] = v - 1  # an end token mid-response: the rest of row 1 is padding
    logits = torch.randn(b, t - 1, v, generator=g, dtype=torch.float64)
    mask = response_mask(seq, p, eos_id=v - 1)
    got = sft_loss(logits, seq[:, 1:], mask, reduction=reduction)
    total, count, per_seq = 0.0, 0, []
    for i in range(b):
        s = 0.0
        for pos in range(p, t):  # target position in seq
            logp = torch.log_softmax(logits[i, pos - 1], -1)[seq[i, pos]]
            s += float(logp)
            count += 1
            if seq[i, pos] == v - 1:
                break
        total += s
        per_seq.append(s)
    want = -total / count if reduction == "token" else -sum(per_seq) / b
    assert got.item() == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_prompt_and_padding_do_not_matter():
    g = torch.Generator().manual_seed(2)
    seq = torch.randint(0, 5, (2, 8), generator=g)
    seq[:, 6] = 5  # end token at position 6
    logits = torch.randn(2, 7, 6, generator=g, dtype=torch.float64, requires_grad=True)
    mask = response_mask(seq, 3, eos_id=5)
    loss = sft_loss(logits, seq[:, 1:], mask)
    loss.backward()
    grad = logits.grad.clone()
    assert grad[:, :2].abs().max() == 0  # prompt targets (positions 1, 2)
    assert grad[:, 6:].abs().max() == 0  # after the end token
    seq2 = seq.clone()
    seq2[:, 1:3] = (seq2[:, 1:3] + 1) % 5  # other prompt targets
    seq2[:, 7] = (seq2[:, 7] + 1) % 5  # other padding
    loss2 = sft_loss(logits.detach(), seq2[:, 1:], response_mask(seq2, 3, eos_id=5))
    assert loss2.item() == pytest.approx(loss.item(), abs=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="reduction"):
        sft_loss(torch.zeros(1, 2, 3), torch.zeros(1, 2, dtype=torch.long), torch.ones(1, 2),
                 reduction="mean")  # fmt: skip
    with pytest.raises(ValueError, match="mask"):
        sft_loss(torch.zeros(1, 2, 3), torch.zeros(1, 2, dtype=torch.long), torch.ones(1, 3))
