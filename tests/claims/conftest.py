"""Shared by the claims tests: the ``run_default`` fixture runs an experiment (default config,
seed 0) and judges it; the ``requires_data`` marker skips a test whose data sets are missing.

``@pytest.mark.requires_data("sst2", "tinyshakespeare", reason=...)`` (on a test, a
``pytest.param`` or a module's ``pytestmark``) skips, at collection, unless ``$REPLEARN_DATA``
holds every named folder; ``reason`` defaults to "needs <folders> in $REPLEARN_DATA".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from replearn.engine.context import RunContext
from replearn.engine.seed import seed_everything
from replearn.experiments.base import Result, get_experiment, judge

RunDefault = Callable[[str, dict[str, bool | None]], tuple[Result, dict[str, dict[str, Any]]]]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requires_data(*folders, reason=None): skip unless $REPLEARN_DATA holds every folder",
    )


def missing_data(folders: Iterable[str]) -> list[str]:
    """The ``folders`` that ``$REPLEARN_DATA`` lacks (all of them when it is unset or empty)."""
    root = os.environ.get("REPLEARN_DATA")
    return [f for f in folders if not (root and (Path(root) / f).is_dir())]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Add a skip mark to each test whose ``requires_data`` folders are not all there."""
    for item in items:
        for mark in item.iter_markers("requires_data"):
            if not mark.args or set(mark.kwargs) - {"reason"}:
                raise pytest.UsageError(
                    f"{item.nodeid}: use requires_data('folder', ..., reason='...')"
                )
            if missing_data(mark.args):
                default = f"needs {' and '.join(mark.args)} in $REPLEARN_DATA"
                # skipif, not skip: `-rs` then reports each test's line, as for a decorator
                item.add_marker(pytest.mark.skipif(True, reason=mark.kwargs.get("reason", default)))
                break


@pytest.fixture
def run_default(tmp_path: Path) -> RunDefault:
    """``run_default(name, measured) -> (result, verdicts by claim id)``, run in ``tmp_path``.

    Seeds everything with 0 first, as ``replearn run`` does, so the numbers are the CLI's; checks
    that the experiment's claims are exactly the ids of ``measured``, that each verdict is the
    pinned one (the evidence in the message when not), and that every plot was written. A pinned
    ``None`` is a claim the default run could not judge: its verdict must again read "not
    measured" (and not hold).
    """

    def run(
        name: str, measured: dict[str, bool | None]
    ) -> tuple[Result, dict[str, dict[str, Any]]]:
        exp = get_experiment(name)
        seed_everything(0)
        ctx = RunContext(out=tmp_path, seed=0, progress=False)
        ctx.start()
        try:
            result = exp.run(exp.config(), ctx)
        finally:
            ctx.close()
        verdicts = {row["id"]: row for row in judge(exp.claims, result.metrics)}
        assert set(verdicts) == set(measured)
        for claim_id, expected in measured.items():
            row = verdicts[claim_id]
            if expected is None:
                assert not row["holds"] and "not measured" in row["evidence"], row["evidence"]
            else:
                assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        for plot in result.plots:
            assert plot.exists() and plot.stat().st_size > 0, plot
        return result, verdicts

    return run
