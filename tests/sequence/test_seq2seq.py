"""Seq2Seq: additive attention, greedy and beam search, the encoder-decoder's fast paths."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from replearn.sequence.seq2seq import Seq2Seq, decoder_inputs, length_mask, sequence_nll
from replearn.sequence.seq2seq_attention import (
    AdditiveAttention,
    additive_scores,
    attention_context,
    masked_softmax,
)
from replearn.sequence.seq2seq_search import beam_search, greedy_search, length_normalised

PAD, BOS, EOS = 0, 1, 2
D = torch.float64


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# -- additive attention ---------------------------------------------------------------------
def test_additive_scores_against_a_loop_over_positions():
    g = torch.Generator().manual_seed(0)
    s, h = torch.randn(3, 5, generator=g, dtype=D), torch.randn(3, 7, 4, generator=g, dtype=D)
    w1, w2 = torch.randn(6, 5, generator=g, dtype=D), torch.randn(6, 4, generator=g, dtype=D)
    v = torch.randn(6, generator=g, dtype=D)
    e = additive_scores(s, h, w1, w2, v)
    for b in range(3):
        for j in range(7):
            expected = v @ torch.tanh(w1 @ s[b] + w2 @ h[b, j])
            torch.testing.assert_close(e[b, j], expected, rtol=0, atol=1e-12)


def test_masked_weights_sum_to_one_and_are_zero_on_padding():
    torch.manual_seed(0)
    attn = AdditiveAttention(query_size=5, key_size=4, attention_size=3).double()
    q, keys = torch.randn(3, 5, dtype=D), torch.randn(3, 6, 4, dtype=D)
    mask = length_mask(torch.tensor([6, 2, 1]), 6)
    w = attn.weights(q, keys, mask)
    torch.testing.assert_close(w.sum(-1), torch.ones(3, dtype=D), rtol=0, atol=1e-12)
    assert (w[~mask] == 0).all() and (w[mask] > 0).all()
    assert w[2, 0] == 1.0  # one real position takes all the weight
    context = attn(q, keys, mask)
    expected = torch.stack([sum(w[b, j] * keys[b, j] for j in range(6)) for b in range(3)])
    torch.testing.assert_close(context, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(attention_context(w, keys), context, rtol=0, atol=0)
    # Padding invariance: garbage in the padded keys changes nothing.
    noisy = keys.clone()
    noisy[~mask] = 1e3
    torch.testing.assert_close(attn(q, noisy, mask), context, rtol=0, atol=1e-12)
    torch.testing.assert_close(masked_softmax(torch.zeros(1, 4)), torch.full((1, 4), 0.25))
    with pytest.raises(ValueError):
        AdditiveAttention(query_size=0, key_size=4, attention_size=3)


def test_additive_attention_gradcheck():
    torch.manual_seed(0)
    attn = AdditiveAttention(query_size=3, key_size=2, attention_size=4).double()
    mask = length_mask(torch.tensor([4, 2]), 4)
    q = torch.randn(2, 3, dtype=D, requires_grad=True)
    k = torch.randn(2, 4, 2, dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(lambda q, k: attn(q, k, mask), (q, k))


# -- search ---------------------------------------------------------------------------------
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


# -- the encoder-decoder --------------------------------------------------------------------
def model(**kw) -> Seq2Seq:
    torch.manual_seed(0)
    args = dict(vocab_size=10, embed_size=5, hidden_size=6)
    return Seq2Seq(**{**args, **kw}).double().eval()


def batch():
    g = torch.Generator().manual_seed(1)
    src = torch.randint(3, 10, (4, 7), generator=g)
    lengths = torch.tensor([7, 3, 5, 3])
    src[length_mask(lengths, 7).logical_not()] = PAD
    return src, lengths, torch.randint(3, 10, (4, 5), generator=g)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("attention", [False, True])
def test_fast_paths_equal_the_step_loops(cell, attention):
    fast = model(cell=cell, attention=attention, num_layers=2)
    slow = model(cell=cell, attention=attention, num_layers=2, fast=False)
    slow.load_state_dict(fast.state_dict())
    src, lengths, tgt = batch()
    for a, b in zip(fast.encode(src, lengths), slow.encode(src, lengths), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    y_fast, y_slow = fast(src, tgt, lengths), slow(src, tgt, lengths)
    torch.testing.assert_close(y_fast, y_slow, rtol=0, atol=1e-12)
    grads = [torch.autograd.grad(m(src, tgt, lengths).sum(), m.encoder.weight_hh_l0)[0]
             for m in (fast, slow)]  # fmt: skip
    torch.testing.assert_close(*grads, rtol=0, atol=1e-10)


@pytest.mark.parametrize("attention", [False, True])
def test_padding_does_not_change_the_output(attention):
    m = model(attention=attention)
    src, lengths, tgt = batch()
    wide = F.pad(src, (0, 4), value=PAD)
    torch.testing.assert_close(m(wide, tgt, lengths), m(src, tgt, lengths), rtol=0, atol=1e-12)
    # Each example alone, unpadded, gives the same logits as in the batch.
    for i in range(4):
        alone = m(src[i : i + 1, : lengths[i]], tgt[i : i + 1])
        torch.testing.assert_close(alone, m(src, tgt, lengths)[i : i + 1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("attention", [False, True])
def test_greedy_decoding_is_teacher_forcing_on_its_own_outputs(attention):
    m = model(attention=attention)
    src, lengths, _ = batch()
    out = m.greedy_decode(src, lengths, max_len=6)
    logits = m(src, out, lengths)  # teacher-forced on the greedy outputs
    first_eos = [(row == EOS).nonzero()[:1] for row in out]
    for i, row in enumerate(out):
        end = int(first_eos[i][0]) + 1 if len(first_eos[i]) else 6
        assert torch.equal(logits[i, :end].argmax(-1), row[:end])
        assert (row[end:] == PAD).all()
    # Ratio 0: the decoder feeds itself its argmax, the same as greedy decoding.
    free = m(src, out, lengths, teacher_forcing=0.0)
    for i in range(4):
        end = int(first_eos[i][0]) + 1 if len(first_eos[i]) else 6
        torch.testing.assert_close(free[i, :end], logits[i, :end], rtol=0, atol=1e-12)
    beam1 = m.beam_decode(src, lengths, beam_width=1, max_len=6)
    assert torch.equal(beam1, out)


def test_teacher_forcing_ratio_mixes_inputs_and_loss_ignores_padding():
    m = model(attention=True)
    src, lengths, tgt = batch()
    g = torch.Generator().manual_seed(0)
    full = m(src, tgt, lengths)
    torch.testing.assert_close(m(src, tgt, lengths, teacher_forcing=1.0, generator=g), full)
    mixed = m(src, tgt, lengths, teacher_forcing=0.5, generator=g)
    assert mixed.shape == full.shape and not torch.equal(mixed, full)
    padded = F.pad(tgt, (0, 2), value=PAD)
    logits = torch.randn(4, 7, 10, dtype=D)
    torch.testing.assert_close(sequence_nll(logits, padded), sequence_nll(logits[:, :5], tgt))
    assert decoder_inputs(tgt, BOS)[:, 0].eq(BOS).all()
    assert torch.equal(decoder_inputs(tgt, BOS)[:, 1:], tgt[:, :-1])
    with pytest.raises(ValueError):
        m(src, tgt, lengths, teacher_forcing=1.5)
    with pytest.raises(ValueError):
        Seq2Seq(vocab_size=10, cell="rnn")
    with pytest.raises(ValueError):
        Seq2Seq(vocab_size=10, pad_id=1)


def test_exact_match_counts_every_target_token():
    from replearn.experiments.sequence.seq2seq_chars import exact_match

    tgt = torch.tensor([[5, 6, EOS, PAD], [5, EOS, PAD, PAD]])
    out = torch.tensor([[5, 6, EOS, PAD, PAD], [5, 7, PAD, PAD, PAD]])
    assert exact_match(out, tgt).tolist() == [True, False]
    assert exact_match(out[:, :2], tgt).tolist() == [False, False]  # EOS missing
