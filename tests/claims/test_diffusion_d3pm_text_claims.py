"""Claims of ``d3pm-text`` (binarized digits, absorbing D3PM vs a same-size GPT, 3 seeds).

Measured (default config, seed 0, 2026-12-07, loaded 2-core CPU; 56 min wall, 6 min CPU):
- discrete-diffusion-runs holds: D3PM bound 0.5603 bits/token (seeds 0.5619, 0.5593, 0.5596)
  vs 1.0 for a uniform model.
- autoregressive-wins-at-equal-compute holds: GPT NLL 0.4392 bits/token (0.4352, 0.4470,
  0.4352); D3PM - GPT = 0.1211 +- 0.0045 (SE over 3 seeds), 500 updates of batch 64 each.
"""

from __future__ import annotations

import pytest

from replearn.engine.context import RunContext
from replearn.experiments.base import judge
from replearn.experiments.diffusion import d3pm_text

pytestmark = pytest.mark.slow

MEASURED: dict[str, bool | None] = {
    "discrete-diffusion-runs": True,
    "autoregressive-wins-at-equal-compute": True,
}


def test_claims_verdicts(tmp_path):
    result = d3pm_text.run(d3pm_text.Config(), RunContext(out=tmp_path, seed=0))
    verdicts = {row["id"]: row for row in judge(d3pm_text.CLAIMS, result.metrics)}
    assert set(verdicts) == set(MEASURED)
    for claim_id, expected in MEASURED.items():
        if expected is not None:
            assert verdicts[claim_id]["holds"] is expected, verdicts[claim_id]["evidence"]
    assert len(result.metrics["d3pm_bits_per_seed"]) == 3
    assert result.metrics["d3pm_bits_per_token"] == pytest.approx(0.5603, abs=1e-3)
