"""Claims of ``xor-stuck``, default config, seed 0 (slow).

Measured 2026-12-07 (``replearn run xor-stuck``, default config, seed 0; loaded machine):
- xor-some-inits-stuck: H=2: 21/200 initializations stuck (0.105), 179/200 solved;
  H=3: 1 stuck, 199 solved; H=8: 0 stuck, 200 solved.
- xor-wider-less-stuck: stuck fraction 0.105 (H=2) vs 0.000 (H=8), difference +0.105,
  SE 0.022 (> 2 SE).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

MEASURED = {"xor-some-inits-stuck": True, "xor-wider-less-stuck": True}


def test_claims_verdicts(tmp_path, run_default):
    result, verdicts = run_default("xor-stuck", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        assert (tmp_path / row["plot"]).exists()
    assert result.metrics["h2_stuck"] + result.metrics["h2_solved"] <= 200
