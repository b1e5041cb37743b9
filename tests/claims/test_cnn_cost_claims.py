"""Claims of ``cnn-cost`` (weight sharing, bottleneck blocks), default config, seed 0.

Asserts the verdicts measured on 2026-12-07 (no training; parameters and FLOPs are exact
counts, wall-clock times are reported but not judged):
- sharing-params-not-flops: locally connected / conv parameters x784, x196, x49 (= M) on
  28x28, 14x14, 7x7 maps; FLOPs ratio 1.000 on every layer.
- bottleneck-cuts-cost: basic / bottleneck conv parameters and FLOPs x16.94 at C = 64, 128, 256.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

MEASURED = {"sharing-params-not-flops": True, "bottleneck-cuts-cost": True}


def test_claims_verdicts(tmp_path, run_default):
    result, verdicts = run_default("cnn-cost", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        assert (tmp_path / row["plot"]).exists()
    assert result.metrics["sharing"][0]["params_ratio"] == 784
