"""Claim of ``gru-mnist1d`` (default config, seed 0), run through the CLI as the README does.

The claim (issue 14's record): test accuracy >= 0.98 and wall time <= 30 s on 2 cores, data
generation and evaluation included. The accuracy is deterministic given the seed; the time
depends on the machine.

Measured (2026-12-08, after the final code change: the recipe chosen on validation, retrained
on all 4,000 training signals, 1,612 updates; seed 0; ``OMP_NUM_THREADS=1 replearn run
gru-mnist1d --out /tmp/h14/gru-mnist1d --no-progress``, load 1.6-2.4 on 2 cores): test accuracy
0.9790 (979 of 1,000), 49.7 s wall, 49.7 CPU s (runner); with two threads (load 1-2) the same
0.9790 in 96.6 s wall. The accuracy part fails, so the claim fails whatever the wall time.
Timed by the lead on the quiet machine (2026-12-08 04:20, load 0.9): one thread 48.3 s wall
(46.7 s training), two threads 102.5 s wall (87 s user CPU: the two threads of this small
GRU wait on each other), both 0.9790: the time part fails too. Pinned: the verdict is the
conjunction of the two parts read from ``result.json``, and it fails on the accuracy part (one
signal short; one and two threads gave the same 979). Earlier: 26 epochs of 3,600 signals,
test 0.9720 (validation 0.9750), 2026-12-07 under load ~28; 12 epochs, claim ">= 91% in
<= 60 s": 0.9390, 94.2% in 11.3 s on 2 quiet cores.

2026-12-08 (issue 21): the statement says "one training run (one seed)": a record attempt is a
property of one trained model and its wall time (classes d and b).
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

MEASURED = {"gru-mnist1d-98-in-30s": False}


def test_gru_mnist1d_claim(tmp_path):
    from replearn.cli import main

    out = tmp_path / "gru"
    assert main(["run", "gru-mnist1d", "--no-progress", "--no-report", "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    (claim,) = result["claims"]
    print(f"gru-mnist1d {claim['id']}: {claim['evidence']}")
    assert claim["id"] == "gru-mnist1d-98-in-30s"
    assert 0.0 <= result["test_accuracy"] <= 1.0 and result["wall_time_s"] > 0.0
    expected = result["test_accuracy"] >= 0.98 and result["wall_time_s"] <= 30.0
    assert claim["holds"] is expected, claim["evidence"]
    assert result["test_accuracy"] < 0.98, claim["evidence"]
    assert claim["holds"] is MEASURED[claim["id"]], claim["evidence"]
