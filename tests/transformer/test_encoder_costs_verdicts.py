"""``encoder-costs``' timing verdicts read 95% intervals of paired time ratios (hand-made metrics).

``distilbert-faster`` needs the whole interval of t(6 layers) / t(12 layers) below 0.65;
``elmo-slower-on-long-sequences`` needs ELMo's ratio over the transformer above 1 at the longest
length *and* the growth of that ratio between adjacent lengths above 1; no interval (fewer than
6 rounds) fails both.
"""

from __future__ import annotations

import pytest

from replearn.experiments.stats import time_ratio
from replearn.experiments.transformer.encoder_costs import CLAIMS, Config, ratio_growth, timings


def _verdict(claim_id: str):
    return next(c for c in CLAIMS if c.id == claim_id).verdict


def _ratio(r: float, lo: float | None, hi: float | None, rounds: int = 15) -> dict:
    return {"label_a": "a", "label_b": "b", "ratio": r, "lo": lo, "hi": hi, "rounds": rounds,
            "t_a": r * 0.1, "t_b": 0.1}  # fmt: skip


def _growth(r: float, lo: float | None, hi: float | None) -> dict:
    return {"ratio": r, "lo": lo, "hi": hi, "rounds": 15}


BASE = {"batch_size": 8, "distil_length": 128, "distil_max_ratio": 0.65, "lengths": [32, 128, 512],
        "elmo_params": 528_000, "transformer_params": 397_000}  # fmt: skip


@pytest.mark.parametrize(
    ("r", "lo", "hi", "expected"),
    [(0.47, 0.45, 0.49, True), (0.6, 0.55, 0.66, False), (0.4, None, None, False)],
)
def test_distil_reads_the_interval(r, lo, hi, expected) -> None:
    holds, evidence = _verdict("distilbert-faster")({**BASE, "distil_ratio": _ratio(r, lo, hi)})
    assert holds is expected
    assert ("no 95% interval" in evidence) is (lo is None)


def _elmo_metrics(last: tuple, growth: list[tuple]) -> dict:
    ratios = [_ratio(1.5, 1.4, 1.6), _ratio(1.3, 1.2, 1.4), _ratio(*last)]
    return {**BASE, "elmo_ratios": ratios, "elmo_ratio_growth": [_growth(*g) for g in growth]}


def test_elmo_needs_slower_at_the_longest_length_and_a_growing_ratio() -> None:
    verdict = _verdict("elmo-slower-on-long-sequences")
    up = [(1.3, 1.2, 1.4), (1.5, 1.3, 1.7)]
    assert verdict(_elmo_metrics((2.0, 1.8, 2.2), up))[0]
    # slower at the longest length, but the ratio shrinks from 32 to 128
    assert not verdict(_elmo_metrics((2.0, 1.8, 2.2), [(0.8, 0.7, 0.9), (1.5, 1.3, 1.7)]))[0]
    # the growth interval touches 1
    assert not verdict(_elmo_metrics((2.0, 1.8, 2.2), [(1.3, 0.99, 1.4), (1.5, 1.3, 1.7)]))[0]
    # the ratio grows but the interval at the longest length crosses 1
    assert not verdict(_elmo_metrics((1.05, 0.95, 1.15), up))[0]
    holds, evidence = verdict(_elmo_metrics((2.0, None, None), [(1.3, None, None)] * 2))
    assert not holds and "no 95% interval" in evidence


def test_ratio_growth_is_the_median_of_per_round_ratios_of_ratios() -> None:
    n = 10
    times = {"a2": [4.0] * n, "b2": [1.0] * n, "a1": [2.0] * n, "b1": [1.0] * n}
    times["a2"][0] = 40.0  # one outlier round does not move the median
    g = ratio_growth(times, "a2", "b2", "a1", "b1")
    assert g["ratio"] == pytest.approx(2.0) and g["rounds"] == n
    assert (g["lo"], g["hi"]) == pytest.approx((2.0, 2.0))
    assert ratio_growth({k: v[:5] for k, v in times.items()}, "a2", "b2", "a1", "b1")["lo"] is None


def test_timings_stores_json_able_ratios() -> None:
    cfg = Config(width=8, heads=2, vocab_size=20, batch_size=1, distil_length=8, lengths=(4, 8),
                 rounds=2)  # fmt: skip
    m = timings(cfg, 0)
    assert set(m["distil_ratio"]) == set(time_ratio({"a": [1.0], "b": [1.0]}, "a", "b").as_dict())
    assert len(m["elmo_ratios"]) == 2 and len(m["elmo_ratio_growth"]) == 1
    assert m["rounds"] == 2 and m["distil_ratio"]["lo"] is None
