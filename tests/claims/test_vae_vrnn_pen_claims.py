"""Claim of ``vrnn-pen`` (default config, seed 0), pinned to the measured verdict.

Measured 2026-12-07, seed 0, 2-core machine under heavy load (2765 s wall):
- vrnn-beats-rnn: FAILS. Test nats per step: VRNN ELBO -0.2919 (importance-sampled log p
  -0.2892 with k=100) vs the RNN's exact log p -0.2893; VRNN ELBO - RNN -0.0026 (SE 0.0003 over
  3 seeds). With the default budget (600 updates) both models are still improving and the VRNN
  has not learned to use its per-step latent for the two-way turn: it matches the RNN, and its
  bound sits 0.003 nats per step below.

2026-12-08 (issue 21): the rule is now compare_seeds' one-sided 95% Student-t bound over the 3
seeds. Re-measured after the change: ``OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n 19 replearn
run vrnn-pen``, load ~8: 451 s wall, 169 s CPU (result.json cpu_time_s); numbers identical to
2026-12-07. VRNN ELBO - RNN log p = -0.0026 nats per step (SE 0.00034; per seed -0.0025,
-0.0032, -0.0020); 95% t lower bound -0.0036 <= 0: still FAILS.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

MEASURED = {"vrnn-beats-rnn": False}


def test_vrnn_pen_claims(run_default):
    result, verdicts = run_default("vrnn-pen", MEASURED)
    for claim_id, expected in MEASURED.items():
        assert verdicts[claim_id]["holds"] is expected, verdicts[claim_id]["evidence"]
    m = result.metrics
    assert m["vrnn_ll_mean"] >= m["vrnn_elbo_mean"] - 1e-3  # the ELBO is below the estimate
    for plot in result.plots:
        assert plot.exists() and plot.stat().st_size > 0
