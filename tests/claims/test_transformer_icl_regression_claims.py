"""Claims of ``icl-regression`` (in-context linear regression, Garg et al. 2022), default config,
seed 0.

Asserts the verdicts that were measured (a claim measured as failing is asserted as failing).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# claim id -> measured verdict with the default config (2026-12-07, 38 min at load 20-35)
MEASURED = {
    # d = 2, k = 6, 1500 updates: the 2x32 GPT's query error 0.397 (seeds 0.531, 0.148, 0.510;
    # required <= 0.1), least squares 4e-14, 3-NN 0.586, averaging 0.507: one seed of three left
    # the loss plateau within the budget; the others sit at averaging's level. Issue 21
    # (2026-12-08): the error must now be <= 0.1 on every seed (was: the mean); re-judged from
    # the recorded per-seed numbers (every seed > 0.1: False), not re-run
    "icl-matches-least-squares": False,
    # query error by size 0.742 (1x8) > 0.520 (1x16) > 0.397 (2x32): falls with every size on
    # average, but largest - smallest = +0.345 with SE 0.157 over 3 seeds (lower bound -0.112)
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
