"""Claims of ``gan-cycle``, default config (3 training seeds): the verdict measured."""

from __future__ import annotations

import pytest

from replearn.engine.context import RunContext
from replearn.experiments.base import get_experiment, judge

pytestmark = pytest.mark.slow

# Measured 2026-12-08 after the claim became "for every one of >= 3 training seeds" (issue 21),
# default config (3 seeds, 600 steps each):
#   OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n 19 replearn run gan-cycle --out DIR
# on the shared 2-core machine under heavy load (load average 11.6-16): wall 1152 s, CPU
# 187.3 s (user 186.2 + sys 1.2). Per seed 0 / 1 / 2: cycle error |F(G(x)) - x| 0.174 /
# 0.179 / 0.173, |G(F(y)) - y| 0.179 / 0.174 / 0.175, mean of the two 0.176 / 0.177 / 0.174
# (worst 0.177) against 0.490 between random test images: above the 25% bound 0.122 on
# every seed -> fails; translation error |G(x) - rot(x)| 0.452 / 0.469 / 0.467.
MEASURED = {"cycle-consistency-reconstructs": False}


def test_gan_cycle_claims(tmp_path):
    exp = get_experiment("gan-cycle")
    result = exp.run(exp.config(), RunContext(out=tmp_path, seed=0))
    verdicts = {row["id"]: row for row in judge(exp.claims, result.metrics)}
    assert set(verdicts) == set(MEASURED)
    for claim_id, expected in MEASURED.items():
        assert verdicts[claim_id]["holds"] is expected, verdicts[claim_id]["evidence"]
        assert (tmp_path / verdicts[claim_id]["plot"]).exists()
    assert len(result.metrics["cycle_error_seeds"]) == 3
