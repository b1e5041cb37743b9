"""Claims of ``t5-text`` (transformer topic), default config (3 training seeds, 0-2).

Needs Tiny Shakespeare in $REPLEARN_DATA (skipped without): the default config pretrains on
it. About 9 min of CPU time on one thread (much longer wall time on a loaded machine).

Measured 2026-12-08 (default config after the switch to verdicts over seeds, code of commit
34569e2; `OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 REPLEARN_DATA=/work/shared/data nice -n 19
replearn run t5-text`): 530 s of CPU (one thread), 52 min wall on the shared 2-core machine
(load average 10-15 during the run). Held-out exact match per seed (seeds 0, 1, 2; 200 test
examples per task, the same for every seed):
  after 200 span-corruption steps + 1000 task steps: reverse 0.015, 0.020, 0.020; sort
  0.250, 0.280, 0.205; date 0.015, 0.025, 0.030 (mean over tasks 0.093, 0.108, 0.085; task
  loss 0.783, 0.841, 0.881 nats/token; pretraining loss 2.216, 2.231, 2.188);
  from scratch, 1000 task steps: reverse 0.020, 0.020, 0.040; sort 0.300, 0.245, 0.280;
  date 0.060, 0.060, 0.110 (mean 0.127, 0.108, 0.143; task loss 0.729, 0.728, 0.705).
- t5-text-one-model-many-tasks FAILS: worst seed and task 0.015 (threshold 0.9 on every task
  and seed). The outputs have the right format (ISO dates with the right month number, strings
  of about the right length) but miscopy characters; T5 has no absolute positions, so aligning
  output i with input i must be learned through the relative-bias tables, and 1000 steps at
  this size are not enough.
- t5-text-span-corruption-pretraining-helps FAILS: pretrained - scratch = -3.06 points
  (SE 1.69 over 3 seeds, paired-t; per seed -3.33, +0.00, -5.83); 95% lower bound -7.99 <= 0.
  At this scale the Shakespeare denoising does not transfer to these synthetic tasks.
(One seed, before 2026-12-08: the same two verdicts, 0.098 vs 0.132 at seed 0.)

Experiment module: ``replearn.experiments.transformer.t5_text``.
"""

from __future__ import annotations

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.requires_data(
        "tinyshakespeare",
        reason="needs Tiny Shakespeare in $REPLEARN_DATA",
    ),
]

MEASURED = {
    "t5-text-one-model-many-tasks": False,
    "t5-text-span-corruption-pretraining-helps": False,
}


@pytest.mark.timeout(3600)  # 3 seeds x 2 models: ~9 CPU min, up to 52 min wall under load
def test_claims_verdicts(tmp_path, run_default):
    result, verdicts = run_default("t5-text", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        assert (tmp_path / row["plot"]).exists()
    m = result.metrics
    assert m["n_seeds"] == 3 and len(m["exact_match_seeds"]) == 3
    # whatever the verdicts, training learned something on every seed (measured: sort
    # 0.205-0.280, task loss 0.78-0.88)
    assert min(m["exact_match_sort_seeds"]) > 0.1 and max(m["task_loss_seeds"]) < 1.0
