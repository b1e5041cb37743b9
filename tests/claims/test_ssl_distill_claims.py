"""Claims of the distillation experiment ``distill-mnist1d``, run with its default config and
seed 0.

Each test asserts the verdict that was measured (numbers in the comments, from
``python -m replearn run <name>`` on a busy 2-core CPU); a change of verdict means the method
or the experiment changed.
"""

from __future__ import annotations

import pytest

from replearn.engine.context import RunContext
from replearn.experiments.base import get_experiment, judge

pytestmark = pytest.mark.slow

# experiment -> {claim id: measured verdict with the default config, seed 0}
MEASURED: dict[str, dict[str, bool]] = {
    # Does NOT hold with the default config: teacher 81.7%, distilled MLP student (T = 4,
    # alpha = 0.9) 31.2% vs the same student on hard labels 42.5% (paired -11.33 points,
    # SE 1.08, 3 seeds); the 32-unit student cannot follow the softened targets in 800 steps.
    # 2026-12-08 (issue 21): verdict rule now compare_seeds (95% Student-t lower bound over the
    # 3 seeds); re-judged from the recorded numbers under compare_seeds' t bound (not re-run):
    # -11.33 - 2.920 x 1.08 = -14.48 points <= 0, still fails.
    "distill-mnist1d": {"distilled-student-wins": False},
}


@pytest.mark.parametrize("name", sorted(MEASURED))
def test_claims_verdicts(name, tmp_path):
    exp = get_experiment(name)
    result = exp.run(exp.config(), RunContext(out=tmp_path, seed=0))
    verdicts = {row["id"]: row for row in judge(exp.claims, result.metrics)}
    assert set(verdicts) == set(MEASURED[name])
    for claim_id, expected in MEASURED[name].items():
        row = verdicts[claim_id]
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        if row["plot"] is not None:
            assert (tmp_path / row["plot"]).exists()
