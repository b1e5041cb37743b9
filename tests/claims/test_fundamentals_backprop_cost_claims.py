"""Claims of ``backprop-cost``, default config, seed 0 (slow).

Measured 2026-12-08 03:08-03:10 UTC after the timing moved to paired wall-clock rounds and
95% intervals (issue 21): `OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE replearn
run backprop-cost --out /tmp/t1/backprop-cost --no-progress`, 2-core machine shared with other
jobs, load average 4.4 at the start and 5.0 at the end (above 3); 78 s wall but only 11.5 s CPU:
the process ran a small fraction of the time, so calls longer than a scheduler slice were
stretched by waits. Backward/forward ratio, median of 30 paired rounds (95% interval): 1.61
(1.50-2.20), 1.53 (1.34-25.5), 12.7 (0.07-16.1), 1.04 (0.89-1.56), 1.58 (1.15-1.99) at 25,216
to 2,369,536 weights (94x); medians of the forward pass 0.36, 0.66, 1.49, 23.4, 65.8 ms (the
jump from 1.5 to 23 ms for 3.3x the weights is the waits). Intervals leave the band [0.5, 4]
at two sizes: FAILS. FLOP ratio 1.89; forward+backward slope over the largest sizes 0.93.
The 2026-12-07 pin (holds: CPU-time minima 1.12-1.73) used CPU time, which such waits do not
stretch; the shared wall-clock helper cannot tell them from work at this load.
The hand-written backprop matches autograd at every size.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

MEASURED = {"backprop-constant-multiple": False}


def test_claims_verdicts(tmp_path, run_default):
    result, verdicts = run_default("backprop-cost", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        assert (tmp_path / row["plot"]).exists()
    assert result.metrics["manual_max_rel_error"] < 1e-8
    assert result.metrics["weight_growth"] > 90
