"""Claims of ``small-data``, default config, seed 0 (slow).

Measured 2026-12-07 (default config: digits, sizes 30/100/300/1000, 3 seeds, 300 Adam steps;
loaded 2-core machine). Mean test accuracy (%) at n = 30 -> 100 -> 300 -> 1000:
SVM 74.3 -> 92.1 -> 96.6 -> 98.1; MLP 73.6 -> 88.9 -> 91.7 -> 94.8;
CNN (LeNet-5) 66.9 -> 84.3 -> 91.3 -> 94.4; ViT 37.5 -> 61.2 -> 80.4 -> 90.5.
- accuracy-grows-with-data: holds (no dip; largest - smallest +21 to +53 points, bounds > 0).
- svm-competitive-small-data: holds. SVM - MLP +0.6 (bound -2.5), +3.2, +4.8, +3.2 points;
  tolerance 3 points.
- cnn-learns-faster-from-little-data: FAILS. At n = 30 the CNN beats the ViT by +29.4 points
  (SE 2.1) but trails the MLP by -6.7 (SE 0.7): on 8x8 digits upsampled for LeNet-5, the
  MLP learns more from 30 images.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

MEASURED = {
    "accuracy-grows-with-data": True,
    "svm-competitive-small-data": True,
    "cnn-learns-faster-from-little-data": False,
}


def test_claims_verdicts(tmp_path, run_default):
    result, verdicts = run_default("small-data", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        assert (tmp_path / row["plot"]).exists()
    assert result.metrics["cnn_vs_vit"]["holds"]  # the ViT part of the statement does hold
