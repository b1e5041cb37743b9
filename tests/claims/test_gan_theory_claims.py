"""Claims of ``gan-theory``, default config, seed 0: the verdicts measured (see comments)."""

from __future__ import annotations

import pytest

from replearn.engine.context import RunContext
from replearn.experiments.base import get_experiment, judge

pytestmark = pytest.mark.slow

# Measured 2026-12-07 (`replearn run gan-theory`, default config; the discriminator trains through
# the engine since 96ffa08+1, which changed the data stream's random draws):
MEASURED = {
    # saturating |grad| final/initial 2.6e-2, 4.4e-3, 1.4e-2 (seeds 0, 1, 2): below the 1%
    # threshold on seed 1 only; non-saturating 76x, 18x, 48x its initial norm -> fails.
    "saturating-gradient-vanishes": False,
    # JS = log 2 with zero gradient for theta != 0; W1 = |theta|, dW1/dtheta = sign(theta).
    "js-constant-w1-informative": True,
    # sigma(W) = 1.0000 for all three layers, but the convolutions' operator norms on their
    # inputs are 1.70 and 1.24 (the linear layer 1.00) -> fails.
    "spectral-norm-bounds-lipschitz": False,
}


def test_gan_theory_claims(tmp_path):
    exp = get_experiment("gan-theory")
    result = exp.run(exp.config(), RunContext(out=tmp_path, seed=0))
    verdicts = {row["id"]: row for row in judge(exp.claims, result.metrics)}
    assert set(verdicts) == set(MEASURED)
    for claim_id, expected in MEASURED.items():
        assert verdicts[claim_id]["holds"] is expected, verdicts[claim_id]["evidence"]
        assert (tmp_path / verdicts[claim_id]["plot"]).exists()
