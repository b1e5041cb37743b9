"""Claims of ``norm-invariances``, run with the default config and seed 0.

Measured 2026-12-07 on 2 cores at load ~20 (1003 s), re-measured with the committed code at
load ~30 (1220 s) with the same numbers: ``replearn run norm-invariances``:

* standardize-speeds-gd: holds. Training loss after 200 full-batch GD steps at each
  variant's best rate, raw - standardized = +0.814 (SE 0.004; best rates raw 1e-5,
  standardized 10); condition number of [X,1]'[X,1]/n 4.97e8 raw vs 50.4 standardized.
* layernorm-rnn: holds. Final training loss, plain - LayerNorm RNN = +0.211 (SE 0.013).
* instancenorm-contrast: holds. Accuracy drop under a x + b: InstanceNorm 0.0 on every
  seed (relative logit change <= 8.3e-4), BatchNorm 51.8, 45.4, 52.7 points.
* spectral-norm-lipschitz: FAILS on its first bound: with spectral norm the product of
  the layers' exact norms is 1.150 (1.094, 1.003, 1.047), above 1.1: one power iteration
  per forward underestimates sigma(W) while W moves. The rest holds: the largest measured
  Jacobian norm 1.011 <= 1.150; without spectral norm the product is 27.8 (Jacobian 24.7).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

MEASURED = {
    "standardize-speeds-gd": True,
    "layernorm-rnn": True,
    "instancenorm-contrast": True,
    "spectral-norm-lipschitz": False,
}


def test_claims_verdicts(run_default):
    result, _ = run_default("norm-invariances", MEASURED)
    lip = result.metrics["lipschitz"]
    for name in ("spectral", "plain"):  # the bound itself always holds
        assert lip[name]["max_jacobian"] <= lip[name]["bound"]
