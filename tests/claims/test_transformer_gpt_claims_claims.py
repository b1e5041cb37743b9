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
# Issue 21 (2026-12-08): every verdict compares over 3 training seeds (compare_seeds) and every
# run's steps were halved to pay for the seeds (see the module docstring). Measured with the new
# default, 2026-12-08, seeds 0-2, `REPLEARN_DATA=/work/shared/data OMP_NUM_THREADS=1
# MKL_NUM_THREADS=1 nice -n 19 replearn run gpt-claims` (gpt_claims.py of 7110f84): 2954 s wall,
# 518 CPU s (17% of a core, load average 10-15 on the shared 2-core machine).
MEASURED = {
    # val loss after 150 steps, learned 2.4454, 2.4448, 2.4422 vs sinusoidal 2.4285, 2.4289,
    # 2.4225: sinusoidal lower by 0.0175 (SE 0.0011); the 95% bounds of learned - sinusoidal,
    # [+0.0142, +0.0208], lie inside +-0.05
    "gpt-positions-sinusoidal-equals-learned": True,
    # means after 125 steps: 15k 2.9144, 104k 2.5626, 405k 2.4657, 802k 2.4685; the first two
    # steps up hold (-0.352, SE 0.026; -0.097, SE 0.004), the last does not: 802k - 405k =
    # +0.0028 nats (per seed +0.0103, -0.0061, +0.0041; SE 0.0048; bound of the gain -0.0168)
    "gpt-larger-models-lower-loss": False,
    # without dropout the final val loss is above the best on 2 of 3 seeds (final 2.8486,
    # 2.7956, 2.8230 vs best 2.7865, 2.7956, 2.7761: seed 1 ends at its best); dropout's best
    # is higher, 2.7942 vs 2.7861 (+0.0081, SE 0.0021; per seed +0.0115, +0.0043, +0.0084):
    # both halves fail
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
