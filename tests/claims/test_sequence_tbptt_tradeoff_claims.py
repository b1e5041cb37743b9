"""Claims of ``tbptt-tradeoff`` (truncated BPTT: reach vs memory and time), default config, seed 0.

Asserts the verdict that was measured (see the evidence strings); a change of verdict means the
method or the experiment changed. A claim measured as failing is asserted as failing.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# claim id -> measured verdict with the default config, seed 0 (2026-11-26, under load; again
# 2026-12-07 after the port to the engine and the 0-not-NaN loss on unanswered windows, under
# load, 12.6 min: the same verdicts)
# 2026-12-08 (issue 21): the statement now says "one training seed" (a property of one trained
# model, class d; three seeds would cost ~30 CPU min); the verdict code is unchanged, so the verdict
# measured above stands (not re-run).
MEASURED = {
    # measured: k=4 d=6: 0.394, k=4 d=12: 0.291, k=8 d=12: 0.311 (chance 0.25, threshold 0.40);
    # 2026-12-07: 0.350, 0.276, 0.351. Lag 6 at k=4 is above chance though below the threshold
    # (information carried by the state)
    "tbptt-misses-lags-beyond-truncation": True,
    # measured: every d < k at >= 0.998 except k=16 d=12: 0.674 (800 updates of one pass);
    # 2026-12-07: the same (>= 0.997, k=16 d=12: 0.674)
    "tbptt-learns-lags-within-truncation": False,
    # saved bytes per update 459 / 953 / 1941 KiB for k = 4 / 8 / 16; interleaved update times
    # 22.7 / 27.2 / 32.8 ms (under load); 2026-12-07: the same bytes, 35.0 / 40.2 / 68.5 ms
    "tbptt-cost-grows-with-truncation": True,
}


@pytest.mark.timeout(1800)  # nine networks: ~8 min on 2 loaded cores
def test_claims_verdicts(tmp_path, run_default):
    result, verdicts = run_default("tbptt-tradeoff", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        if row["plot"] is not None:
            assert (tmp_path / row["plot"]).exists()
    for plot in result.plots:
        assert plot.exists() and plot.stat().st_size > 0
