"""Claims of ``rnn-memory`` (adding problem: vanilla RNN vs LSTM vs GRU), default config, seed 0.

Asserts the verdict that was measured (see the evidence strings); a change of verdict means the
method or the experiment changed. A claim measured as failing is asserted as failing.

Experiment module: ``replearn.experiments.sequence.rnn_memory``.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# claim id -> measured verdict with the default config, seed 0 (2026-11-26, under load; one seed):
# T=50: RNN 0.1813, LSTM 0.0010, GRU 0.0003; T=100: LSTM 0.0107, GRU 0.0004, RNN 0.1591.
# 2026-12-08 (issue 21): the default now trains seeds=(0, 1, 2) per network and length (test set
# fixed per run), and both claims need their thresholds on every seed. Measured 2026-12-08 after
# the change (`OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE replearn run
# rnn-memory`, default config, 18 networks, 12 min 13 s wall, 522.4 s user + 3.8 s sys CPU, load
# 3.9 -> 2.8).
MEASURED = {
    # test MSE per seed, T=50: RNN 0.1718/0.1668/0.1680, LSTM 0.0010/0.0018/0.0013, GRU
    # 0.0003/0.0003/0.0007 (baseline 0.167): gated below 0.01 and the RNN above 0.083 on every
    # seed at T=50: holds
    "gated-rnns-solve-adding-where-rnn-fails": True,
    # T=100: LSTM 0.0115/0.1667/0.0312 (seed 1 never leaves the baseline in 1500 steps), GRU
    # 0.0005/0.0005/0.0005, RNN 0.1644/0.1671/0.1663: LSTM solves 0/3 seeds: fails
    "gated-rnns-solve-long-adding": False,
}


@pytest.mark.timeout(3600)  # 18 networks: 12 min wall at load ~3, over the default 600 s
def test_claims_verdicts(tmp_path, run_default):
    result, verdicts = run_default("rnn-memory", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        if row["plot"] is not None:
            assert (tmp_path / row["plot"]).exists()
    for plot in result.plots:
        assert plot.exists() and plot.stat().st_size > 0
