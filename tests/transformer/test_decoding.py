"""Decoding: top-k / top-p kept sets, sampling frequencies, beam search vs greedy and exhaustive."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from replearn.transformer.attention import KVCache
from replearn.transformer.decoding import (
    beam_search,
    greedy_next,
    reorder_cache,
    sample,
    sample_next,
    temperature_probs,
    top_k_filter,
    top_p_filter,
)


def kept(filtered):
    return set(torch.nonzero(torch.isfinite(filtered)).flatten().tolist())


def test_top_k_keeps_the_k_largest_and_ties():
    z = torch.tensor([1.0, 3.0, 2.0, 0.5, 3.0])
    assert kept(top_k_filter(z, 1)) == {1, 4}  # a tie with the 1st is kept
    assert kept(top_k_filter(z, 3)) == {1, 2, 4}
    assert kept(top_k_filter(z, 5)) == kept(top_k_filter(z, 99)) == set(range(5))
    assert torch.equal(top_k_filter(z, 3)[[1, 2, 4]], z[[1, 2, 4]])  # values unchanged
    with pytest.raises(ValueError):
        top_k_filter(z, 0)


@pytest.mark.parametrize(
    "p,expected",
    [
        (1e-6, {2}),
        (0.49, {2}),
        (0.51, {2, 0}),
        (0.79, {2, 0}),
        (0.81, {2, 0, 3}),
        (1.0, {0, 1, 2, 3}),
    ],
)
def test_top_p_keeps_the_smallest_nucleus(p, expected):
    probs = torch.tensor([0.3, 0.05, 0.5, 0.15], dtype=torch.float64)  # sorted: 2, 0, 3, 1
    assert kept(top_p_filter(probs.log(), p)) == expected
    # The kept mass reaches p, and dropping the least likely kept token falls below p.
    mass = probs[sorted(expected)].sum().item()
    assert mass >= p - 1e-12 and mass - probs[sorted(expected)].min().item() < p


def test_top_p_always_keeps_one_token_and_works_per_row():
    z = torch.tensor([[10.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    out = top_p_filter(z, 0.5)
    assert kept(out[0]) == {0}
    assert len(kept(out[1])) == 2  # uniform thirds: 1/3 < 0.5, so two are needed
    with pytest.raises(ValueError):
        top_p_filter(z, 0.0)


def test_temperature_sharpens_and_flattens():
    z = torch.tensor([2.0, 1.0, 0.0, -1.0], dtype=torch.float64)

    def entropy(t):
        p = temperature_probs(z, t)
        return -(p * p.log()).sum().item()

    hs = [entropy(t) for t in (0.1, 0.5, 1.0, 2.0, 10.0)]
    assert all(a < b for a, b in itertools.pairwise(hs))
    assert hs[0] < 0.01 and math.log(4) - hs[-1] < 0.02
    assert torch.equal(sample_next(z[None], temperature=0), greedy_next(z[None]))


def test_sampling_frequencies_match_the_filtered_distribution():
    g = torch.Generator().manual_seed(0)
    probs = torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64)
    z = probs.log()[None].expand(20000, 4)
    x = sample_next(z, temperature=1.0, top_k=3, generator=g)
    freq = torch.bincount(x, minlength=4).double() / 20000
    expected = torch.tensor([4, 3, 2, 0], dtype=torch.float64) / 9
    torch.testing.assert_close(freq, expected, rtol=0, atol=0.015)  # ~4 sigma
    x = sample_next(z, temperature=0.5, top_p=0.6, generator=g)
    sharp = probs**2 / (probs**2).sum()  # T = 0.5 squares the probabilities: 16/30, 9/30, ...
    assert sharp[0] < 0.6 < sharp[:2].sum()
    freq = torch.bincount(x, minlength=4).double() / 20000
    expected = torch.tensor([16, 9, 0, 0], dtype=torch.float64) / 25
    torch.testing.assert_close(freq, expected, rtol=0, atol=0.015)
    with pytest.raises(ValueError):
        sample_next(z, temperature=-1.0)


def markov(table):
    """step_fn of a first-order Markov model: logits from the log of a transition table."""

    def step(tokens, cache):
        return table[tokens[:, -1]].log(), cache

    return step


def greedy_decode(step, prompt, n):
    tokens = prompt
    for _ in range(n):
        tokens = torch.cat([tokens, greedy_next(step(tokens, None)[0])[:, None]], dim=1)
    return tokens


def seq_logp(table, seq):
    return sum(math.log(table[a, b]) for a, b in itertools.pairwise(seq))


def test_beam_one_is_greedy():
    g = torch.Generator().manual_seed(0)
    table = torch.rand(7, 7, generator=g, dtype=torch.float64).softmax(-1)
    prompt = torch.tensor([[0], [3], [5]])
    seqs, scores = beam_search(markov(table), prompt, beam_size=1, max_new_tokens=6)
    assert torch.equal(seqs[:, 0], greedy_decode(markov(table), prompt, 6))
    for row, s in zip(seqs[:, 0].tolist(), scores[:, 0].tolist(), strict=True):
        assert s == pytest.approx(seq_logp(table, row) / 6)


def test_beam_finds_the_best_sequence_where_greedy_does_not():
    # From 0: "1" (0.6) then anything (at most 0.4), or "2" (0.4) then "3" surely.
    table = (
        torch.tensor(
            [
                [0.0, 0.6, 0.4, 0.0],
                [0.3, 0.3, 0.0, 0.4],
                [0.0, 0.0, 0.0, 1.0],
                [0.25, 0.25, 0.25, 0.25],
            ],
            dtype=torch.float64,
        )
        + 1e-12
    )
    prompt = torch.tensor([[0]])
    greedy = greedy_decode(markov(table), prompt, 2)
    assert greedy.tolist() == [[0, 1, 3]]  # probability 0.24
    seqs, _ = beam_search(markov(table), prompt, beam_size=2, max_new_tokens=2, length_penalty=0)
    assert seqs[0, 0].tolist() == [0, 2, 3]  # probability 0.4


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_full_beam_equals_exhaustive_search(length_penalty):
    g = torch.Generator().manual_seed(1)
    v, n = 3, 3
    table = torch.rand(v, v, generator=g, dtype=torch.float64).softmax(-1)
    seqs, scores = beam_search(
        markov(table), torch.tensor([[1]]), beam_size=v**n, max_new_tokens=n,
        length_penalty=length_penalty,
    )  # fmt: skip
    every = sorted(
        ((seq_logp(table, (1, *rest)) / n**length_penalty, (1, *rest))
         for rest in itertools.product(range(v), repeat=n)),
        reverse=True,
    )  # fmt: skip
    assert [tuple(s) for s in seqs[0].tolist()] == [s for _, s in every]
    torch.testing.assert_close(scores[0], torch.tensor([s for s, _ in every], dtype=torch.float64))


def test_length_penalty_switches_between_short_and_long():
    # eos = 3. From 0: eos at once (0.5), or "1" (0.5), "2" (0.9), then eos surely: 0.45.
    eos = 3
    table = torch.full((4, 4), 1e-9, dtype=torch.float64)
    table[0, 3], table[0, 1] = 0.5, 0.5
    table[1, 2], table[1, 3] = 0.9, 0.1
    table[2, 3] = 1.0
    table[3, 3] = 1.0
    prompt = torch.tensor([[0]])
    short, _ = beam_search(
        markov(table), prompt, beam_size=3, max_new_tokens=4, eos_id=eos, length_penalty=0.0
    )
    long, scores = beam_search(
        markov(table), prompt, beam_size=3, max_new_tokens=4, eos_id=eos, length_penalty=1.0
    )
    assert short[0, 0].tolist() == [0, 3, 3, 3, 3]  # log 0.5 = -0.69 beats log 0.45 = -0.80
    assert long[0, 0].tolist() == [0, 1, 2, 3, 3]  # per token: -0.80 / 3 beats -0.69 / 1
    assert scores[0, 0].item() == pytest.approx(math.log(0.45) / 3, rel=1e-6)
    assert scores[0, 1].item() == pytest.approx(math.log(0.5), rel=1e-6)


def test_beam_search_reorders_the_cache():
    g = torch.Generator().manual_seed(2)
    table = torch.rand(5, 5, generator=g, dtype=torch.float64).softmax(-1)

    def step(tokens, cache):
        history, kv = cache
        if history is not None:  # the cache follows its beam: it holds the beam's prefix
            assert torch.equal(history, tokens[:, :-1])
            assert torch.equal(kv.keys[:, 0, :, 0].long(), tokens[:, :-1])
        kv.update(tokens[:, -1:, None, None].double().transpose(1, 2), tokens[:, None, -1:, None])
        return table[tokens[:, -1]].log(), [tokens, kv]

    prompt = torch.tensor([[0], [4]]).repeat_interleave(3, dim=0)
    beam_search(step, prompt[::3], beam_size=3, max_new_tokens=5, cache=[None, KVCache()])
    assert reorder_cache({"a": torch.arange(3)}, torch.tensor([2, 0]))["a"].tolist() == [2, 0]
    with pytest.raises(TypeError):
        reorder_cache(3, torch.tensor([0]))


def test_sample_loop_stops_rows_at_eos():
    table = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]) + 1e-12
    out = sample(markov(table), torch.tensor([[0], [1]]), max_new_tokens=4, eos_id=2)
    assert out.tolist() == [[0, 1, 2, 2, 2], [1, 2, 2, 2, 2]]
    out = sample(markov(table), torch.tensor([[0]]), max_new_tokens=3, temperature=0)
    assert out.tolist() == [[0, 1, 2, 2]]
