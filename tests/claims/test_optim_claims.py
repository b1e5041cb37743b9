"""Claims of the optimization topic, run with their default configs and seed 0.

Each test asserts the verdict that was measured (see the evidence strings); a change
of verdict means an optimizer or an experiment changed. ``optim-compare`` trains on
Fashion-MNIST by default and needs ``$REPLEARN_DATA``.
"""

from __future__ import annotations

import pytest

from replearn.engine.context import RunContext
from replearn.experiments.base import get_experiment, judge

pytestmark = pytest.mark.slow

# experiment -> {claim id: measured verdict with the default config, seed 0}
# Issue 21 (2026-12-08): adam-sparse became a compare_seeds verdict over 3 training seeds,
# adamw-differs and adagrad-step-decays are checked at every one of 3 seeds; each default
# was re-run after the change (`OMP_NUM_THREADS=1 nice -n 19 replearn run NAME`, 2-core machine):
# - optim-adaptive (141.9 s wall, 23.4 CPU s, load ~14): adam-sparse: each optimizer at the
#   rate of its grid with the lowest mean rare-item loss over seeds 0, 1, 2: Adam lr 0.1
#   0.069, 0.080, 0.094 vs SGD lr 0.3 2.904, 2.890, 2.935 (SGD lr 10 diverged at seed 1,
#   30 at every seed); SGD - Adam = +2.829 (SE 0.0095 over 3 seeds), 95% lower bound +2.801:
#   holds. adabound-bounds (set by the bound schedule; rule unchanged): within 3.3%: holds.
# - optim-variants (117.8 s wall, 21.5 CPU s, load ~14): adamw-differs at every seed:
#   AdamW to Adam+L2 0.320, 0.631, 0.386 (> 0.05), Adam+L2 to ridge 0.0087, 0.0083, 0.0078
#   (< 0.02): holds. amsgrad-converges (deterministic online problem, no seeds): AMSGrad
#   -0.939, Adam 0.995: holds.
# - optim-compare (REPLEARN_DATA=/work/shared/data; 409.3 s wall, 63.2 CPU s, load ~14-15):
#   adagrad-step-decays at every seed 0, 1, 2: median effective step 47.4, 48.4, 57.8 at step 1
#   -> 5.19, 3.64, 3.13 at step 1500 (x0.109, x0.075, x0.054 <= 0.5), never increased: holds.
#   momentum-faster (deterministic quadratic, no seeds): SGD 390 steps, momentum 124,
#   Nesterov 78: holds.
MEASURED = {
    "optim-compare": {"momentum-faster": True, "adagrad-step-decays": True},
    "optim-adaptive": {"adam-sparse": True, "adabound-bounds": True},
    "optim-variants": {"amsgrad-converges": True, "adamw-differs": True},
}
NEEDS_FASHION = {"optim-compare"}
NEEDS_FASHION_MARK = pytest.mark.requires_data(
    "fashion-mnist", reason="REPLEARN_DATA with fashion-mnist/ is not set"
)
CASES = [
    pytest.param(name, marks=[NEEDS_FASHION_MARK] if name in NEEDS_FASHION else [])
    for name in sorted(MEASURED)
]


@pytest.mark.parametrize("name", CASES)
def test_claims_verdicts(name, tmp_path):
    exp = get_experiment(name)
    ctx = RunContext(out=tmp_path, seed=0, progress=False)
    ctx.start()
    try:
        result = exp.run(exp.config(), ctx)
    finally:
        ctx.close()
    verdicts = {row["id"]: row for row in judge(exp.claims, result.metrics)}
    assert set(verdicts) == set(MEASURED[name])
    for claim_id, expected in MEASURED[name].items():
        row = verdicts[claim_id]
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        if row["plot"] is not None:
            assert (tmp_path / row["plot"]).exists()
    for plot in result.plots:
        assert plot.exists() and plot.stat().st_size > 0
