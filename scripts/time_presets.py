"""Record how long experiments' presets took, from finished run folders, for ``replearn info``.

    python scripts/time_presets.py runs/claims-quick            # every run folder below it
    python scripts/time_presets.py runs/a runs/b --dry-run      # print, write nothing

Every folder below the given ones that holds a finished run (``config.json`` naming a
registered experiment and its preset, ``result.json`` with the runner's ``wall_time_s`` and
``cpu_time_s`` (runs before 2026-12-07 22:00 UTC recorded no CPU time and no load),
``env.json``) gives one measurement: experiment, preset, wall and CPU seconds,
the 1-minute load average when it started, torch threads, CPU count, git commit and date. The
measurements are merged into ``src/replearn/experiments/timings.json`` (a newer run of the
same experiment and preset replaces an older one; runs with a ``--set`` override, under
``--reference`` or on another device than the CPU are not the preset and are skipped), and
``replearn info NAME`` prints them as the expected time. Nothing here is typed by hand: the
file holds what the runs measured, and a run under load says so (its load average).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

from replearn import registry  # noqa: E402
from replearn.config import to_dict  # noqa: E402
from replearn.experiments.timings import TIMINGS_FILE, read_timings  # noqa: E402


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def measurement(run_dir: Path) -> tuple[str, str, dict[str, Any]] | None:
    """``(experiment, preset, record)`` of one finished run folder, or None if it is not one."""
    config, result, env = (_read(run_dir / f) for f in ("config.json", "result.json", "env.json"))
    if not config or not result or not env:
        return None
    name, preset = config.get("experiment"), config.get("preset") or "default"
    if not isinstance(name, str) or "wall_time_s" not in result:
        return None
    if config.get("reference") or env.get("device", "cpu") != "cpu":
        return None
    try:
        exp = registry.get(name, kind="experiment").obj
    except KeyError:
        return None
    if preset != "default" and preset not in exp.presets:
        return None
    as_preset = exp.make_config(None if preset == "default" else preset)
    if json.loads(json.dumps(to_dict(as_preset))) != config.get("config"):
        return None  # run with --set overrides: not the preset
    mtime = (run_dir / "result.json").stat().st_mtime
    record = {
        "wall_s": round(float(result["wall_time_s"]), 1),
        "cpu_s": round(float(result["cpu_time_s"]), 1) if "cpu_time_s" in result else None,
        "load_1min": env.get("load_average_1min"),
        "torch_threads": env.get("torch_threads"),
        "cpu_count": env.get("cpu_count"),
        "git_commit": env.get("git_commit"),
        "date": datetime.fromtimestamp(mtime, tz=timezone.utc).strftime("%Y-%m-%d"),
    }
    return name, preset, record


def _rank(record: dict[str, Any]) -> tuple[bool, str, float]:
    """Measurements with CPU time beat those without; then the newer day; then the quieter."""
    load = record.get("load_1min")
    return (
        record.get("cpu_s") is not None,
        record.get("date", ""),
        -float(load) if load is not None else -float("inf"),
    )


def harvest(roots: list[Path]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every measurement below ``roots`` (each root itself may be a run folder)."""
    found = []
    for root in roots:
        for config in sorted([root / "config.json", *root.rglob("config.json")]):
            if config.is_file():
                m = measurement(config.parent)
                if m is not None:
                    found.append(m)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("roots", nargs="+", type=Path, help="run folders or folders of them")
    parser.add_argument("--dry-run", action="store_true", help="print, do not write")
    parser.add_argument("--file", type=Path, default=TIMINGS_FILE, help="the timings file")
    args = parser.parse_args(argv)
    missing = [str(r) for r in args.roots if not r.is_dir()]
    if missing:
        print(f"time_presets: no such folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    timings = read_timings(args.file)
    found = harvest(args.roots)
    for name, preset, record in found:
        old = timings.setdefault(name, {}).get(preset)
        if old and _rank(old) > _rank(record):
            continue  # keep the better measurement
        timings[name][preset] = record
        print(f"{name} ({preset}): {record['wall_s']} s wall, {record['cpu_s']} s CPU, "
              f"load {record['load_1min']}")  # fmt: skip
    if not args.dry_run:
        ordered = {k: dict(sorted(v.items())) for k, v in sorted(timings.items())}
        tmp = args.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(ordered, indent=1) + "\n", encoding="utf-8")
        tmp.replace(args.file)
    print(f"{len(found)} measurements from {len(args.roots)} folder(s)"
          + ("" if args.dry_run else f" -> {args.file}"))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
