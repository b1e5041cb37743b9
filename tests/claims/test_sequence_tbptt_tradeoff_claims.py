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
# 2026-12-08 (issue 21): the accuracy statements say "one training seed" (a property of one trained
# model, class d; three seeds would cost ~30 CPU min); the cost claim's time part now reads the 95%
# interval of paired time ratios (measure_costs: time_rounds/time_ratio, 50 rounds, the training
# update itself). Whole default re-run after that change: `OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
# replearn run tbptt-tradeoff --no-progress`, 250 s wall, 92.9 s CPU, load average 5.2 -> 6.5 on
# the shared 2-core machine; the accuracies are identical to 2026-12-07's.
MEASURED = {
    # measured: k=4 d=6: 0.394, k=4 d=12: 0.291, k=8 d=12: 0.311 (chance 0.25, threshold 0.40);
    # 2026-12-07 and 2026-12-08: 0.350, 0.276, 0.351. Lag 6 at k=4 is above chance though below
    # the threshold (information carried by the state)
    "tbptt-misses-lags-beyond-truncation": True,
    # measured: every d < k at >= 0.998 except k=16 d=12: 0.674 (800 updates of one pass);
    # 2026-12-07 and 2026-12-08: the same (>= 0.997, k=16 d=12: 0.674)
    "tbptt-learns-lags-within-truncation": False,
    # 2026-12-08: saved bytes per update 459 / 953 / 1941 KiB for k = 4 / 8 / 16 (exact, the same
    # as before); update time k=8 over k=4: 16.8 vs 15.4 ms, ratio 1.10 (95% interval 1.06-1.54),
    # k=16 over k=8: 31.0 vs 16.8 ms, ratio 1.68 (1.31-1.91), 50 paired rounds: both above 1.
    # This test itself, the same code, at load ~3 (127 s wall, 84 s CPU): 2.59 / 3.65 / 5.71 ms,
    # ratios 1.40 (1.38-1.43) and 1.56 (1.53-1.59): a quieter machine narrows the intervals
    "tbptt-cost-grows-with-truncation": True,
}


@pytest.mark.timeout(1800)  # nine networks: ~4 min on 2 loaded cores (load ~6)
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
