"""Claims of ``rnn-gradients`` (vanishing / exploding gradients of a vanilla RNN, clipping,
orthogonal init), default config, seed 0.

Asserts the verdict that was measured (see the evidence strings); a change of verdict means the
method or the experiment changed. A claim measured as failing is asserted as failing.
"""

from __future__ import annotations

import pytest

# slow since 2026-12-08: the default config (5 clipping seeds) takes 24 s CPU (see below)
pytestmark = pytest.mark.slow

# claim id -> measured verdict with the default config, seed 0 (2026-11-26, under load; all five
# again 2026-12-08, see below). Statements of vanishing / exploding now say "one Gaussian draw"
# (classes a/d; issue 21); the other three verdicts re-measured in the run of clipping (below).
MEASURED = {
    "vanishing-gradients": True,
    "exploding-gradients": True,
    # Issue 21 (2026-12-08): judged over clip_seeds=5 training seeds (was one). Measured
    # 2026-12-08 after the change (`OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
    # replearn run rnn-gradients`, default config, 40 s wall, 23.1 s user + 0.8 s sys CPU, load
    # 3.4 -> 4.0): the unclipped run hits a non-finite loss on 5/5 seeds (after 20-23 steps), but
    # the clipped run improves on only 4/5: first/last 10% loss 0.446 -> 0.214, 0.311 -> 0.316
    # (seed 1: no decrease), 0.394 -> 0.254, 1.26 -> 0.266, 0.883 -> 0.323; decrease +0.3847
    # (SE 0.1791 over 5 seeds), 95% lower bound +0.0029 > 0, but not stable on every seed: fails.
    "clipping-stabilises": False,
    # measured: distance to a 1e-3 fall, median over 8 inits (tanh RNN, inputs N(0, 0.1^2)):
    # orthogonal 106 [100..110] vs Gaussian 147 [304, 118, 81, 155, >400, 139, 186, 48]. The
    # Gaussian draws have spectral radius slightly above 1 (linear-RNN log-slope +0.07/step),
    # which offsets the tanh saturation; the orthogonal ones sit exactly at 1.
    # Issue 21 (2026-12-08): judged by compare_seeds over the 8 paired draws (was: a larger
    # median). Re-measured 2026-12-08 after the change (`OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
    # nice -n 19 replearn run rnn-gradients`, default config, 73 s wall, 13.0 s user + 0.9 s
    # sys CPU, load 1.8 -> 10.2): orthogonal [100, 101, 107, 108, 108, 110, 105, 103] vs
    # Gaussian [304, 118, 81, 155, 401 (never), 139, 186, 48]; orthogonal - Gaussian = -73.75
    # steps (SE 41.74 over 8 draws; per draw -204, -17, +26, -47, -293, -29, -81, +55); 95%
    # lower bound -152.8 <= 0: fails. The other four verdicts: the same as before.
    "orthogonal-init-preserves-gradients": False,
    "orthogonal-init-isometry-linear": True,
}


def test_claims_verdicts(tmp_path, run_default):
    result, verdicts = run_default("rnn-gradients", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        if row["plot"] is not None:
            assert (tmp_path / row["plot"]).exists()
    for plot in result.plots:
        assert plot.exists() and plot.stat().st_size > 0
