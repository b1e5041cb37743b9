"""Claims of ``mamba-tasks`` (Mamba vs S4 on selective copying and induction heads), default
config, seed 0.

Asserts the verdict that was measured (see the evidence strings); a change of verdict means the
method or the experiment changed. A claim measured as failing is asserted as failing.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# claim id -> measured verdict with the default config, seed 0 (2026-11-26, under heavy load;
# re-measured on a quiet machine after the chunked-scan rewrite: the same numbers, 172 s wall)
# 2026-12-08 (issue 21): the statement now says "one training seed" (a property of one trained
# model, class d; three seeds would cost ~9 CPU min); the verdict code is unchanged, so the verdict
# measured above stands (not re-run).
MEASURED = {
    # measured: Mamba 0.137 (6928 parameters; still on the chance plateau, 0.125, after 1500
    # steps) vs S4 0.693 (7410 parameters): Mamba did not learn selective copying in this budget
    "mamba-selective-copying": False,
    # measured: Mamba 1.000, S4 1.000 (length 32; S4 solves it too at this length)
    "mamba-induction-heads": True,
}


def test_claims_verdicts(tmp_path, run_default):
    result, verdicts = run_default("mamba-tasks", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        if row["plot"] is not None:
            assert (tmp_path / row["plot"]).exists()
    for plot in result.plots:
        assert plot.exists() and plot.stat().st_size > 0
