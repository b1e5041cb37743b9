"""``backprop-constant-multiple`` reads 95% intervals (hand-made metrics).

Holds iff every size's interval of the median backward/forward ratio lies inside the band and
the spread bound (largest upper end / smallest lower end) is at most ``max_spread``; with too
few rounds there is no interval and the verdict fails.
"""

from __future__ import annotations

from replearn.experiments.fundamentals import backprop_cost

VERDICT = next(c for c in backprop_cost.CLAIMS if c.id == "backprop-constant-multiple").verdict


def _metrics(intervals: list[tuple[float, float] | None], rounds: int = 30) -> dict:
    mids = [1.5 if ci is None else (ci[0] + ci[1]) / 2 for ci in intervals]
    return {
        "ratios": mids,
        "ratios_lo": [None if ci is None else ci[0] for ci in intervals],
        "ratios_hi": [None if ci is None else ci[1] for ci in intervals],
        "rounds": rounds,
        "band": [0.5, 4.0],
        "max_spread": 2.5,
        "weights": [1e4, 1e5, 1e6],
        "weight_growth": 100.0,
        "flop_ratio_largest": 1.9,
        "slope_large": 0.95,
    }


def test_every_interval_inside_the_band_and_a_bounded_spread() -> None:
    holds, evidence = VERDICT(_metrics([(1.1, 1.3), (1.2, 1.5), (1.4, 1.9)]))
    assert holds, evidence
    assert "1.20 (1.10-1.30)" in evidence and "<= 1.73" in evidence
    assert not VERDICT(_metrics([(1.1, 1.3), (0.4, 0.7), (1.4, 1.9)]))[0]  # crosses 0.5
    assert not VERDICT(_metrics([(1.1, 1.3), (1.2, 1.5), (3.5, 4.2)]))[0]  # crosses 4
    # every interval inside the band, but the spread bound 2.9 / 1.1 = 2.6 exceeds 2.5
    assert not VERDICT(_metrics([(1.1, 1.3), (1.2, 1.5), (2.5, 2.9)]))[0]
    holds, evidence = VERDICT(_metrics([(1.1, 1.3), None, (1.4, 1.9)], rounds=5))
    assert not holds and "no 95% interval" in evidence
