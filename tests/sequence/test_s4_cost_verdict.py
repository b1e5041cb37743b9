"""``s4-tasks``' cost claim: overhead + c·L log L must fit the convolution times better than
overhead + c·L^2 (a fitted exponent alone passes anything cheaper than L log L)."""

from __future__ import annotations

import math

import pytest

from replearn.experiments.sequence.s4_tasks import CLAIMS, overhead_fit

LENGTHS = (1024, 2048, 4096, 8192, 16384)


def test_overhead_fit_recovers_each_model_exactly() -> None:
    t = [0.02 + 1e-6 * n * math.log(n) for n in LENGTHS]
    a, b, rms = overhead_fit(LENGTHS, t, "L log L")
    assert a == pytest.approx(0.02, rel=1e-9) and b == pytest.approx(1e-6, rel=1e-9)
    assert rms < 1e-12
    assert overhead_fit(LENGTHS, t, "L^2")[2] > 0.05
    t = [0.02 + 1e-10 * n * n for n in LENGTHS]
    assert overhead_fit(LENGTHS, t, "L^2")[2] < 1e-12
    assert overhead_fit(LENGTHS, t, "L log L")[2] > 0.05


def _metrics(conv: list[float]) -> dict:
    rec = [2e-4 * n for n in LENGTHS]
    return {
        "conv_exponent": float("nan"),
        "recurrence_exponent": 1.0,
        "l_log_l_exponent": 1.1,
        "conv_min_speedup": min(r / c for r, c in zip(rec, conv, strict=True)),
        "conv_max_speedup": max(r / c for r, c in zip(rec, conv, strict=True)),
        "conv_fit_overhead_s": overhead_fit(LENGTHS, conv, "L log L")[0],
        "conv_fit_rms_l_log_l": overhead_fit(LENGTHS, conv, "L log L")[2],
        "conv_fit_rms_l_squared": overhead_fit(LENGTHS, conv, "L^2")[2],
        "length_min": LENGTHS[0],
        "length_max": LENGTHS[-1],
        "conv_time_s_at_max": conv[-1],
        "recurrence_time_s_at_max": rec[-1],
        "mode_max_abs_diff": 1e-14,
    }


def test_cost_verdict_separates_l_log_l_from_quadratic() -> None:
    verdict = next(c for c in CLAIMS if c.id == "s4-convolution-vs-recurrence-cost").verdict
    holds, evidence = verdict(_metrics([0.02 + 1e-6 * n * math.log(n) for n in LENGTHS]))
    assert holds and "L log L fits better" in evidence
    # quadratic growth on top of the same overhead: fails though its exponent is below 1.35
    assert not verdict(_metrics([0.02 + 1e-10 * n * n for n in LENGTHS]))[0]
