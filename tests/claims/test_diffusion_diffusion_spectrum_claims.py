"""Claim of ``diffusion-spectrum`` with its default config (digits, seed 0).

Measured: first step with SNR < 1 per radial frequency bin 1..4 = [355, 211, 156, 94]
(also on Fashion-MNIST, bins 1..14: 563 ... 46, non-increasing).
"""

from __future__ import annotations

import pytest

from replearn.engine.context import RunContext
from replearn.experiments.base import judge
from replearn.experiments.diffusion import diffusion_spectrum

# not slow: the default config takes ~1.2 s CPU (measured at load ~15); closed-form SNR crossings
pytestmark: list[pytest.MarkDecorator] = []

MEASURED = {"high-frequencies-first": True}


def test_claims_verdicts(tmp_path):
    ctx = RunContext(out=tmp_path, seed=0)
    result = diffusion_spectrum.run(diffusion_spectrum.Config(), ctx)
    verdicts = {row["id"]: row for row in judge(diffusion_spectrum.CLAIMS, result.metrics)}
    assert set(verdicts) == set(MEASURED)
    for claim_id, expected in MEASURED.items():
        assert verdicts[claim_id]["holds"] is expected, verdicts[claim_id]["evidence"]
    assert result.metrics["snr_crossing_step"] == [355, 211, 156, 94]
    for plot in result.plots:
        assert plot.exists() and plot.stat().st_size > 0
