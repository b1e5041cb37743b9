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
