"""Claims of ``encoder-costs`` (DistilBERT's speed; ELMo vs a transformer over lengths),
default config, seed 0.

Asserts the verdicts that were measured; timings are medians of interleaved rounds on one
thread, so the ratios, not the milliseconds, are what the verdicts read.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# claim id -> measured verdict with the default config, seed 0 (issue 21: paired rounds, verdicts
# on the 95% sign-test interval of the median time ratio). Measured 2026-12-08 after the last
# code change: `OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 replearn run encoder-costs --no-progress`,
# 39 s wall, 21.9 s CPU (user + sys), load average 3.4 -> 4.0 on the shared 2-core machine.
MEASURED = {
    # 8 x 128 tokens, 15 rounds: 6 layers 102 ms vs 12 layers 192 ms (medians), ratio 0.517,
    # 95% interval 0.487-0.544, below 0.65. (2026-12-07, old point rule, load ~30: 0.465.)
    "distilbert-faster": True,
    # ELMo (528k LSTM params) over a 2-layer encoder (397k): x1.27 (1.15-1.57) at L=32, x1.19
    # (1.10-1.30) at L=128, x0.861 (0.745-0.919) at L=512; growth 32->128 x0.92 (0.69-0.998),
    # 128->512 x0.751 (0.621-0.777). On one CPU thread the transformer's O(L^2) attention
    # overtakes the LSTMs' sequential steps: the ratio shrinks, the claim as stated fails
    "elmo-slower-on-long-sequences": False,
}


@pytest.mark.timeout(900)
def test_claims_verdicts(tmp_path, run_default):
    _, verdicts = run_default("encoder-costs", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        assert (tmp_path / row["plot"]).exists()
