"""Claims of ``icl-regression`` (in-context linear regression, Garg et al. 2022), default config,
seed 0.

Asserts the verdicts that were measured (a claim measured as failing is asserted as failing).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# claim id -> measured verdict with the default config (2026-12-07, 38 min at load 20-35).
# Re-measured 2026-12-08 after issue 21's change of icl-improves-with-scale (every adjacent size
# step judged by compare_seeds; was: the means falling) (`OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
# OMP_WAIT_POLICY=PASSIVE replearn run icl-regression`, default config, 15 min 5 s wall, 109.4 s
# user + 1.0 s sys CPU, load 5.6 -> 5.7; means and 2x32 per-seed errors as on 2026-12-07).
MEASURED = {
    # d = 2, k = 6, 1500 updates: the 2x32 GPT's query error 0.397 (seeds 0.531, 0.148, 0.510;
    # required <= 0.1 on every seed), least squares 3.8e-14, 3-NN 0.586, averaging 0.507: one
    # seed of three left the loss plateau within the budget; the others sit at averaging's
    # level. 3-NN - GPT = +0.190 (SE 0.124, bound -0.173); averaging - GPT = +0.110 (SE 0.124,
    # bound -0.253): fails
    "icl-matches-least-squares": False,
    # query error per seed: 1x8 0.597/0.755/0.873 (mean 0.742), 1x16 0.539/0.510/0.509 (0.520),
    # 2x32 0.531/0.148/0.510 (0.397): the means fall at every step, but over the seeds the step
    # 1x8 -> 1x16 falls by +0.222 (SE 0.089, bound -0.038) and 1x16 -> 2x32 by +0.123 (SE
    # 0.120, bound -0.226); largest vs smallest +0.345 (SE 0.157, bound -0.112): fails
    "icl-improves-with-scale": False,
}


@pytest.mark.timeout(5400)
def test_claims_verdicts(tmp_path, run_default):
    _, verdicts = run_default("icl-regression", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        assert (tmp_path / row["plot"]).exists()
