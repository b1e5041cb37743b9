"""Claims of ``transformer-xl-text`` (transformer topic), default config, seed 0.

Needs Tiny Shakespeare in $REPLEARN_DATA (skipped without). About 2 min of CPU time
(10 min wall on a loaded machine).

Measured before issue 21 (one seed, 800 steps, bare ``gain > 0``; not today's default config):
- memory-lowers-val-loss holds: validation loss 1.9596 nats/char for Transformer-XL
  (segment 32, memory 32) vs 2.0183 for the same network without memory (+0.0587); at the
  first position of a segment 2.010 vs 2.616, at the last 1.852 vs 1.870.
- longer-memory-at-evaluation-helps FAILS: memory 128 at evaluation gives 1.9631, slightly
  worse than 1.9596 with the training memory 32 (-0.0035). Training only ever saw distances
  up to 63; the paper's gains come from far larger models and corpora.

Experiment module: ``replearn.experiments.transformer.transformer_xl_text``.
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

# Issue 21 then made both claims verdicts over 3 training seeds (compare_seeds; 400 steps per
# model and seed, 800 with one seed before). Re-measured 2026-12-07 (`replearn run
# transformer-xl-text`, default config, load ~30, 2133 s wall):
# - memory-lowers-val-loss holds: 2.0565 vs 2.0863 nats/char (means); vanilla - XL = +0.0298
#   (SE 0.0016 over 3 seeds; per seed +0.0272, +0.0295, +0.0328), lower bound +0.0252; first
#   position of a segment 2.075 vs 2.662.
# - longer-memory-at-evaluation-helps FAILS: 2.0573 with memory 128 vs 2.0565 with 32;
#   difference -0.0008 (SE 0.0007; per seed -0.0008, +0.0004, -0.0021), lower bound -0.0029.
MEASURED = {"memory-lowers-val-loss": True, "longer-memory-at-evaluation-helps": False}
NOT_REMEASURED: tuple[str, ...] = ()


def test_claims_verdicts(tmp_path, run_default):
    if NOT_REMEASURED:
        pytest.skip(f"not re-measured over 3 seeds (issue 21): {', '.join(NOT_REMEASURED)}")
    result, verdicts = run_default("transformer-xl-text", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        assert (tmp_path / row["plot"]).exists()
    m = result.metrics
    # where the memory helps: the first characters of a segment
    assert m["val_loss_vanilla_first_position"] - m["val_loss_xl_first_position"] > 0.3
