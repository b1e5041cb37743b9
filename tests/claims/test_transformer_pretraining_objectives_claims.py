"""Claims of ``pretraining-objectives`` (MLM vs LM, BERT vs GPT, NSP, dynamic masking on SST-2),
default config, seed 0. Needs SST-2 and Tiny Shakespeare in $REPLEARN_DATA.

Asserts the verdicts that were measured (a claim measured as failing is asserted as failing).
"""

from __future__ import annotations

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.requires_data("sst2", "tinyshakespeare"),
]

# claim id -> measured verdict with the default config (2026-12-07, 40 min at load ~30)
# Every BERT variant ends at 0.509 dev accuracy on every seed (the majority class): with 150
# fine-tuning updates at lr 3e-4 the post-LN encoder did not leave the constant prediction,
# while the GPTs learned (scratch 0.717, LM-pretrained 0.605).
MEASURED = {
    # bert-mlm 0.509 vs gpt-lm 0.605: -9.6 points, SE 2.5
    "mlm-beats-lm-pretraining": False,
    # bert-scratch 0.509 vs gpt-scratch 0.717: -20.8 points, SE 0.6
    "encoder-beats-gpt-same-size": False,
    # 0.509 vs 0.509 on every seed: holds by the non-inferiority rule, but uninformative (both
    # predict the majority class)
    "nsp-not-needed": True,
    # 0.509 vs 0.509 on every seed: as above, uninformative
    "dynamic-masking-not-worse": True,
}


@pytest.mark.timeout(5400)
def test_claims_verdicts(tmp_path, run_default):
    _, verdicts = run_default("pretraining-objectives", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        assert (tmp_path / row["plot"]).exists()
