"""``s4-tasks``' cost claim: overhead + c·L log L must fit the convolution times better than
overhead + c·L^2 (a fitted exponent alone passes anything cheaper than L log L); every part is
judged on the 95% interval of a median over paired timing rounds (issue 21)."""

from __future__ import annotations

import math

import pytest

from replearn.experiments.sequence.s4_tasks import CLAIMS, cost_intervals, overhead_fit

LENGTHS = (1024, 2048, 4096, 8192, 16384)
VERDICT = next(c for c in CLAIMS if c.id == "s4-convolution-vs-recurrence-cost").verdict


def test_overhead_fit_recovers_each_model_exactly() -> None:
    t = [0.02 + 1e-6 * n * math.log(n) for n in LENGTHS]
    a, b, rms = overhead_fit(LENGTHS, t, "L log L")
    assert a == pytest.approx(0.02, rel=1e-9) and b == pytest.approx(1e-6, rel=1e-9)
    assert rms < 1e-12
    assert overhead_fit(LENGTHS, t, "L^2")[2] > 0.05
    t = [0.02 + 1e-10 * n * n for n in LENGTHS]
    assert overhead_fit(LENGTHS, t, "L^2")[2] < 1e-12
    assert overhead_fit(LENGTHS, t, "L log L")[2] > 0.05


def _metrics(conv: list[float], rounds: int = 15, rec_per_step: float = 2e-4) -> dict:
    """Paired per-round times: the given convolution times and a linear recurrence, each round
    scaled by a drift factor (as a loaded machine would)."""
    rec = [rec_per_step * n for n in LENGTHS]
    times: dict[str, list[float]] = {}
    for L, c, r in zip(LENGTHS, conv, rec, strict=True):
        drift = [1.0 + 0.02 * ((i * 7 + L) % 5) for i in range(rounds)]
        times[f"conv_L{L}"] = [c * d for d in drift]
        times[f"rec_L{L}"] = [r * d * (1.0 + 0.01 * (i % 3)) for i, d in enumerate(drift)]
    return {
        "conv_exponent": float("nan"),
        "l_log_l_exponent": 1.1,
        "conv_min_speedup": min(r / c for r, c in zip(rec, conv, strict=True)),
        "conv_max_speedup": max(r / c for r, c in zip(rec, conv, strict=True)),
        "conv_fit_overhead_s": overhead_fit(LENGTHS, conv, "L log L")[0],
        "conv_fit_rms_l_log_l": overhead_fit(LENGTHS, conv, "L log L")[2],
        "conv_fit_rms_l_squared": overhead_fit(LENGTHS, conv, "L^2")[2],
        "mode_max_abs_diff": 1e-14,
        **cost_intervals(LENGTHS, times),
    }


L_LOG_L = [0.02 + 1e-6 * n * math.log(n) for n in LENGTHS]


def test_cost_verdict_separates_l_log_l_from_quadratic() -> None:
    holds, evidence = VERDICT(_metrics(L_LOG_L))
    assert holds and "95% interval" in evidence
    # quadratic growth on top of the same overhead: fails though its exponent is below 1.35
    assert not VERDICT(_metrics([0.02 + 1e-10 * n * n for n in LENGTHS]))[0]


def test_cost_intervals_are_medians_over_rounds() -> None:
    m = _metrics(L_LOG_L)
    assert 0.95 < m["recurrence_exponent_ci"]["lo"] <= m["recurrence_exponent_ci"]["hi"] < 1.05
    assert m["fit_gap_ci"]["lo"] > 0 and m["fit_gap_ci"]["rounds"] == 15
    assert [d["label_a"] for d in m["speed_ratios"]] == [f"conv_L{n}" for n in LENGTHS]


def test_cost_verdict_needs_every_part_on_its_interval() -> None:
    # a recurrence growing as L^1.5: its exponent's interval leaves [0.8, 1.2]
    m = _metrics(L_LOG_L)
    rec15 = {f"rec_L{n}": [2e-4 * n**1.5 / 100] * 15 for n in LENGTHS}
    conv = {f"conv_L{n}": [t] * 15 for n, t in zip(LENGTHS, L_LOG_L, strict=True)}
    assert not VERDICT(m | cost_intervals(LENGTHS, rec15 | conv))[0]
    # a recurrence 100x cheaper: the convolution is no longer faster
    slow = _metrics(L_LOG_L, rec_per_step=2e-6)
    assert not VERDICT(slow)[0] and "every interval below 1: False" in VERDICT(slow)[1]
    # fewer than 6 rounds: no interval, fails
    holds, evidence = VERDICT(_metrics(L_LOG_L, rounds=5))
    assert not holds and "no 95% interval" in evidence
