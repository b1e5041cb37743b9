"""Greedy and beam search: width 1 == greedy, wide beam == exhaustive, beam beats greedy."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from replearn.sequence.seq2seq.search import beam_search, greedy_search, length_normalised

PAD, BOS, EOS = 0, 1, 2
D = torch.float64


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def table_step(table: torch.Tensor):
    """A step function whose logits depend on (previous token, time): table (T, V, V)."""

    def step(prev, state):
        (t,) = state
        return table[t, prev], (t + 1,)

    return step


def random_table(seed: int, t: int, v: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    table = torch.randn(t, v, v, generator=g, dtype=D) * 2
    table[..., [PAD, BOS]] = float("-inf")  # never generated
    return table


def exhaustive(table: torch.Tensor, max_len: int, alpha: float) -> tuple[list[int], float]:
    """Best output over all token strings of length <= max_len (ending at EOS or at max_len)."""
    logp = F.log_softmax(table, dim=-1)
    v = table.shape[-1]
    best, best_key = None, -math.inf
    for n in range(1, max_len + 1):
        for seq in itertools.product(range(v), repeat=n):
            if EOS in seq[:-1] or (n < max_len and seq[-1] != EOS):
                continue
            prev, score = BOS, 0.0
            for t, tok in enumerate(seq):
                score += float(logp[t, prev, tok])
                prev = tok
            key = score / n**alpha
            if key > best_key:
                best, best_key = list(seq) + [PAD] * (max_len - n), key
    return best, best_key


@pytest.mark.parametrize("alpha", [0.0, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wide_beam_equals_exhaustive_search(seed, alpha):
    v, max_len = 5, 3
    table = random_table(seed, max_len, v)
    state = (torch.zeros(1, dtype=torch.long),)
    tokens, score = beam_search(
        table_step(table), state, batch_size=1, bos_id=BOS, eos_id=EOS, max_len=max_len,
        beam_width=v**max_len, length_penalty=alpha, pad_id=PAD,
    )  # fmt: skip
    best, best_key = exhaustive(table, max_len, alpha)
    assert tokens[0].tolist() == best
    n = int((tokens[0] != PAD).sum())
    assert math.isclose(float(score[0]) / n**alpha, best_key, rel_tol=1e-9)


def test_beam_width_one_is_greedy():
    for seed in range(4):
        table = random_table(seed, 6, 6)
        state = (torch.zeros(3, dtype=torch.long),)
        kw = dict(batch_size=3, bos_id=BOS, eos_id=EOS, max_len=6, pad_id=PAD)
        g_tok, g_score = greedy_search(table_step(table), state, **kw)
        b_tok, b_score = beam_search(table_step(table), state, beam_width=1, **kw)
        assert torch.equal(g_tok, b_tok)
        torch.testing.assert_close(g_score, b_score, rtol=0, atol=1e-12)


def test_beam_finds_the_best_output_where_greedy_does_not():
    # Tokens: PAD BOS EOS a b.  p(a) = .6, p(b) = .4; after a the next token is nearly
    # uniform (p(EOS) = .4), after b it is EOS with .9: greedy "a EOS" has .24, "b EOS" .36.
    probs = torch.zeros(2, 5, 5, dtype=D)
    probs[0, BOS, 3:] = torch.tensor([0.6, 0.4], dtype=D)
    probs[1, 3, 2:] = torch.tensor([0.4, 0.3, 0.3], dtype=D)
    probs[1, 4, 2:] = torch.tensor([0.9, 0.05, 0.05], dtype=D)
    probs[1, [PAD, BOS, EOS], EOS] = 1.0
    step = table_step(probs.log())
    kw = dict(batch_size=1, bos_id=BOS, eos_id=EOS, max_len=2, pad_id=PAD)
    state = (torch.zeros(1, dtype=torch.long),)
    greedy, g_score = greedy_search(step, state, **kw)
    beam, b_score = beam_search(step, state, beam_width=2, **kw)
    assert greedy[0].tolist() == [3, EOS] and math.isclose(float(g_score.exp()), 0.24)
    assert beam[0].tolist() == [4, EOS] and math.isclose(float(b_score.exp()), 0.36)


def test_length_normalisation():
    scores, lengths = torch.tensor([-2.0, -3.0]), torch.tensor([1, 3])
    torch.testing.assert_close(length_normalised(scores, lengths, 0.0), scores)
    torch.testing.assert_close(length_normalised(scores, lengths, 1.0), torch.tensor([-2.0, -1.0]))
