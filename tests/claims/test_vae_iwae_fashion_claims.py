"""Claims of ``iwae-fashion`` (default config: digits, seed 0), pinned to the measured verdicts.

Measured 2026-12-07, seed 0, 2-core machine under heavy load (2552 s wall):
- iwae-tightens-with-k: FAILS as stated. Test-average bound of the IWAE-trained model (seed 0):
  L_1 -23.829, L_5 -22.718, L_50 -22.507, L_500 -22.469, k=5000 estimate -22.473 nats. Every
  step up to k = 500 rises clearly, but from k = 500 to 5000 the bound has converged: the
  smallest increment over the 6 models is -0.004 nats at -0.7 SE, and the claim asks > 2 SE
  for every step.
- iwae-training-lower-nll: holds. Test NLL (k=5000): ELBO-trained 22.879, IWAE-trained (k=5)
  22.518 nats; paired difference +0.360 (SE 0.048 over 3 seeds); active units 5.7 vs 7.7.

2026-12-08 (issue 21): iwae-training-lower-nll is now judged by compare_seeds' one-sided 95%
Student-t bound over the 3 seeds. Re-measured after the change: ``OMP_NUM_THREADS=1
MKL_NUM_THREADS=1 nice -n 19 replearn run iwae-fashion``, load ~10: 636 s wall, 139 s CPU
(result.json cpu_time_s); numbers identical to 2026-12-07. NLL reduction +0.360 nats (SE 0.048;
per seed +0.456, +0.304, +0.321); 95% t lower bound +0.220 > 0: still HOLDS.
iwae-tightens-with-k (every step > 2 SE over test images, for every one of the 6 trained
models: a per-model property checked for every seed) is unchanged and still FAILS (-0.004
nats at -0.7 SE from k = 500 to 5000).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

MEASURED = {"iwae-tightens-with-k": False, "iwae-training-lower-nll": True}


def test_iwae_fashion_claims(run_default):
    result, verdicts = run_default("iwae-fashion", MEASURED)
    for claim_id, expected in MEASURED.items():
        assert verdicts[claim_id]["holds"] is expected, verdicts[claim_id]["evidence"]
    bounds = [result.metrics["bounds_iwae_seed0"][k] for k in ("1", "5", "50")]
    assert bounds == sorted(bounds)  # the part that holds: L_1 < L_5 < L_50
    for plot in result.plots:
        assert plot.exists() and plot.stat().st_size > 0
