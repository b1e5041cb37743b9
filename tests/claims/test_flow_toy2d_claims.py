"""Claims of ``flow-toy2d`` (default config: Real NVP on two moons, seed 0).

Each test asserts the verdict that was measured (numbers in the comments); a change of
verdict means the method or the experiment changed.
"""

from __future__ import annotations

import pytest

from replearn.engine.context import RunContext
from replearn.experiments.base import get_experiment, judge
from replearn.experiments.flow import flow_toy2d

pytestmark = pytest.mark.slow

# Measured 2026-12-07 with `replearn run flow-toy2d` (default config, seed 0) on the shared
# 2-core machine under heavy load (load average ~30; wall 1206 s): test NLL 2.451 nats.
# Re-measured 2026-12-08 02:58-03:00 UTC after the coupling-cost timing moved to paired rounds
# and 95% intervals: `OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE replearn run
# flow-toy2d --out /tmp/t1/flow-toy2d --no-progress`, load average 5.4 at the start, 6.6 at the
# end (above 3: timings stretched and noisy); 116 s wall, 45 s CPU; test NLL 2.4510 nats.
MEASURED = {
    # grid integral over [-10, 10]^2: 1.00001
    "flow-exact-likelihood": True,
    # 8 couplings: |sum - model| = 0, |model - autograd Jacobian| = 5.7e-15
    "flow-logdets-add": True,
    # full Jacobian + slogdet / coupling pass, median paired ratio of 20 rounds (95% interval):
    # 10.6x (8.31-16.9) at D=4, 22.1x (9.42-46.7) at 16, 28.7x (23.5-39.6) at 64, 317x (236-397)
    # at 256: >= 10x at the largest D holds; growth of the ratio per round D=4->16 x1.57
    # (0.573-9.46), 16->64 x1.28 (0.414-3.13), 64->256 x10.8 (7.73-14.9): "grows with D" is
    # established only from 64 to 256 (the coupling pass takes ~0.25-0.5 ms, so single-call
    # round times at the small D are noise-dominated under this load). FAILS. (The 2026-12-07
    # pin, True, compared two medians of 7 separate calls.)
    "coupling-determinant-cheap": False,
    # fraction inverted to 1e-4 in 200 iterations: Lip 0.5: 1.0, 0.9: 1.0, 0.99: 0.876
    # (geometric rate 0.99: 200 iterations are not enough for every point), 1.5: 0.004,
    # 3.0: 0.0. Fails on the Lip 0.99 point only: it converges, but slowly.
    "iresnet-inverse-needs-lip-below-1": False,
}


def test_claims_verdicts(tmp_path):
    exp = get_experiment("flow-toy2d")
    result = exp.run(exp.config(), RunContext(out=tmp_path, seed=0, progress=False))
    verdicts = {row["id"]: row for row in judge(exp.claims, result.metrics)}
    assert set(verdicts) == set(MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        if row["plot"] is not None:
            assert (tmp_path / row["plot"]).exists()


def test_coupling_cost_claim_from_the_timing_function():
    """The timing claim alone (seconds, no training): the run's coupling-cost measurement,
    called with the default config; pinned from the run above."""
    exp = get_experiment("flow-toy2d")
    cfg = exp.config()
    m = flow_toy2d.coupling_cost(cfg.timing_dims, cfg.hidden, cfg.timing_rounds, cfg.timing_warmup)
    claim = next(c for c in exp.claims if c.id == "coupling-determinant-cheap")
    holds, evidence = claim.verdict(m)
    assert holds is MEASURED["coupling-determinant-cheap"], evidence
