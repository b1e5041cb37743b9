"""Claims of ``gpt-claims`` (positions, scaling, dropout on small data), default config, seed 0.

Asserts the verdict that was measured (see the evidence strings); a change of verdict means the
method or the experiment changed. A claim measured as failing is asserted as failing. Needs
Tiny Shakespeare in $REPLEARN_DATA (skipped without). About 6 minutes on one idle core.

Experiment module: ``replearn.experiments.transformer.gpt_claims``.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# claim id -> measured verdict with the default config, seed 0 (2026-11-26, under load):
# positions: learned 2.3418 vs sinusoidal 2.3152 after 300 steps, gap 0.027 <= 0.05 (holds);
# scaling after 250 steps: 15k -> 2.6026, 104k -> 2.4638, 405k -> 2.3818, 802k -> 2.3751 (holds);
# dropout on 10,000 characters, 400 steps: best val 2.7986 with dropout 0.2 vs 2.7885 without
# (fails; the final loss is lower with dropout, 2.8884 vs 2.9243, but not the best one). The
# verdict now also checks "a GPT overfits" (issue 21): final 2.9243 > best 2.7885 without
# dropout, so that half holds on these numbers and the verdict stays False.
MEASURED = {
    "gpt-positions-sinusoidal-equals-learned": True,
    "gpt-larger-models-lower-loss": True,
    "gpt-dropout-helps-small-data": False,
}


@pytest.mark.requires_data("tinyshakespeare", reason="needs Tiny Shakespeare in $REPLEARN_DATA")
def test_claims_verdicts(tmp_path, run_default):
    result, verdicts = run_default("gpt-claims", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        assert (tmp_path / row["plot"]).exists()
    for plot in result.plots:
        assert plot.exists() and plot.stat().st_size > 0
