"""Shared fixtures: the data folder comes from $REPLEARN_DATA (CI: ../shared/data).

Without it (a fresh clone, offline) the loaders fall back to the small stand-ins in
tests/fixtures/data (``$REPLEARN_FIXTURE_DATA``, digests pinned in
``replearn.data.sources.FIXTURES``) for the files a test needs; a real file that is
present is always preferred and verified against its real digest.
"""

from __future__ import annotations

import os

# Two OpenMP threads spin-waiting on a loaded 2-core machine make tiny ops ~100x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
FIXTURE_DATA = REPO / "tests" / "fixtures" / "data"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "data_files: reads a data file (real, else a stand-in in tests/fixtures/data)"
    )


@pytest.fixture(autouse=True)
def _offline_and_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test downloads anything; stand-ins for absent files; torch on two cores."""
    monkeypatch.setenv("REPLEARN_OFFLINE", "1")
    monkeypatch.setenv("REPLEARN_FIXTURE_DATA", str(FIXTURE_DATA))
    torch.set_num_threads(min(2, os.cpu_count() or 1))


def shared_data() -> Path | None:
    """The folder named by $REPLEARN_DATA when it holds the files, else None."""
    root = os.environ.get("REPLEARN_DATA")
    if root and (Path(root) / "fashion-mnist").is_dir():
        return Path(root)
    return None


needs_data = pytest.mark.skipif(shared_data() is None, reason="REPLEARN_DATA not set")
