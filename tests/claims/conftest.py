"""Shared fixture of the claims tests: run an experiment (default config, seed 0), judge it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from replearn.engine.context import RunContext
from replearn.engine.seed import seed_everything
from replearn.experiments.base import Result, get_experiment, judge

RunDefault = Callable[[str, dict[str, bool]], tuple[Result, dict[str, dict[str, Any]]]]


@pytest.fixture
def run_default(tmp_path: Path) -> RunDefault:
    """``run_default(name, measured) -> (result, verdicts by claim id)``, run in ``tmp_path``.

    Seeds everything with 0 first, as ``replearn run`` does, so the numbers are the CLI's; checks
    that the experiment's claims are exactly the ids of ``measured``.
    """

    def run(name: str, measured: dict[str, bool]) -> tuple[Result, dict[str, dict[str, Any]]]:
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
        return result, verdicts

    return run
