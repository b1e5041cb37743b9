"""Claims of ``long-range-models`` (LSTM, GRU, S4 HiPPO/random, transformer on delayed recall),
default config, seed 0.

Asserts the verdicts that were measured (a claim measured as failing is asserted as failing);
a change of verdict means the method or the experiment changed.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# claim id -> measured verdict with the default config (2026-12-07, 42 min at load 20-35)
# 2026-12-08 (issue 21 check): every claim already uses compare_seeds over 3 seeds; the
# statements "of comparable size" / "at equal size" now say "of the same width" (the verdicts
# never checked parameter counts; they are in the evidence). The "trains faster" part of
# transformer-beats-rnn-long-range now reads 95% intervals of paired time ratios (time_updates:
# time_rounds, 15 rounds). Whole default re-run after that change (2026-12-08,
# `OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 replearn run long-range-models --no-progress`, 501 s wall,
# 113 s CPU, load average 5.7 -> 4.9 on the shared 2-core machine): every accuracy identical to
# 2026-12-07's, every verdict the same.
MEASURED = {
    # L = 16, 400 updates: GRU 0.450, LSTM 0.116 (chance 0.125): the LSTM had not left chance
    # in this budget while the GRU had begun to learn (per seed +14.0, +79.0, +7.3 points); the
    # 90% interval [-33.3, +100.2] is far from inside +-5: parity is not shown
    "gru-matches-lstm": False,
    # L = 128: S4-HiPPO 0.303, S4-random 0.225; +7.8 points, SE 5.3, lower bound -7.7
    "s4-hippo-beats-random": False,
    # L = 128: S4-HiPPO 0.303 vs LSTM 0.125; +17.8 points, SE 2.4, lower bound +10.8
    "s4-beats-lstm-long": True,
    # accuracy holds (transformer 0.876 vs LSTM 0.125, +75.1 points, lower bound +40.2) but the
    # transformer's training update is slower on one CPU thread: t(transformer) / t(LSTM) 1.73
    # (95% interval 1.33-1.96) at L=32, 2.34 (1.89-2.51) at L=128, 4.90 (4.60-5.46) at L=512
    # (46 vs 28 ms, 969 vs 196 ms); the LSTM's growth from 32 to 512 over the transformer's x0.364
    # (0.299-0.447): the transformer's O(L^2) attention grows faster (the GPT also has 29k
    # parameters with its position table vs the LSTM's 9k). This test itself, the same code, at
    # load ~3 (179 s wall, 119 s CPU): the same accuracies; ratios 1.97 (1.85-3.55), 2.29
    # (1.85-2.82), 4.00 (3.40-5.01), growth x0.513 (0.468-0.654)
    "transformer-beats-rnn-long-range": False,
}


@pytest.mark.timeout(5400)
def test_claims_verdicts(tmp_path, run_default):
    _, verdicts = run_default("long-range-models", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        assert (tmp_path / row["plot"]).exists()
