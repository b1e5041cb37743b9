"""Claims of the fundamentals topic, run with their default configs and seed 0.

Each test asserts the verdict that was measured (see the evidence strings);
a change of verdict means the method or the experiment changed.
"""

from __future__ import annotations

import pytest

from replearn.engine.context import RunContext
from replearn.experiments.base import get_experiment, judge

# in the default suite: default configs of a few seconds CPU (perceptron 1.9 s, bias-variance
# 2.8 s, measured at load ~15), seeded and deterministic; the others are slow
FAST = {"perceptron", "bias-variance"}

# experiment -> {claim id: measured verdict with the default config, seed 0}
MEASURED = {
    "perceptron": {
        "perceptron-separable": True,
        "perceptron-xor-fails": True,
        "perceptron-order-dependent": True,
        "perceptron-mistake-bound": True,
    },
    "mlp-xor": {"mlp-solves-xor": True},
    "bias-variance": {"bias-variance-sum": True, "bias-variance-u-shape": True},
}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=() if n in FAST else pytest.mark.slow) for n in sorted(MEASURED)]
)
def test_claims_verdicts(name, tmp_path):
    exp = get_experiment(name)
    ctx = RunContext(out=tmp_path, seed=0)
    result = exp.run(exp.config(), ctx)
    verdicts = {row["id"]: row for row in judge(exp.claims, result.metrics)}
    assert set(verdicts) == set(MEASURED[name])
    for claim_id, expected in MEASURED[name].items():
        row = verdicts[claim_id]
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        if row["plot"] is not None:
            assert (tmp_path / row["plot"]).exists()
    for plot in result.plots:
        assert plot.exists() and plot.stat().st_size > 0
