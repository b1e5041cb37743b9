"""Claims of ``bert-sst2`` (pre-training vs scratch on SST-2), default config, seed 0.

Asserts the verdict that was measured (see the evidence strings); a change of verdict means the
method or the experiment changed. A claim measured as failing is asserted as failing. Needs
SST-2 and Tiny Shakespeare in $REPLEARN_DATA (skipped without).

Experiment module: ``replearn.experiments.transformer.bert_sst2``.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# claim id -> measured verdict with the default config, seed 0 (2026-11-26, quiet machine after
# the fused Q/K/V projection, 454 s wall): dev accuracy 0.7833 after MLM+NSP pre-training (1500
# steps, masked-token accuracy 0.152, NSP accuracy 0.515 = chance) vs 0.8177 from scratch, 800
# fine-tuning steps each: -3.44 points (before the fusion, under load: 0.7901 vs 0.8177, -2.75).
# Measured as failing, asserted as failing.
# Issue 21 then made the claim a verdict over 3 training seeds (compare_seeds; 750 pre-training
# and 400 fine-tuning steps per seed to keep the cost sane). The new default config was not
# re-measured (a 2-core machine at load ~25-30), so the verdict is not pinned: the test skips
# until someone measures it and writes the verdict here. Estimated cost (2026-12-07): 3 x (750 +
# 2 x 400) = 4,650 steps at ~0.15 CPU s (the one-seed run: 3,100 steps in 454 s on a quiet
# core), ~12 CPU min on a quiet core; at load ~27 (~11% of a core for a nice-19 job) over 2 h
# wall, and still ~25 min at load ~3 when the machine freed up (23:10 UTC, past the cut-off):
# not started.
# Measured 2026-12-08 with that default (3 seeds; HEAD feddf3a), `REPLEARN_DATA=/work/
# shared/data OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n 19 replearn run bert-sst2`: 3977 s
# wall, 753 CPU s (18% of a core, load average 8-15 on the shared 2-core machine). Dev accuracy
# after MLM+NSP pre-training (750 steps; masked-token accuracy 0.112, 0.112, 0.121; NSP 0.548,
# 0.495, 0.498 = chance) 0.7924, 0.7695, 0.7764 vs from scratch 0.8016, 0.7913, 0.7901 (400
# fine-tuning steps each): pre-trained - scratch = -1.49 points (per seed -0.92, -2.18, -1.38;
# SE 0.37 over 3 seeds), 95% lower bound -2.57 <= 0: fails, as the one-seed run did.
MEASURED = {"pretraining-helps-finetuning": False}


@pytest.mark.requires_data(
    "sst2", "tinyshakespeare", reason="needs SST-2 and Tiny Shakespeare in $REPLEARN_DATA"
)
def test_claims_verdicts(tmp_path, run_default):
    result, verdicts = run_default("bert-sst2", MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        if row["plot"] is not None:
            assert (tmp_path / row["plot"]).exists()
    for plot in result.plots:
        assert plot.exists() and plot.stat().st_size > 0
