"""Measured run times of experiments' presets, for ``replearn info NAME``.

``timings.json`` (next to this file) is written by ``scripts/time_presets.py`` from finished
run folders, never by hand: for each experiment and preset the wall and CPU seconds of one
run, the 1-minute load average when it started, torch threads, CPU count, commit and date.
On a shared machine the wall time grows with the load while the CPU time barely moves, so
both are shown; for these small models on 2 cores the CPU seconds are close to what a quiet
machine takes in wall time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["TIMINGS_FILE", "expected_time_lines", "read_timings"]

TIMINGS_FILE = Path(__file__).with_name("timings.json")


def read_timings(path: Path = TIMINGS_FILE) -> dict[str, dict[str, dict[str, Any]]]:
    """``experiment -> preset -> record``; empty when the file is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _describe(record: dict[str, Any]) -> str:
    load = record.get("load_1min")
    cores = record.get("cpu_count")
    where = f"{cores} cores" if cores else "?"
    cpu = record.get("cpu_s")
    text = f"{record.get('wall_s', '?')} s wall" + (f", {cpu} s CPU" if cpu else "")
    text += f" on {where}"
    if load is None:
        text += ", load not recorded"
    else:
        text += f", load {load}" + (" (machine shared: wall time inflated)" if load > 2 else "")
    return text + f"; measured {record.get('date') or '?'} at {record.get('git_commit') or '?'}"


def expected_time_lines(name: str, presets: list[str], path: Path = TIMINGS_FILE) -> list[str]:
    """One line per preset (``default`` first): its measured time, or that none was measured."""
    measured = read_timings(path).get(name, {})
    lines = []
    for preset in ["default", *presets]:
        record = measured.get(preset)
        text = _describe(record) if isinstance(record, dict) else "not measured yet"
        lines.append(f"  {preset}: {text}")
    return lines
