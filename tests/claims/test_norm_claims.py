"""Claims of the normalization topic (``norm-compare``), default config (Fashion-MNIST), seed 0.

Each test asserts the verdict that was measured (see the evidence strings); a change
of verdict means the layers or the experiment changed. Needs the Fashion-MNIST files
under ``$REPLEARN_DATA`` (as in CI); about 2.5 CPU minutes (one thread).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from replearn.engine.context import RunContext
from replearn.experiments.base import get_experiment, judge

pytestmark = [
    pytest.mark.slow,
    pytest.mark.requires_data(
        "fashion-mnist",
        reason="norm-compare's default config needs Fashion-MNIST under $REPLEARN_DATA",
    ),
]

# claim id -> measured verdict with the default config, seed 0. Re-measured 2026-12-08 after
# issue 21 made the comparisons verdicts over 3 training seeds (compare_seeds: paired by seed,
# one-sided 95% Student-t lower bound): `OMP_NUM_THREADS=1 REPLEARN_DATA=/work/shared/data
# nice -n 19 replearn run norm-compare`, 2-core machine at load ~13-16: 972 s wall, 146.7 CPU s
# (the one-seed default of 2026-12-07: 1525 s wall at load ~30).
# - batchnorm-trains-faster (3 seeds): target loss 0.8 first reached at step 90, 100, 100
#   (BatchNorm) vs 280, 280, 290 (none): 186.7 fewer steps (SE 3.3), lower bound 176.9; final
#   training loss 0.557, 0.576, 0.515 vs 0.912, 0.884, 0.788: 0.312 lower (SE 0.024; per seed
#   0.354, 0.308, 0.273), lower bound 0.243: holds (held with one seed);
# - batchnorm-larger-lr (one seed, stated so): largest stable rate 1 vs 0.2: holds. Re-measured
#   2026-12-08 after the sweep was repeated over the 3 seeds (verdict: higher on every seed;
#   `OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE REPLEARN_DATA=/work/shared/data
#   replearn run norm-compare`, 553 s wall, 171.6 s user + 2.7 s sys CPU, load 1.9 -> 3.9):
#   BatchNorm 1, 1, 1 vs none 0.2, 0.2, 0.2 (final loss at lr 1: BatchNorm 0.650, 0.589,
#   0.560, none 2.347, 2.377, 2.326): holds. In that run the four other non-timing verdicts and
#   their numbers were those below; rmsnorm-fast-path-cheaper failed again (ratio 2.04,
#   interval 1.88-2.17); rmsnorm-cheaper gave 0.70, interval 0.59-0.80 (below);
# - layernorm-batch-independent (every one of 3 seeds): LayerNorm 1.43e-06, 1.91e-06,
#   1.43e-06 <= 1e-05, BatchNorm 10.8, 11.0, 10.9 > 1e-05: holds;
# - groupnorm-small-batch (3 seeds): test accuracy batch 32 -> 2, BatchNorm 0.7402, 0.7166,
#   0.7285 -> 0.6659, 0.6871, 0.6965; GroupNorm 0.6308, 0.6801, 0.7016 -> 0.6846, 0.6882,
#   0.7087. BatchNorm's drop - GroupNorm's = +6.83 points (SE 2.99; per seed +12.81, +3.76,
#   +3.91), lower bound -1.91 <= margin 1 point; GroupNorm - BatchNorm at batch 2 = +1.07
#   points (SE 0.51; per seed +1.87, +0.11, +1.22), lower bound -0.43: FAILS (it held with
#   one seed, whose +12.8-point difference the other two seeds do not repeat);
# - rmsnorm-cheaper (timing): until 2026-12-08 03:30 timed in wall-clock rounds, load-sensitive
#   (0.59 with interval 0.05-0.72, 0.57 with 0.11-5.94, 0.64 with 0.03-0.85 at load ~13-30:
#   not pinned). Since commit 0ad9bee the rounds are timed in the CPU time of the thread
#   (norm.measure.time_fwd_bwd). The run above (started 03:42, after that commit; load 1.9 ->
#   3.9): reference RMSNorm 836 us vs reference LayerNorm 1244 us, paired ratio 0.70, 95%
#   interval 0.59-0.80: holds (a check of the timing function alone at load ~4 gave 0.63
#   (0.48-0.73) and 0.73 (0.62-0.83));
# - rmsnorm-fast-path-cheaper (timing): F.rms_norm 853 us vs fused F.layer_norm 418 us, ratio
#   2.19, interval 1.78-2.61 (fails, as on 2026-12-07);
# - weightnorm-decouples (identities): 1.2e-07, 1.7e-07, 1.3e-07 (holds).
MEASURED = {
    "batchnorm-trains-faster": True,
    "batchnorm-larger-lr": True,
    "layernorm-batch-independent": True,
    "groupnorm-small-batch": False,
    "rmsnorm-cheaper": True,
    "rmsnorm-fast-path-cheaper": False,
    "weightnorm-decouples": True,
}


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, list[Path]]:
    exp = get_experiment("norm-compare")
    out = tmp_path_factory.mktemp("norm-compare")
    ctx = RunContext(out=out, seed=0, progress=False)
    ctx.start()
    try:
        result = exp.run(exp.config(), ctx)
    finally:
        ctx.close()
    rows = {row["id"]: row for row in judge(exp.claims, result.metrics)}
    return rows, out, result.plots


def test_every_claim_is_measured(measured) -> None:
    rows, _, _ = measured
    assert set(rows) == set(MEASURED)


@pytest.mark.parametrize("claim_id", sorted(MEASURED))
def test_claim_verdict(measured, claim_id: str) -> None:
    rows, out, _ = measured
    row = rows[claim_id]
    print(f"{claim_id}: {'holds' if row['holds'] else 'fails'} - {row['evidence']}")
    if MEASURED[claim_id] is None:
        pytest.skip(f"{claim_id}: load-sensitive timing verdict, not pinned")
    assert row["holds"] is MEASURED[claim_id], f"{claim_id}: {row['evidence']}"
    if row["plot"] is not None:
        assert (out / row["plot"]).is_file()


def test_plots_and_sub_runs_are_written(measured) -> None:
    _, out, plots = measured
    assert {p.name for p in plots} == {"loss_curves.png", "lr_sweep.png", "small_batch.png"}
    for plot in plots:
        assert plot.stat().st_size > 0
    for sub in ("none", "batch", "batch-lr1", "group-b2", "seed1/layer", "seed2/batch-b2"):
        assert (out / sub / "metrics.jsonl").is_file()
