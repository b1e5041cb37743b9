"""Claims of ``gpt-shakespeare`` (character GPT on Tiny Shakespeare in 10 minutes), default
config, seed 0.

Both claims include a wall-clock budget (10 minutes for ours, then the same wall time for
nanoGPT's CPU configuration in a plain loop), so the verdicts depend on the machine: they are
meant for an otherwise idle 2-core machine. Needs Tiny Shakespeare in $REPLEARN_DATA (skipped
without). About 20 minutes.

Experiment module: ``replearn.experiments.transformer.gpt_shakespeare``.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# claim id -> verdict with the default config, seed 0. Through the engine (2026-12-07): under
# load ~8-12, ours 1.6917 after 598 s (2083 steps) vs the plain loop 1.8553 at the same wall time:
# both hold; quiet machine, `--set baseline=false`: 1.5656 after 597 s (4187 steps).
# Before the port to the engine, on an IDLE 2-core machine
# (2026-11-26, 2 threads, `replearn run gpt-shakespeare`, 1203 s in all): ours 1.516 after 599 s
# (6614 steps, 17.0k tokens/s) vs the nanoGPT configuration in a plain loop 1.672 at the same
# wall time (13832 iterations; 1.920 at iteration 2000, published 1.88). Both hold. On a machine
# shared with other jobs both failed (ours 1.888 after 1419 steps vs 1.874), so a loaded machine
# makes this test fail: run it on an idle one.
# Issue 21 (2026-12-08): both claims rest on one training run per side (seed 0); the statements
# and evidence now say so ("one training seed per side, no seed spread"). The verdicts'
# computation did not change, so the verdicts above stand; not re-run (20 min of an idle machine).
MEASURED = {
    "gpt-val-loss-1.70-in-10-min": True,
    "gpt-beats-plain-loop-at-equal-time": True,
}


@pytest.mark.requires_data("tinyshakespeare", reason="needs Tiny Shakespeare in $REPLEARN_DATA")
def test_claims_verdicts(tmp_path, run_default):
    result, verdicts = run_default("gpt-shakespeare", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        assert (tmp_path / row["plot"]).exists()
    assert (tmp_path / "samples.txt").read_text().count("\n") >= 2
    assert result.metrics["train_wall_time_s"] <= 1.02 * result.metrics["time_budget_s"]
