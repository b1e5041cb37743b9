"""Claim of ``regularize-retrain-gain`` (the gain of retraining on train + validation shrinks
with more data), default config, seed 0.

Measured 2026-12-07 (OMP_NUM_THREADS=1, 465 s on 2 busy cores): FAILS. Mean gain in test
accuracy points: N=100 +1.00, N=300 +1.34, N=1000 -0.06 (not monotone); gain at N=100 minus
gain at N=1000 = +1.06 points (SE 0.57 over 5 seeds; per seed +3.06, +0.84, +1.39, -0.28,
+0.28); 95% lower bound -0.16 <= 0. The direction is the claimed one, but the difference is
within the seed-to-seed spread and the smallest pool gains less than the middle one.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

MEASURED = {"retrain-gain-shrinks": False}


def test_claims_verdicts(tmp_path, run_default):
    _, verdicts = run_default("regularize-retrain-gain", MEASURED)
    for claim_id, expected in MEASURED.items():
        assert verdicts[claim_id]["holds"] is expected, verdicts[claim_id]["evidence"]
    assert (tmp_path / "gain.png").exists()
