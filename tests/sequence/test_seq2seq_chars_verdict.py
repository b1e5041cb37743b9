"""``seq2seq-chars``'s claim is judged over >= 3 training seeds with its 0.1 margin (issue 21)."""

from __future__ import annotations

import pytest

from replearn.experiments.sequence.seq2seq_chars import CLAIMS, Config


def metrics(attention: list[float], plain: list[float]) -> dict:
    """The final metrics the verdict reads (the names ``run`` writes), per-seed values given."""
    m = {"task": "reverse", "long_from": 15, "n_long_test": 347}
    m |= {"attention_parameters": 281333, "plain_parameters": 176117}
    for name, values in (("attention", attention), ("plain", plain)):
        mean = sum(values) / len(values)
        m[f"{name}_greedy_long_exact_seeds"] = values
        m |= {f"{name}_{k}": mean for k in ("greedy_long_exact", "greedy_exact", "beam_exact")}
    return m


def test_attention_claim_needs_the_lower_bound_above_the_margin() -> None:
    verdict = CLAIMS[0].verdict
    # gaps +0.99, +0.98, +0.995: mean 0.988, SE 0.0044 over 3 seeds; bound 0.976 > 0.1
    holds, evidence = verdict(metrics([1.0, 0.99, 1.0], [0.01, 0.01, 0.005]))
    assert holds and "over 3 seeds, paired-t" in evidence and "margin +0.1" in evidence
    assert "347 test sources of 15+ chars" in evidence
    # mean gap 0.3 but seeds disagree (+0.8, 0.0, +0.1): bound -0.44 < 0.1
    assert verdict(metrics([0.9, 0.5, 0.6], [0.1, 0.5, 0.5]))[0] is False
    # every seed above 0.1 but the mean gap 0.11 with spread 0.01: bound 0.093 < 0.1
    assert verdict(metrics([0.60, 0.61, 0.62], [0.50, 0.50, 0.50]))[0] is False


def test_attention_claim_with_one_seed_is_not_measured() -> None:
    holds, evidence = CLAIMS[0].verdict(metrics([1.0], [0.0]))
    assert holds is False and evidence.startswith("not measured: needs >= 3 seeds")


def test_config_defaults_to_three_seeds_and_rejects_none() -> None:
    assert Config().n_seeds == 3
    with pytest.raises(ValueError, match="n_seeds"):
        Config(n_seeds=0)
