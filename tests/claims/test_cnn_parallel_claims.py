"""Claims of ``cnn-parallel`` (WaveNet / ByteNet vs a GRU: update time against length), default
config, seed 0.

Measured 2026-12-08 02:54-02:56 UTC after the last code change (interleaved rounds, verdicts on
95% intervals): `OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE replearn run
cnn-parallel --out /tmp/t1/cnn-parallel --no-progress`, 2-core machine shared with other jobs,
load average 4.1 at the start and 5.2 at the end (above 3: the times are stretched and noisy;
the verdicts compare models timed in the same rounds); 92 s wall, 37 s CPU; 20 rounds.
- cnn-step-time-linear: FAILS. Median per-round log-log slope of update time vs L over
  L = 128..1024: WaveNet 0.61 (95% interval 0.55-0.70), ByteNet 0.59 (0.52-0.62), both below
  0.75 (GRU 0.97, 0.91-1.07): at these lengths and sizes a fixed per-update cost (optimizer,
  small kernels) still weighs on the convolutional models, so their time grows sublinearly.
- cnn-trains-faster-than-rnn: FAILS, at one length only. Median paired ratio CNN / GRU
  (95% interval): WaveNet 0.52 (0.41-0.63), 0.37 (0.32-0.42), 0.30 (0.23-0.35), 0.26
  (0.19-0.27) at L = 128, 256, 512, 1024; ByteNet 0.86 (0.71-1.12) at L = 128, then 0.59
  (0.50-0.72), 0.47 (0.42-0.57), 0.35 (0.28-0.40): ByteNet (21k params, GRU H=56) is not
  shown faster at L = 128, so "at every measured length" is not established.
  (The 2026-12-07 run, point estimates of 5 separate updates per model, said it held.)
Timing verdicts may change with the machine and its load: rerun and update with the numbers.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

MEASURED = {"cnn-step-time-linear": False, "cnn-trains-faster-than-rnn": False}


def test_claims_verdicts(tmp_path, run_default):
    result, verdicts = run_default("cnn-parallel", MEASURED)
    for claim_id, expected in MEASURED.items():
        assert verdicts[claim_id]["holds"] is expected, verdicts[claim_id]["evidence"]
    assert (tmp_path / "step_time.png").exists()
    assert all(r["rounds"] == 20 for rs in result.metrics["ratios"].values() for r in rs)
