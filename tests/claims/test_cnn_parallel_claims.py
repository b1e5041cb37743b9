"""Claims of ``cnn-parallel`` (WaveNet / ByteNet vs a GRU: update time against length), default
config, seed 0.

Pinned from the quiet-machine run (2026-12-08 04:15 UTC, same code, load average 0.6 at the
start and 0.8 at the end): `OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
replearn run cnn-parallel --no-progress --no-report`; 32.9 s wall, 31.9 s CPU; 20 rounds.
- cnn-step-time-linear: FAILS. Median per-round log-log slope of update time vs L over
  L = 128..1024: WaveNet 0.61 (95% interval 0.57-0.66), ByteNet 0.60 (0.55-0.64), both below
  0.75 (GRU 0.97, 0.94-0.98): at these lengths and sizes a fixed per-update cost (optimizer,
  small kernels) still weighs on the convolutional models, so their time grows sublinearly.
- cnn-trains-faster-than-rnn: HOLDS. Median paired ratio CNN / GRU (95% interval): WaveNet
  0.50 (0.44-0.54), 0.34 (0.31-0.39), 0.27 (0.24-0.29), 0.24 (0.22-0.25) at L = 128, 256, 512,
  1024; ByteNet 0.83 (0.71-0.96), 0.55 (0.45-0.62), 0.41 (0.34-0.48), 0.35 (0.29-0.37).
Under load the verdict of the ByteNet L = 128 pair is not robust: the run of 02:54-02:56 UTC
(same code, load 4.1 -> 5.2, 92 s wall for 37 s CPU) gave 0.86 (0.71-1.12) there, so the
claim failed; slopes 0.61 (0.55-0.70) and 0.59 (0.52-0.62) as above.
(The 2026-12-07 run, point estimates of 5 separate updates per model, said it held.)
Timing verdicts may change with the machine and its load: rerun and update with the numbers.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

MEASURED = {"cnn-step-time-linear": False, "cnn-trains-faster-than-rnn": True}


def test_claims_verdicts(tmp_path, run_default):
    result, verdicts = run_default("cnn-parallel", MEASURED)
    for claim_id, expected in MEASURED.items():
        assert verdicts[claim_id]["holds"] is expected, verdicts[claim_id]["evidence"]
    assert (tmp_path / "step_time.png").exists()
    assert all(r["rounds"] == 20 for rs in result.metrics["ratios"].values() for r in rs)
