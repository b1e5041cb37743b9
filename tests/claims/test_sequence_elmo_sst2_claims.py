"""Claims of ``elmo-sst2`` (frozen ELMo vs static features on SST-2), default config, seed 0.

Asserts the verdict that was measured (see the evidence string); a change of verdict
means the method or the experiment changed. A claim measured as failing is asserted as
failing. Needs the SST-2 files in $REPLEARN_DATA (skipped without).
"""

from __future__ import annotations

import pytest

# claim id -> measured verdict with the default config, seed 0. Measured (under load, 17 min):
# fails. SST-2 dev accuracy 0.644 with frozen ELMo features vs 0.648 with the biLM's static
# token embeddings (gap -0.003); test 0.632 vs 0.629; the biLM, pretrained for 600 steps on
# the train phrases, reaches a dev perplexity of 145; mixing weights s = [0.291, 0.579, 0.13].
MEASURED = {"contextual-beats-static": False}


pytestmark = [
    pytest.mark.slow,
    pytest.mark.requires_data("sst2", reason="needs SST-2 in $REPLEARN_DATA"),
]


@pytest.mark.skip(
    reason="verdict rule changed to compare_seeds (3 seeds) on 2026-12-08; default re-run pending"
)
@pytest.mark.timeout(2400)  # a biLM and two classifiers: ~17 min on 2 loaded cores
def test_claims_verdicts(tmp_path, run_default):
    result, verdicts = run_default("elmo-sst2", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        if row["plot"] is not None:
            assert (tmp_path / row["plot"]).exists()
    for plot in result.plots:
        assert plot.exists() and plot.stat().st_size > 0
