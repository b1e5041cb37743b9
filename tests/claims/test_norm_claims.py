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

# claim id -> measured verdict with the default config, seed 0
MEASURED = {
    "batchnorm-trains-faster": True,
    "batchnorm-larger-lr": True,
    "layernorm-batch-independent": True,
    "groupnorm-small-batch": True,
    "rmsnorm-cheaper": True,
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
