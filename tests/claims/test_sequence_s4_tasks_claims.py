"""Claims of ``s4-tasks`` (S4 on sequential Fashion-MNIST; convolution vs recurrence cost), default
config, seed 0.

Asserts the verdict that was measured (see the evidence strings); a change of verdict means the
method or the experiment changed. A claim measured as failing is asserted as failing. Needs
Fashion-MNIST in $REPLEARN_DATA (skipped without).

Experiment module: ``replearn.experiments.sequence.s4_tasks``.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# claim id -> measured verdict with the default config, seed 0.
# - cost (restated by issue 21: overhead + c·L log L must fit the convolution times better than
#   overhead + c·L^2; the old check "exponent <= 1.35" passed anything cheaper; since 2026-12-08
#   every part reads a 95% interval over 15 paired timing rounds): holds. Whole default re-run
#   after that change, 2026-12-08: `OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
#   REPLEARN_DATA=/work/shared/data replearn run s4-tasks --no-progress`, 703 s wall, 105 s CPU,
#   load average 4.6 -> 7.4 on the shared 2-core machine (loaded: the process got ~1/7 of the
#   wall time). Per round, the c·L^2 fit's relative RMS residual minus c·L log L's: 0.114 (95%
#   interval 0.084 to 0.128, above 0; on the medians 0.246 vs 0.109, overhead 24.1 ms);
#   recurrence exponent p 1.03 (1.02 to 1.11, inside [0.8, 1.2]); convolution over recurrence
#   at the closest length, L = 1024: 28.2 vs 253 ms, ratio 0.116 (0.0978-0.146), every length's
#   interval below 1 (9.0x to 26.1x on the medians); convolution p = 0.64 on the medians; modes
#   agree to 4.4e-14. (2026-12-07, medians of 3 runs, load ~25-30: 0.100 vs 0.284, p = 0.86 and
#   1.05, 10.1x to 20.1x.)
#   This test itself, the same code, at load ~2-3 (129 s wall, 91 s CPU): holds, with a thin
#   margin on the fit part: gap 0.059 (95% interval 0.008 to 0.150; on the medians 0.238 vs 0.223,
#   overhead 3.1 ms), p 1.08 (0.96 to 1.17), closest speed ratio 0.122 (0.0753-0.224) at L = 1024,
#   10.8x to 30.1x. With little fixed overhead, L log L and L^2 are hard to tell apart on 1k-16k.
# - accuracy: fails. 2026-12-08: test accuracy 0.6740 on 2000 sequential Fashion-MNIST test
#   sequences (val 0.6920) after 400 steps of 32 (405 s at load ~7); 2026-12-07: 0.6750 (val
#   0.6940): far above chance (0.1) but below the 0.70 the claim asks of this short budget. Its
#   statement says "one training seed" (a property of one trained model, class d; three seeds
#   would cost ~15 CPU min).
MEASURED = {
    "s4-convolution-vs-recurrence-cost": True,
    "s4-long-range-classification": False,
}


@pytest.mark.requires_data("fashion-mnist", reason="needs Fashion-MNIST in $REPLEARN_DATA")
def test_claims_verdicts(tmp_path, run_default):
    result, verdicts = run_default("s4-tasks", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        if row["plot"] is not None:
            assert (tmp_path / row["plot"]).exists()
    for plot in result.plots:
        assert plot.exists() and plot.stat().st_size > 0
