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
#   overhead + c·L^2; the old check "exponent <= 1.35" passed anything cheaper): holds.
#   Measured 2026-12-07 on the default config's timing part alone (``time_modes(Config(), 0)``,
#   the function and settings the run uses, no training; 2-core machine at load ~25-30): relative
#   RMS residual 0.100 for c·L log L (overhead 65.8 ms) vs 0.284 for c·L^2; convolution p = 0.86,
#   recurrence p = 1.05; at L = 16384 convolution 1.34 s vs recurrence 22.9 s; convolution faster
#   by 10.1x to 20.1x. (Earlier, 2026-11-26, 347 s wall under heavy load, old rule: holds with
#   convolution p = 0.77, recurrence p = 1.03, 5.8x to 12.8x; modes agree to 3.9e-14.)
# - accuracy (unchanged): fails. Test accuracy 0.6750 on 2000 sequential Fashion-MNIST test
#   sequences (val 0.6940) after 400 steps of 32 (279 s): far above chance (0.1) but below the
#   0.70 the claim asks of this short budget.
# 2026-12-08 (issue 21): the accuracy claim's statement now says "one training seed" (a property
# of one trained model, class d; three seeds would cost ~15 CPU min); the verdict code is
# unchanged, so the verdict measured above stands (not re-run). The cost claim is class b.
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
