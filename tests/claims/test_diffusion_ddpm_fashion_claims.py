"""Claims of ``ddpm-fashion`` (digits, class-conditional U-Net with classifier-free guidance).

MEASURED holds the verdicts of the default config (seed 0; 3 training seeds).

Measured (2026-12-08, fifth session, run started at commit 7170f05): OMP_NUM_THREADS=1
replearn run ddpm-fashion --seed 0 (3 training seeds x 2000 steps); wall 25 min 32 s, user CPU
840 s, load 2 -> 7 (other jobs alongside).
- guidance-fidelity-diversity holds: w = 1 -> 4 accuracy on the requested class 0.957 -> 1.000,
  recall 0.907 -> 0.346 (means over 3 seeds); accuracy gain +0.0433 (SE 0.0070; per seed +0.042,
  +0.056, +0.032), 95% lower bound +0.0230 > 0; recall loss +0.561 (SE 0.019; per seed +0.581,
  +0.524, +0.579), lower bound +0.506 > 0; FID 17.08 -> 224.65, precision 0.853 -> 0.907.
- iterative-refinement holds: FID by DDIM steps 1: 848.3, 5: 36.2, 10: 20.0, 25: 17.1, 50: 17.2;
  1 step - 50 steps = +831.1 (SE 8.66; per seed +842.3, +814.1, +837.0), lower bound +805.8 > 0.
"""

from __future__ import annotations

import pytest

from replearn.engine.context import RunContext
from replearn.experiments.base import judge
from replearn.experiments.diffusion import ddpm_fashion

pytestmark = pytest.mark.slow

MEASURED: dict[str, bool | None] = {
    "guidance-fidelity-diversity": True,
    "iterative-refinement": True,
}


def test_claims_verdicts(tmp_path):
    result = ddpm_fashion.run(ddpm_fashion.Config(), RunContext(out=tmp_path, seed=0))
    verdicts = {row["id"]: row for row in judge(ddpm_fashion.CLAIMS, result.metrics)}
    assert set(verdicts) == set(MEASURED)
    for claim_id, expected in MEASURED.items():
        if expected is not None:
            assert verdicts[claim_id]["holds"] is expected, verdicts[claim_id]["evidence"]
        assert (tmp_path / verdicts[claim_id]["plot"]).exists()
    assert result.metrics["fid"] > 0 and result.metrics["kid"] == result.metrics["kid_ddim25"]
