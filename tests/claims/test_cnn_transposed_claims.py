"""Claims of ``cnn-transposed`` (adjoint, learnable upsampler), default config, seed 0.

Measured 2026-12-07 (under load, OMP_NUM_THREADS=1, 22 s):
- transposed-is-adjoint: 33 (K, S, P) cases, largest relative gap 3.8e-14; C^T C x vs x
  relative error >= 3.0 (not an inverse).
- transposed-learns-upsampling: test MSE 4x4 -> 8x8 digits, learned 0.0430 (3 seeds) vs
  bilinear 0.0526, nearest 0.0490; difference +0.0096, SE 7e-6, 95% lower bound +0.0096.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

MEASURED = {"transposed-is-adjoint": True, "transposed-learns-upsampling": True}


def test_claims_verdicts(tmp_path, run_default):
    _, verdicts = run_default("cnn-transposed", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
    assert (tmp_path / "upsampling.png").exists()
