"""Claims of ``cnn-parallel`` (WaveNet / ByteNet vs a GRU: step time against length), default
config, seed 0.

Measured 2026-12-07 on 2 heavily loaded cores (load ~30, OMP_NUM_THREADS=1), so the times
are noisy; the verdicts compare models timed in the same run:
- cnn-step-time-linear: FAILS. Log-log slope of step time vs L over L = 128..1024: WaveNet
  0.30, ByteNet 0.41 (GRU 0.94): at these lengths and sizes a fixed per-update cost (engine,
  optimizer, small kernels) dominates the convolutional models' time, so it grows sublinearly.
- cnn-trains-faster-than-rnn: HOLDS. GRU / CNN step time at L = 128, 256, 512, 1024: vs
  WaveNet (53k params; GRU H=92) 1.56, 2.83, 1.90, 7.82; vs ByteNet (21k; GRU H=56) 1.20,
  2.17, 1.31, 3.25.
Timing verdicts may change on another machine: rerun and update with the numbers if so.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

MEASURED = {"cnn-step-time-linear": False, "cnn-trains-faster-than-rnn": True}


def test_claims_verdicts(tmp_path, run_default):
    _, verdicts = run_default("cnn-parallel", MEASURED)
    for claim_id, expected in MEASURED.items():
        assert verdicts[claim_id]["holds"] is expected, verdicts[claim_id]["evidence"]
    assert (tmp_path / "step_time.png").exists()
