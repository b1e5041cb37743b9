"""Claims of ``gan-metrics``, default config: the verdicts measured (see comments)."""

from __future__ import annotations

import pytest

from replearn.engine.context import RunContext
from replearn.experiments.base import get_experiment, judge

pytestmark = pytest.mark.slow

# Measured 2026-12-07 (`replearn run gan-metrics`, digits, the cached classifier whose test
# predictions hash to metrics.features.PINNED_PREDICTIONS["digits"]):
MEASURED = {
    # IS collapsed-1 1.00 < collapsed-3 3.10 < diverse 9.68; Mode Score the same values.
    "scores-rank-collapse-below-diversity": True,
    # FID: diverse 34.5 < noisy 76.6 < blurred 1460 < collapsed-3 1867 < collapsed-1 5080;
    # KID gives the same order.
    "fid-kid-agree": True,
}


def test_gan_metrics_claims(tmp_path):
    exp = get_experiment("gan-metrics")
    result = exp.run(exp.config(), RunContext(out=tmp_path, seed=0))
    verdicts = {row["id"]: row for row in judge(exp.claims, result.metrics)}
    assert set(verdicts) == set(MEASURED)
    for claim_id, expected in MEASURED.items():
        assert verdicts[claim_id]["holds"] is expected, verdicts[claim_id]["evidence"]
        assert (tmp_path / verdicts[claim_id]["plot"]).exists()
