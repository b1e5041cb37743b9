"""Claim of ``vrnn-pen`` (default config, seed 0), pinned to the measured verdict.

Measured 2026-12-07, seed 0, 2-core machine under heavy load (2765 s wall):
- vrnn-beats-rnn: FAILS. Test nats per step: VRNN ELBO -0.2919 (importance-sampled log p
  -0.2892 with k=100) vs the RNN's exact log p -0.2893; VRNN ELBO - RNN -0.0026 (SE 0.0003 over
  3 seeds). With the default budget (600 updates) both models are still improving and the VRNN
  has not learned to use its per-step latent for the two-way turn: it matches the RNN, and its
  bound sits 0.003 nats per step below.

2026-12-08 (issue 21): the rule is now compare_seeds' one-sided 95% Student-t bound over the 3
seeds. Re-judged from the recorded numbers under compare_seeds' t bound (not re-run): lower
bound = -0.0026 - 2.920 x 0.0003 = -0.0035 nats per step <= 0: still FAILS. Default config
unchanged.
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
