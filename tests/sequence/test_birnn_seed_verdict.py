"""``birnn-labelling``'s claim is judged over >= 3 training seeds with its 0.1 margin."""

from __future__ import annotations

import pytest

from replearn.experiments.sequence.birnn_labelling import CLAIMS, Config


def test_bidirectional_claim_needs_the_lower_bound_above_the_margin() -> None:
    verdict = CLAIMS[0].verdict
    m = {
        "task": "window-max",
        "k": 3,
        "bidirectional_test_accuracy": 0.99,
        "unidirectional_test_accuracy": 0.70,
        "bidirectional_parameters": 13448,
        "unidirectional_parameters": 13660,
        "unidirectional_hidden": 49,
        "chance_accuracy": 0.57,
        "bidirectional_test_accuracy_seeds": [0.998, 0.99, 0.985],
        "unidirectional_test_accuracy_seeds": [0.701, 0.69, 0.71],
    }
    holds, evidence = verdict(m)
    assert holds and "over 3 seeds" in evidence and "margin +0.1" in evidence
    # a mean gap of 0.15 with a spread of 0.1 between seeds: bound below the 0.1 margin
    m["bidirectional_test_accuracy_seeds"] = [0.80, 0.95, 0.80]
    assert not verdict(m)[0]
    with pytest.raises(ValueError, match=">= 3"):
        Config(seeds=2)
