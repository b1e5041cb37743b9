"""Claims of ``t5-text`` (transformer topic), default config, seed 0.

Needs Tiny Shakespeare in $REPLEARN_DATA (skipped without): the default config pretrains on
it. About 2.5 min of CPU time on one thread (much longer wall time on a loaded machine).

Measured (default config, seed 0, `replearn run t5-text`, under load):
- t5-text-one-model-many-tasks FAILS: held-out exact match reverse 0.015, sort 0.255,
  date 0.025 after 200 span-corruption steps and 1000 task steps (task loss 0.80
  nats/token). The outputs have the right format (ISO dates with the right month number,
  strings of about the right length) but miscopy characters; probably because T5 has no
  absolute positions, so aligning output i with input i must be learned through the
  relative-bias tables, and 1000 steps at this size are not enough.
- t5-text-span-corruption-pretraining-helps FAILS: mean exact match 0.098 after
  pretraining vs 0.132 from scratch (pretraining loss 2.217 nats/token after 200 steps;
  from-scratch task loss 0.756 vs 0.804 with pretraining). At this scale and length the
  Shakespeare denoising does not transfer to these synthetic tasks.
Run time: 2 min 20 s of CPU (one thread), 12 min wall on the loaded 2-core machine.

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


@pytest.mark.skip(
    reason="verdict rule changed to compare_seeds (3 seeds) on 2026-12-08; default re-run pending"
)
def test_claims_verdicts(tmp_path, run_default):
    result, verdicts = run_default("t5-text", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        assert (tmp_path / row["plot"]).exists()
    m = result.metrics
    # whatever the verdicts, training learned something (measured: sort 0.255, loss 0.80)
    assert m["exact_match_sort"] > 0.1 and m["task_loss"] < 1.0
