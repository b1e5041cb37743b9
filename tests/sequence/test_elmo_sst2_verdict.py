"""``elmo-sst2``'s verdict over training seeds (issue 21), on synthetic per-seed numbers.

``contextual-beats-static`` is ``replearn.experiments.stats.compare_seeds`` on the per-seed
dev accuracies (paired by seed, one-sided 95% Student-t lower bound > 0); with fewer than 3
seeds it says "not measured".
"""

from __future__ import annotations

import pytest

from replearn.experiments.sequence import elmo_sst2


def _metrics(elmo: list[float], static: list[float]) -> dict:
    return {
        "data": "sst2",
        "n_seeds": len(elmo),
        "elmo_dev_accuracy_seeds": elmo,
        "static_dev_accuracy_seeds": static,
        "elmo_dev_accuracy": sum(elmo) / len(elmo),
        "static_dev_accuracy": sum(static) / len(static),
        "elmo_test_accuracy": 0.7,
        "static_test_accuracy": 0.68,
        "bilm_val_perplexity": 150.0,
        "elmo_mix_weights": [0.3, 0.5, 0.2],
    }


def test_contextual_beats_static_needs_a_gain_beyond_the_seed_spread() -> None:
    (claim,) = elmo_sst2.CLAIMS
    holds, evidence = claim.verdict(_metrics([0.70, 0.72, 0.71], [0.68, 0.69, 0.69]))
    assert holds and "over 3 seeds" in evidence and "paired-t" in evidence
    # differences +0.002, +0.002, +0.05: mean 0.018 (the old rule's 0.01 gap), SE 0.016
    # -> lower bound 0.018 - 2.92 * 0.016 < 0: not enough evidence
    holds, evidence = claim.verdict(_metrics([0.682, 0.692, 0.74], [0.68, 0.69, 0.69]))
    assert not holds and "<= margin" in evidence
    # ELMo worse on average: fails
    assert not claim.verdict(_metrics([0.66, 0.67, 0.68], [0.68, 0.69, 0.69]))[0]


def test_one_seed_is_not_measured() -> None:
    (claim,) = elmo_sst2.CLAIMS
    holds, evidence = claim.verdict(_metrics([0.9], [0.5]))
    assert not holds and evidence == "not measured: needs >= 3 training seeds, got 1"
    assert elmo_sst2.tiny().n_seeds == 1
    assert elmo_sst2.Config().n_seeds == elmo_sst2.quick().n_seeds == 3
    with pytest.raises(ValueError, match="n_seeds"):
        elmo_sst2.Config(n_seeds=0)
