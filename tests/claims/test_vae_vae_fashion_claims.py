"""Claims of ``vae-fashion`` (default config: digits, seed 0), pinned to the measured verdicts.

Measured 2026-12-07, seed 0, 2-core machine under heavy load (599 s wall):
- kl-keeps-q-near-prior: holds. beta 0.5, 1, 2, 4, 8: KL(q||p) 8.67, 4.26, 1.57, 0.00, 0.00
  nats; active units 8, 5, 4, 0, 0 of 8 (full collapse from beta = 4 on).
- reparameterization-lower-variance: holds. 16 test images, 1000 draws each: score-function /
  reparameterization variance, geometric mean 572 (min 124); with a baseline 6.3 (min 3.08).
- vae-samples-blurrier: holds. Gradient energy: data 0.2785, samples 0.1842,
  reconstructions 0.1889 (difference +0.0942, SE 0.0026).
Test NLL of the beta = 1 VAE 22.93 nats (k = 5000), ELBO -23.38 nats.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

MEASURED = {
    "kl-keeps-q-near-prior": True,
    "reparameterization-lower-variance": True,
    "vae-samples-blurrier": True,
}


def test_vae_fashion_claims(run_default):
    result, verdicts = run_default("vae-fashion", MEASURED)
    for claim_id, expected in MEASURED.items():
        assert verdicts[claim_id]["holds"] is expected, verdicts[claim_id]["evidence"]
    assert result.metrics["nll_nats"] <= -result.metrics["elbo_nats"] + 0.1  # ELBO <= log p
    for plot in result.plots:
        assert plot.exists() and plot.stat().st_size > 0
