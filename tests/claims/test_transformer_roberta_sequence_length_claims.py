"""Claims of ``roberta-sequence-length`` (RoBERTa's full-length pre-training sequences vs BERT's
90/10 recipe and vs short sequences, on generated topic-mixture text), default config, seed 0.
Reads no data file.

Asserts the verdicts that were measured (a claim measured as failing is asserted as failing).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# claim id -> measured verdict with the default config (2026-12-07, `replearn run
# roberta-sequence-length`, 269 s wall / 106 CPU s at load ~7 on 2 cores). Held-out MLM loss
# in nats (uniform guess ln 95 = 4.554): short 4.2990 (reading 32-token windows) / 4.3041
# (reading 128), bert-recipe 4.3267, full-length 4.3023 (reading 128) / 4.3113 (reading 32).
# In 250 updates the encoders learn mostly the local (bigram) statistics: reading 128 instead
# of 32 tokens barely changes any model's loss, so longer context is not exploited yet.
MEASURED = {
    # loss of full-length - bert-recipe = -0.0244 nats (SE 0.0052, 3 seeds; per seed -0.028,
    # -0.031, -0.014; 95% bound of the improvement +0.009 > 0): holds, but bert-recipe is
    # also worse than `short` (4.327 vs 4.304 reading 128 tokens), so the gap comes from
    # BERT's phase switch (new data length, second warm-up), not from long-range context
    "full-length-beats-bert-recipe": True,
    # loss of full-length (128) - short (32-token windows) = +0.0033 nats (SE 0.0073; per seed
    # -0.005, -0.003, +0.018): fails
    "longer-context-helps": False,
}


@pytest.mark.timeout(3600)
def test_claims_verdicts(tmp_path, run_default):
    _, verdicts = run_default("roberta-sequence-length", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        assert (tmp_path / row["plot"]).exists()
