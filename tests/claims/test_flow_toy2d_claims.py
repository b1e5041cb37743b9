"""Claims of ``flow-toy2d`` (default config: Real NVP on two moons, seed 0).

Each test asserts the verdict that was measured (numbers in the comments); a change of
verdict means the method or the experiment changed.
"""

from __future__ import annotations

import pytest

from replearn.engine.context import RunContext
from replearn.experiments.base import get_experiment, judge

pytestmark = pytest.mark.slow

# Measured 2026-12-07 with `replearn run flow-toy2d` (default config, seed 0) on the shared
# 2-core machine under heavy load (load average ~30; wall 1206 s): test NLL 2.451 nats.
# Re-run at load ~6 after the run went single-threaded (wall 63 s): same verdicts, same NLL;
# coupling-cost ratios then 9.9x (D=4), 10.8x, 47x, 513x (D=256).
MEASURED = {
    # grid integral over [-10, 10]^2: 1.00001
    "flow-exact-likelihood": True,
    # 8 couplings: |sum - model| = 0, |model - autograd Jacobian| = 5.7e-15
    "flow-logdets-add": True,
    # full Jacobian + slogdet / coupling pass: 468x (D=4), 332x (16), 601x (64), 5345x (256)
    "coupling-determinant-cheap": True,
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
