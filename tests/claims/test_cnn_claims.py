"""Claims of the CNN topic's sequence models (WaveNet, ByteNet), default configs, seed 0.

Each test asserts the verdict that was measured (see the evidence strings);
a change of verdict means the method or the experiment changed.
"""

from __future__ import annotations

import pytest

from replearn.engine.context import RunContext
from replearn.engine.seed import seed_everything
from replearn.experiments.base import get_experiment, judge

pytestmark = pytest.mark.slow

# experiment -> {claim id: measured verdict with the default config, seed 0}
MEASURED = {
    "wavenet-demo": {"wavenet-cache-exact-and-faster": True},
    "bytenet-chars": {"bytenet-dilation-covers-the-source": True},
}


@pytest.mark.parametrize("name", sorted(MEASURED))
def test_claims_verdicts(name, tmp_path):
    exp = get_experiment(name)
    seed_everything(0)  # as `replearn run` does: the same numbers as the CLI run
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
