"""Claims of ``grpo-arithmetic`` (default config, seed 0: pretraining, then SFT -> GRPO x 3 seeds).

The test asserts the verdict that was measured (numbers in the comments and in
``benchmarks/results/rlhf_claims.md``); a change of verdict means the method or the experiment
changed.
"""

from __future__ import annotations

import pytest

from replearn.engine.context import RunContext
from replearn.experiments.base import get_experiment, judge

pytestmark = pytest.mark.slow

# measured 2026-12-07 with `replearn run grpo-arithmetic` (seed 0, commit a3d5d43's config),
# evidence in benchmarks/results/rlhf_claims.md
MEASURED: dict[str, bool] = {
    # greedy accuracy 0.177 -> 0.211, paired gain +0.034 +- 0.044 SE (-0.055, +0.078, +0.078):
    # not above 2 SE, so the claim fails (sampled accuracy rose 0.138 -> 0.178).
    # 2026-12-08 (issue 21): verdict rule now compare_seeds (95% Student-t lower bound of the
    # paired gain over the 3 seeds above 0); re-judged from the recorded numbers under
    # compare_seeds' t bound (not re-run): +3.4 - 2.920 x 4.4 = -9.4 points <= 0, still fails.
    "grpo-raises-arithmetic-accuracy": False,
}


def test_claims_verdicts(tmp_path):
    if not MEASURED:
        pytest.skip("the default config's verdict has not been measured yet")
    exp = get_experiment("grpo-arithmetic")
    result = exp.run(exp.config(), RunContext(out=tmp_path, seed=0, progress=False))
    verdicts = {row["id"]: row for row in judge(exp.claims, result.metrics)}
    assert set(verdicts) == set(MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        if row["plot"] is not None:
            assert (tmp_path / row["plot"]).exists()
