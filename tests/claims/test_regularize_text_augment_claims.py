"""Claims of ``regularize-text-augment`` (word dropout, synonym replacement, random swap on
SST-2), default config, seed 0. Needs $REPLEARN_DATA/sst2.

Measured 2026-12-07 (OMP_NUM_THREADS=1, 2164 s on 2 heavily loaded cores): all three FAIL.
Dev accuracy of a word-level CNN trained on 2,000 SST-2 phrases, 3 seeds: none 0.6403;
word dropout 0.6460 (+0.57 points, SE 0.35, per seed -0.11, +0.80, +1.03; 95% lower bound
-0.45); synonym replacement 0.6472 (+0.69, SE 1.23; the embedded table covers 4.6% of the
training tokens); random swap 0.6460 (+0.57, SE 0.95). Every mean is positive, none beats
the seed-to-seed spread with 3 seeds.
"""

from __future__ import annotations

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.requires_data("sst2", reason="REPLEARN_DATA with sst2/ is not set"),
]

MEASURED = {
    "text-word-dropout-improves": False,
    "text-synonym-improves": False,
    "text-swap-improves": False,
}


def test_claims_verdicts(tmp_path, run_default):
    _, verdicts = run_default("regularize-text-augment", MEASURED)
    for claim_id, expected in MEASURED.items():
        assert verdicts[claim_id]["holds"] is expected, verdicts[claim_id]["evidence"]
    assert (tmp_path / "text_augment.png").exists()
