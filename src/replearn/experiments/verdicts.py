"""The verdicts pinned by the slow claims tests, for ``docs/coverage.md`` and ``replearn info``.

``verdicts.json`` (next to this file) is written by ``python scripts/numbers.py`` from the
``MEASURED`` dicts of ``tests/claims/`` (each pins what the experiment's default config gave,
seed 0, as the test's comments say), never by hand: ``experiment -> claim id -> verdict``
with verdict ``holds``, ``fails`` or ``not measured``. A claim no test pins is absent and
reads ``not pinned``.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["VERDICTS_FILE", "pinned_verdict", "read_verdicts"]

VERDICTS_FILE = Path(__file__).with_name("verdicts.json")


def read_verdicts(path: Path = VERDICTS_FILE) -> dict[str, dict[str, str]]:
    """``experiment -> claim id -> verdict``; empty when the file is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def pinned_verdict(experiment: str, claim_id: str, path: Path = VERDICTS_FILE) -> str:
    """The pinned verdict of one claim (``not pinned`` when no claims test pins it)."""
    return read_verdicts(path).get(experiment, {}).get(claim_id, "not pinned")
