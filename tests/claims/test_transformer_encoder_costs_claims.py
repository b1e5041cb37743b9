"""Claims of ``encoder-costs`` (DistilBERT's speed; ELMo vs a transformer over lengths),
default config, seed 0.

Asserts the verdicts that were measured; timings are medians of interleaved rounds on one
thread, so the ratios, not the milliseconds, are what the verdicts read.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# claim id -> measured verdict with the default config (2026-12-07, 4 min at load ~30)
MEASURED = {
    # 8 x 128 tokens: 6 layers 1428.6 ms, 12 layers 3071.2 ms, ratio 0.465 (<= 0.65)
    "distilbert-faster": True,
    # training step ELMo (528k LSTM params) vs a 2-layer encoder (397k): x1.48 at L=32, x1.13 at
    # L=128, x0.84 at L=512: on one CPU thread the transformer's O(L^2) attention overtakes the
    # LSTMs' sequential steps; the claim as stated fails here
    "elmo-slower-on-long-sequences": False,
}


@pytest.mark.timeout(1800)
def test_claims_verdicts(tmp_path, run_default):
    _, verdicts = run_default("encoder-costs", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        assert (tmp_path / row["plot"]).exists()
