"""``char-lstm``'s claim is judged over >= 3 training seeds: below the unigram on every seed and
a one-sided Student-t bound of the gap above 0 (issue 21). Fabricated metrics, no training."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.experiments.sequence.char_lstm import (
    CLAIMS,
    Config,
    beats_unigram_verdict,
    unigram_cross_entropy,
)


def metrics(losses: list[float], unigram: float = 3.3) -> dict:
    """The final metrics the verdict reads (the names ``run`` writes)."""
    return {
        "val_loss_nats_per_seed": losses,
        "val_loss_nats": sum(losses) / len(losses),
        "unigram_val_nats": unigram,
        "uniform_nats": math.log(65),
        "train_steps": 1500,
        "train_chars": 1500 * 64 * 32,
    }


def test_claim_uses_the_seed_verdict() -> None:
    assert [c.id for c in CLAIMS] == ["char-lstm-beats-unigram"]
    assert CLAIMS[0].verdict is beats_unigram_verdict


def test_holds_below_the_unigram_on_every_seed_with_a_positive_bound() -> None:
    # gaps 1.6, 1.5, 1.55: mean 1.55, SE 0.02887 over 3 seeds, t(0.95, 2) = 2.92 -> bound 1.466
    holds, evidence = beats_unigram_verdict(metrics([1.7, 1.8, 1.75]))
    assert holds is True
    assert "over 3 seeds, paired-t" in evidence and "unigram - LSTM = +1.55 " in evidence
    assert "+1.466" in evidence and "below the unigram on 3/3 seeds" in evidence


def test_fails_when_one_seed_is_not_below_the_unigram() -> None:
    # mean gap +0.9 with a bound above 0 would not be enough: seed 3 sits above the unigram
    holds, evidence = beats_unigram_verdict(metrics([1.7, 1.8, 1.7, 1.7, 3.4]))
    assert holds is False and "below the unigram on 4/5 seeds" in evidence


def test_fails_when_the_gap_is_below_its_spread() -> None:
    # below on every seed, but gaps 0.01, 0.01, 1.5: mean 0.507, SE 0.497, bound -0.94 <= 0
    holds, evidence = beats_unigram_verdict(metrics([3.29, 3.29, 1.8]))
    assert holds is False and "<= margin" in evidence


def test_fewer_than_three_seeds_is_not_measured() -> None:
    holds, evidence = beats_unigram_verdict(metrics([1.7, 1.8]))
    assert holds is False and evidence.startswith("not measured: needs >= 3 training seeds")


def test_unigram_cross_entropy_is_the_smoothed_closed_form() -> None:
    train = torch.tensor([0, 0, 0, 1])  # counts + 1: 4, 2, 1 over 7 (vocab 3)
    val = torch.tensor([0, 1, 2])
    expected = -(math.log(4 / 7) + math.log(2 / 7) + math.log(1 / 7)) / 3
    assert unigram_cross_entropy(train, val, 3) == pytest.approx(expected, rel=1e-12)


def test_config_needs_a_seed() -> None:
    with pytest.raises(ValueError, match="seeds"):
        Config(seeds=0)
