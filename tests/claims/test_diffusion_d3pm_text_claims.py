"""Claims of ``d3pm-text`` (binarized digits, absorbing D3PM vs a same-size GPT, 3 seeds).

MEASURED holds the verdicts of the default config; None where it was not measured.
"""

from __future__ import annotations

import pytest

from replearn.engine.context import RunContext
from replearn.experiments.base import judge
from replearn.experiments.diffusion import d3pm_text

pytestmark = pytest.mark.slow

MEASURED: dict[str, bool | None] = {
    "discrete-diffusion-runs": None,
    "autoregressive-wins-at-equal-compute": None,
}


def test_claims_verdicts(tmp_path):
    result = d3pm_text.run(d3pm_text.Config(), RunContext(out=tmp_path, seed=0))
    verdicts = {row["id"]: row for row in judge(d3pm_text.CLAIMS, result.metrics)}
    assert set(verdicts) == set(MEASURED)
    for claim_id, expected in MEASURED.items():
        if expected is not None:
            assert verdicts[claim_id]["holds"] is expected, verdicts[claim_id]["evidence"]
    assert len(result.metrics["d3pm_bits_per_seed"]) == 3
