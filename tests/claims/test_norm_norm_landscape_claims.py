"""Claims of ``norm-landscape``, run with the default config and seed 0.

Measured 2026-12-07 on 2 cores at load ~20-30 (732 s): ``replearn run norm-landscape``:

* batchnorm-smooths-landscape: holds. Trajectory mean of the effective beta-smoothness
  BN 3.29, 3.01, 3.53 vs none 8.18, 11.8, 9.29 (difference 6.49, SE 1.19); largest
  gradient change BN 0.13, 0.13, 0.11 vs none 1.48, 3.34, 2.32 (difference 2.26, SE 0.54).
* batchnorm-init-scale: holds. Worst validation accuracy over init scales 0.1x-10x:
  BN 0.955, 0.951, 0.951; none 0.0, 0.104, 0.0 (the 0.1x, 0.3x and 10x plain MLPs fail).
* batchnorm-before-activation: FAILS. Final training loss BN before ReLU 0.0019, 0.0006,
  0.0031 vs after 0.0024, 0.0055, 0.0029: +0.0018 in favour of "before", SE 0.0016.
* weightnorm-eases-optimization: FAILS. Weight-normed MLP 0.044, 0.053, 0.396 vs plain
  0.0057, 0.012, 0.047: weight norm is *worse* at the same rate here (-0.14, SE 0.10).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

MEASURED = {
    "batchnorm-smooths-landscape": True,
    "batchnorm-init-scale": True,
    "batchnorm-before-activation": False,
    "weightnorm-eases-optimization": False,
}


def test_claims_verdicts(run_default):
    run_default("norm-landscape", MEASURED)
