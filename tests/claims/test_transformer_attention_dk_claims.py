"""Claims of ``attention-dk`` (the key dimension limits compatibility), default config, seed 0.

Asserts the verdict that was measured; a change of verdict means the method or the experiment
changed.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# claim id -> measured verdict with the default config (2026-12-07, 26 min at load 20-35)
MEASURED = {
    # test accuracy, mean of 3 seeds: d_k=1 0.409, 2 0.883, 4 1.000, 8 1.000, 16 1.000
    # (chance 0.0625); d_k=16 - d_k=1 = +59.1 points, SE 0.77
    "dk-matters": True,
}


@pytest.mark.timeout(3600)
def test_claims_verdicts(tmp_path, run_default):
    _, verdicts = run_default("attention-dk", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        assert (tmp_path / row["plot"]).exists()
