"""Win rate, distinct-n, reference perplexity and sequence KL by hand."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.rlhf.evaluation import distinct_n, reference_perplexity, sequence_kl, win_rate


def test_win_rate_counts_ties_as_half():
    assert (
        win_rate(torch.tensor([1.0, 2.0, 3.0, 0.0]), torch.tensor([0.0, 2.0, 4.0, -1.0])) == 0.625
    )
    with pytest.raises(ValueError):
        win_rate(torch.zeros(2), torch.zeros(3))


def test_distinct_n():
    assert distinct_n(["a b a b", "a b"], 1) == pytest.approx(2 / 6)
    assert distinct_n(["a b a b", "a b"], 2) == pytest.approx(2 / 4)
    assert distinct_n(["abab"], 2, unit="char") == pytest.approx(2 / 3)
    assert distinct_n([""], 2) == 0.0


def test_perplexity_and_kl():
    ref = torch.log(torch.tensor([[0.5, 0.25, 0.1], [0.5, 0.5, 0.5]], dtype=torch.float64))
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]], dtype=torch.float64)
    assert reference_perplexity(ref, mask) == pytest.approx(
        math.exp(-math.log(0.5 * 0.25 * 0.5) / 3)
    )
    logp = torch.zeros(2, 3, dtype=torch.float64)
    assert sequence_kl(logp, ref, mask) == pytest.approx(
        (-math.log(0.5) - math.log(0.25) - math.log(0.5)) / 2
    )


def test_expected_calibration_error_by_hand():
    from replearn.rlhf.evaluation import expected_calibration_error

    p = torch.tensor([0.05, 0.05, 0.95, 0.95, 0.55])
    y = torch.tensor([0, 1, 1, 1, 1])
    # bins: [0, .1): |0.5 - 0.05| x 2; [.9, 1]: |1 - .95| x 2; [.5, .6): |1 - .55| x 1
    want = (2 * 0.45 + 2 * 0.05 + 0.45) / 5
    assert expected_calibration_error(p, y) == pytest.approx(want, abs=1e-6)
    assert expected_calibration_error(torch.full((4,), 0.5), torch.tensor([0, 1, 0, 1])) == 0.0
