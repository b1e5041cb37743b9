"""Claims of the normalization topic (``norm-compare``), default config (Fashion-MNIST), seed 0.

Each test asserts the verdict that was measured (see the evidence strings); a change
of verdict means the layers or the experiment changed. Needs the Fashion-MNIST files
under ``$REPLEARN_DATA`` (as in CI); about 1-2 minutes on 2 cores.
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

# claim id -> measured verdict with the default config, seed 0. Re-measured 2026-12-07 after
# issue 21 (`replearn run norm-compare`, 2-core machine at load ~30, 1525 s wall):
# - batchnorm-trains-faster: target loss at step 90 vs 280, final 0.557 vs 0.912 (holds);
# - batchnorm-larger-lr: largest stable rate 1 vs 0.2 (holds);
# - layernorm-batch-independent (now also checks "BatchNorm's does not"): LayerNorm 1.43e-06
#   <= 1e-05, BatchNorm 10.8 > 1e-05 (holds);
# - groupnorm-small-batch: BatchNorm drops 7.4 pp, GroupNorm -5.4 pp (holds);
# - rmsnorm-cheaper (restated: the from-scratch references; 95% interval of the median paired
#   ratio below 1): None = not pinned, because it is load-sensitive: the full run gave ratio
#   0.57 with interval 0.11-5.94 (fails), the same timing function with the default settings
#   alone gave 0.64, 0.03-0.85 (holds), both at load ~25-30; a quiet machine should decide it;
# - rmsnorm-fast-path-cheaper (new): F.rms_norm 1097 us vs fused F.layer_norm 586 us, ratio
#   1.94, interval 1.71-2.06 (fails; alone: 86-171, fails too);
# - weightnorm-decouples: identities to 1.2e-07, 1.7e-07, 1.3e-07 (holds).
MEASURED = {
    "batchnorm-trains-faster": True,
    "batchnorm-larger-lr": True,
    "layernorm-batch-independent": True,
    "groupnorm-small-batch": True,
    "rmsnorm-cheaper": None,
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
    for sub in ("none", "batch", "batch-lr1", "group-b2"):
        assert (out / sub / "metrics.jsonl").is_file()
