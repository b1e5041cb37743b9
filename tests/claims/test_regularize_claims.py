"""Claims of the regularization topic, run with their default configs and seed 0.

Each test asserts the verdict that was measured (the evidence strings quote the
numbers); a change of verdict means a method or an experiment changed. Every
default config trains on Fashion-MNIST and needs ``$REPLEARN_DATA``.
"""

from __future__ import annotations

import pytest

from replearn.engine.context import RunContext
from replearn.engine.seed import seed_everything
from replearn.experiments.base import get_experiment, judge

pytestmark = [
    pytest.mark.slow,
    pytest.mark.requires_data(
        "fashion-mnist", reason="REPLEARN_DATA with fashion-mnist/ is not set"
    ),
]

# experiment -> {claim id: measured verdict with the default config, seed 0}
MEASURED = {
    "regularize-penalties": {"l1-sparse": True, "l2-small": True},
    "regularize-dropout": {"dropout-gap": True},
    "regularize-early-stopping": {
        "early-stopping-gap": True,
        "early-stopping-retrain": True,
        "early-stopping-surrogate": True,
    },
    "regularize-label-smoothing": {"ls-calibration": True, "ls-clusters": True},
    "regularize-augment": {
        "mixup-improves": True,
        "cutmix-improves": False,
        "randaugment-improves": False,
        "cutout-improves": False,
    },
    "regularize-stochastic-depth": {"stochastic-depth-gap": True, "stochastic-depth-test": True},
    "regularize-transfer": {"transfer-freeze": False, "transfer-finetune": False},
    "regularize-multitask": {"multitask-helps": False, "multitask-learned-weights": False},
}


@pytest.mark.parametrize("name", sorted(MEASURED))
def test_claims_verdicts(name, tmp_path):
    exp = get_experiment(name)
    seed_everything(0)
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
