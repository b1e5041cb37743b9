"""Claims of ``seq2seq-chars`` (Seq2Seq with and without attention), default config, seed 0.

Asserts the verdict that was measured (see the evidence string); a change of verdict
means the method or the experiment changed. A claim measured as failing is asserted as
failing.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# claim id -> measured verdict with the default config, seed 0. Measured (under load, 9.5 min):
# long sources (15+ chars, 347 of 1000) greedy exact match 1.000 with attention vs 0.006
# without; all lengths 1.000 vs 0.365; beam (width 4) 1.000 vs 0.389.
# 2026-12-08 (issue 21): the verdict became compare_seeds over 3 training seeds (margin 0.1) and
# the default config n_seeds = 3; the one-seed pin (True) no longer applies: None (not measured)
# until the default is re-run.
MEASURED: dict[str, bool | None] = {"attention-helps-long-inputs": None}
NOT_REMEASURED: tuple[str, ...] = ("attention-helps-long-inputs",)


@pytest.mark.timeout(2400)  # two networks: ~10-20 min on 2 loaded cores, over the default 600 s
def test_claims_verdicts(tmp_path, run_default):
    if NOT_REMEASURED:
        pytest.skip(
            "verdict rule changed to compare_seeds on 2026-12-08; default not re-run: "
            + ", ".join(NOT_REMEASURED)
        )
    result, verdicts = run_default("seq2seq-chars", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        if row["plot"] is not None:
            assert (tmp_path / row["plot"]).exists()
    for plot in result.plots:
        assert plot.exists() and plot.stat().st_size > 0
