"""Claims of ``regularize-ls-erasing`` (label smoothing's and Random Erasing's effect on test
accuracy, over 5 seeds), default config, seed 0.

Measured 2026-12-07 (OMP_NUM_THREADS=1, 2611 s on 2 heavily loaded cores), 8x8 digits, small
CNN, 1,500 steps of 64:
- ls-improves-accuracy: HOLDS. 0.9850 vs hard 0.9627; +2.23 points (SE 0.28 over 5 seeds;
  per seed +1.95, +3.34, +1.95, +1.95, +1.95); 95% lower bound +1.63.
- erasing-improves: HOLDS. 0.9777 vs 0.9627; +1.50 points (SE 0.44; per seed +1.67, +3.06,
  +1.39, +0.84, +0.56); 95% lower bound +0.57.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

MEASURED = {"ls-improves-accuracy": True, "erasing-improves": True}


def test_claims_verdicts(tmp_path, run_default):
    _, verdicts = run_default("regularize-ls-erasing", MEASURED)
    for claim_id, expected in MEASURED.items():
        assert verdicts[claim_id]["holds"] is expected, verdicts[claim_id]["evidence"]
    assert (tmp_path / "accuracy.png").exists()
