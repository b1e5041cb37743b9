"""Claims of ``bert-heads`` (BERT's tagging and span-QA heads on generated tasks), default
config, seed 0.

Asserts the verdicts that were measured (a claim measured as failing is asserted as failing).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# claim id -> measured verdict with the default config (2026-12-07, 20 min at load 20-35)
MEASURED = {
    # tagging accuracy 1.000 on every seed vs the best context-free tagger 0.617
    "token-head-uses-context": True,
    # exact match 0.246 (seeds 0.267, 0.240, 0.231) < 0.9: the span loss plateaus near 1.40
    # after 800 updates of a 2-layer, width-32 BERT trained from scratch. Issue 21 (2026-12-08):
    # the target must now hold on every seed (was: the mean); re-judged from the recorded
    # per-seed numbers (every seed < 0.9: False), not re-run
    "span-head-finds-answers": False,
}


@pytest.mark.timeout(3600)
def test_claims_verdicts(tmp_path, run_default):
    _, verdicts = run_default("bert-heads", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        assert (tmp_path / row["plot"]).exists()
