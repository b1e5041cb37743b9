"""``coupling-determinant-cheap`` reads 95% intervals (hand-made round times, and one real run).

Holds iff the paired Jacobian / coupling time ratio's interval at the largest D lies at or
above 10 and the ratio's per-round growth between every pair of adjacent D has its interval
above 1; with fewer than 6 rounds there is no interval and the verdict fails.
"""

from __future__ import annotations

import random

from replearn.experiments.flow import flow_toy2d

CLAIM = next(c for c in flow_toy2d.CLAIMS if c.id == "coupling-determinant-cheap")


def _times(advantages: list[float], dims=(4, 16, 64), rounds: int = 20) -> dict:
    """Round times: coupling ~1 ms, the Jacobian ``advantage`` times slower, +-3% noise."""
    times = {}
    for d, a in zip(dims, advantages, strict=True):
        rng = random.Random(d)
        c = [1e-3 * rng.uniform(0.97, 1.03) for _ in range(rounds)]
        times[f"coupling@D{d}"] = c
        times[f"jacobian@D{d}"] = [a * t * rng.uniform(0.97, 1.03) for t in c]
    return flow_toy2d.cost_metrics(dims, times)


def test_cost_needs_ten_x_at_the_largest_d_and_growth_at_every_step() -> None:
    m = _times([3.0, 12.0, 60.0])
    holds, evidence = CLAIM.verdict(m)
    assert holds, evidence
    assert m["cost_ratios"][-1]["ratio"] > 50 and m["advantage_growth"][0]["lo"] > 1
    assert "D=64: " in evidence and "D=16->64: x" in evidence and "95% interval" in evidence
    assert not CLAIM.verdict(_times([3.0, 12.0, 9.0]))[0]  # < 10x at the largest D
    assert not CLAIM.verdict(_times([20.0, 12.0, 60.0]))[0]  # shrinks from D=4 to 16
    assert not CLAIM.verdict(_times([12.0, 12.2, 60.0]))[0]  # flat within the noise
    holds, evidence = CLAIM.verdict(_times([3.0, 12.0, 60.0], rounds=4))
    assert not holds and "no 95% interval" in evidence


def test_coupling_cost_times_both_methods_in_the_same_rounds() -> None:
    m = flow_toy2d.coupling_cost((4, 8), hidden=8, rounds=6, warmup=0)
    assert m["timing_dims"] == [4, 8] and m["timing_rounds"] == 6
    assert len(m["cost_ratios"]) == 2 and len(m["advantage_growth"]) == 1
    assert all(r["rounds"] == 6 and r["lo"] is not None for r in m["cost_ratios"])
    assert min(m["coupling_s"]) > 0 and min(m["full_jacobian_s"]) > 0
