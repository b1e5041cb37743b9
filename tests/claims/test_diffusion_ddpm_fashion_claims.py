"""Claims of ``ddpm-fashion`` (digits, class-conditional U-Net with classifier-free guidance).

MEASURED holds the verdicts of the default config; None where the default config could
not be run in the session that wrote it (see docs and the helper's report); the test then
checks that the claim is judged and its plot written, not its verdict.

Not measured (2026-12-08): both claims are now judged by compare_seeds over the 3 seeds
(issue 21); the default config was not run: about 19 CPU min on one thread (timed on
2026-12-08 under load ~12: a training step of batch 128 takes 0.14 CPU s, 3 x 2000 steps =
14 min, plus ~290 DDIM/guidance sampling steps per seed and 1000 DDPM steps for seed 0 at
0.16 s each on 500 images), beyond this session's CPU budget on the shared 2-core machine.
"""

from __future__ import annotations

import pytest

from replearn.engine.context import RunContext
from replearn.experiments.base import judge
from replearn.experiments.diffusion import ddpm_fashion

pytestmark = pytest.mark.slow

MEASURED: dict[str, bool | None] = {
    "guidance-fidelity-diversity": None,
    "iterative-refinement": None,
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
