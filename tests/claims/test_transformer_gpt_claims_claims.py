"""Claims of ``gpt-claims`` (positions, scaling, dropout on small data), default config, seed 0.

Asserts the verdict that was measured (see the evidence strings); a change of verdict means the
method or the experiment changed. A claim measured as failing is asserted as failing. Needs
Tiny Shakespeare in $REPLEARN_DATA (skipped without). About 9 CPU minutes (3 seeds, one thread).

Experiment module: ``replearn.experiments.transformer.gpt_claims``.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# The old default (one seed; 300 / 250 / 400 steps), 2026-11-26, under load: positions learned
# 2.3418 vs sinusoidal 2.3152 (holds); scaling 15k -> 2.6026, 104k -> 2.4638, 405k -> 2.3818,
# 802k -> 2.3751 (holds); dropout best 2.7986 vs 2.7885 without (fails).
# Issue 21 (2026-12-08): every verdict now compares over 3 training seeds (compare_seeds) and
# every run's steps were halved to pay for the seeds (see the module docstring). The new default
# is not measured yet: the verdicts are not pinned.
MEASURED: dict[str, bool] = {}
NOT_REMEASURED = (
    "gpt-positions-sinusoidal-equals-learned",
    "gpt-larger-models-lower-loss",
    "gpt-dropout-helps-small-data",
)


@pytest.mark.requires_data("tinyshakespeare", reason="needs Tiny Shakespeare in $REPLEARN_DATA")
def test_claims_verdicts(tmp_path, run_default):
    if NOT_REMEASURED:
        pytest.skip(
            "verdict rule changed to compare_seeds on 2026-12-08; default not re-run yet: "
            + ", ".join(NOT_REMEASURED)
        )
    result, verdicts = run_default("gpt-claims", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        assert (tmp_path / row["plot"]).exists()
    for plot in result.plots:
        assert plot.exists() and plot.stat().st_size > 0
