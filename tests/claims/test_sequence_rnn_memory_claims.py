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
# fixed per run), and both claims need their thresholds on every seed. RE-MEASUREMENT PENDING:
# the 3-seed default (~11 CPU min, estimated from 5-step timings) is being run; until its numbers
# are written here, the test is skipped rather than pinning a guess.
MEASURED: dict[str, bool | None] = {
    "gated-rnns-solve-adding-where-rnn-fails": None,
    "gated-rnns-solve-long-adding": None,
}
PENDING = "not re-measured since the 3-seed change of 2026-12-08 (default ~11 CPU min)"


@pytest.mark.skip(reason=PENDING)
@pytest.mark.timeout(3600)  # 18 networks, over the default 600 s
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
