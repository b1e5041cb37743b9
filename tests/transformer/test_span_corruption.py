"""Span corruption: round trip, Eq. (1) counts, sampler statistics, determinism."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from replearn.transformer.t5.span_corruption import (
    corrupt_spans,
    noise_span_counts,
    random_composition,
    random_spans_noise_mask,
    reconstruct,
    sentinel_ids,
    span_corruption,
    span_lengths,
)

SENTINELS = sentinel_ids(1000, 200)


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: one intra-op thread (a busy machine makes thread syncs costly)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 300),
    st.floats(0.02, 0.6),
    st.floats(1.0, 8.0),
    st.integers(0, 2**31 - 1),
)
def test_input_and_target_reconstruct_the_original(
    length: int, density: float, mu: float, seed: int
) -> None:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, 800, (length,), generator=g)
    inputs, targets = span_corruption(tokens, SENTINELS, noise_density=density,
                                      mean_noise_span_length=mu, generator=g)  # fmt: skip
    n_noise, k = noise_span_counts(length, density, mu)
    assert inputs.shape == (length - n_noise + k,) and targets.shape == (n_noise + k + 1,)
    # Eq. (2): sentinels S_0..S_{k-1} in the input, S_0..S_k in the target, in order
    assert [t for t in inputs.tolist() if t in SENTINELS] == SENTINELS[:k]
    assert [t for t in targets.tolist() if t in SENTINELS] == SENTINELS[: k + 1]
    assert targets[0] == SENTINELS[0] and targets[-1] == SENTINELS[k]
    assert torch.equal(reconstruct(inputs, targets, SENTINELS), tokens)


def test_paper_example() -> None:
    words = ["Thank", "you", "for", "inviting", "me", "to", "your", "party", "last", "week", "."]
    mask = torch.zeros(len(words), dtype=torch.bool)
    mask[[2, 3, 8]] = True  # "for inviting", "last" (Fig. 2)
    inputs, targets = corrupt_spans(torch.arange(len(words)), mask, [100, 101, 102])
    name = dict(enumerate(words)) | {100: "<X>", 101: "<Y>", 102: "<Z>"}
    assert " ".join(name[t] for t in inputs.tolist()) == "Thank you <X> me to your party <Y> week ."
    assert " ".join(name[t] for t in targets.tolist()) == "<X> for inviting <Y> last <Z>"


def test_counts_of_eq_1() -> None:
    assert noise_span_counts(100) == (15, 5)
    assert noise_span_counts(512) == (77, 26)  # round(76.8), round(25.67)
    assert noise_span_counts(2) == (1, 1)
    for length in range(2, 400):
        n, k = noise_span_counts(length)
        assert abs(n - 0.15 * length) <= 0.5 or n in (1, length - 1)
        mask = random_spans_noise_mask(length, generator=torch.Generator().manual_seed(length))
        assert int(mask.sum()) == n and len(span_lengths(mask)) == k


def test_fraction_and_mean_span_length_on_average() -> None:
    """Over n draws of random lengths: dropped fraction ~ r = 0.15, mean span length ~ μ = 3.

    Eq. (1) rounds: each draw's dropped count is within 1/2 token of r L and its span count
    within 1/2 of n_noise / μ, so the span mean is within μ / (2 k) of μ; pooled over the
    draws, the bounds are those of the worst (shortest) draw.
    """
    g = torch.Generator().manual_seed(0)
    n, lo = 1000, 100
    dropped = total = spans = 0
    for _ in range(n):
        length = int(torch.randint(lo, 1000, (1,), generator=g))
        lengths = span_lengths(random_spans_noise_mask(length, generator=g))
        dropped, total, spans = dropped + sum(lengths), total + length, spans + len(lengths)
    assert abs(dropped / total - 0.15) <= 0.5 * n / total
    k_min = noise_span_counts(lo)[1]
    assert abs(dropped / spans - 3.0) <= 3.0 / (2 * k_min)
    assert abs(dropped / total - 0.15) < 0.002 and abs(dropped / spans - 3.0) < 0.05  # measured


def test_sampler_statistics_match_the_compositions() -> None:
    """L = 100: 15 dropped tokens in 5 spans; uniform compositions give exact expectations."""
    g = torch.Generator().manual_seed(1)
    n = 2000
    first_span, first_masked, last_masked = [], 0, 0
    for _ in range(n):
        mask = random_spans_noise_mask(100, generator=g)
        first_span.append(span_lengths(mask)[0])
        first_masked += bool(mask[0])
        last_masked += bool(mask[-1])
    spans = torch.tensor(first_span, dtype=torch.float64)
    # E[one part of a uniform composition of 15 into 5] = 3; 5 standard errors
    assert abs(spans.mean().item() - 3.0) < 5 * spans.std().item() / math.sqrt(n)
    assert spans.std() > 0.5  # spans really vary
    # the outer gap is empty iff the first part of a composition of 85 + 2 into 6 is 1:
    # probability (6 - 1) / (87 - 1)
    p = 5 / 86
    for count in (first_masked, last_masked):
        assert abs(count / n - p) < 5 * math.sqrt(p * (1 - p) / n)


def test_random_composition_is_uniform() -> None:
    g = torch.Generator().manual_seed(2)
    n = 3000
    counts = Counter(tuple(random_composition(5, 3, g).tolist()) for _ in range(n))
    assert len(counts) == 6  # C(4, 2) compositions of 5 into 3 positive parts
    for comp, c in counts.items():
        assert sum(comp) == 5 and min(comp) >= 1
        assert abs(c / n - 1 / 6) < 5 * math.sqrt((1 / 6) * (5 / 6) / n)


def test_seeded_generator_is_reproducible() -> None:
    tokens = torch.arange(200)

    def run(seed: int):
        return span_corruption(tokens, SENTINELS, generator=torch.Generator().manual_seed(seed))

    a, b, c = run(3), run(3), run(4)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])


def test_errors() -> None:
    with pytest.raises(ValueError, match="sentinel"):
        span_corruption(torch.tensor([1, 2, 999, 4]), SENTINELS)
    with pytest.raises(ValueError, match="sentinels"):
        span_corruption(torch.arange(100), [999, 998])
    with pytest.raises(ValueError, match="at least 2"):
        span_corruption(torch.arange(1), SENTINELS)
    with pytest.raises(ValueError, match="noise_density"):
        noise_span_counts(10, 1.5)
    assert sentinel_ids(10, 3) == [9, 8, 7]
