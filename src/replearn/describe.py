"""What ``replearn info NAME`` (and ``replearn run NAME --help``) prints about an entry.

For an experiment: its summary, paper, data, every preset and what it changes against the
default config, every config key (type, default, the line of the config's docstring that
documents it), the measured time of each preset, its claims, and how to run it from Python.
For a method: its summary, paper, reference, file and the import line.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from typing import Any

from replearn import registry
from replearn.config import diff, to_dict
from replearn.experiments.timings import expected_time_lines
from replearn.experiments.verdicts import pinned_verdict

__all__ = ["config_keys", "describe", "docstring_attributes", "preset_changes"]


def docstring_attributes(cls: type) -> dict[str, str]:
    """``name -> description`` from the ``Attributes:`` section of a class docstring."""
    doc = inspect.getdoc(cls) or ""
    match = re.search(r"^Attributes:\s*$(.*?)(?=^\S|\Z)", doc, re.M | re.S)
    if not match:
        return {}
    out: dict[str, str] = {}
    key = None
    for line in match.group(1).splitlines():
        item = re.match(r"^\s{2,8}(\w+)(?:\s*\([^)]*\))?:\s*(.*)$", line)
        if item:
            key = item.group(1)
            out[key] = item.group(2).strip()
        elif key and line.strip():
            out[key] += " " + line.strip()
    return out


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    text = str(tp).replace("typing.", "")
    return re.sub(r"<class '(\w+)'>", r"\1", text)


def config_keys(cls: type, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """``(key, type, default, description)`` of every field, nested sections flattened."""
    hints = typing.get_type_hints(cls)
    docs = docstring_attributes(cls)
    default = cls()
    rows: list[tuple[str, str, str, str]] = []
    for f in dataclasses.fields(cls):
        tp = hints.get(f.name, f.type)
        value = getattr(default, f.name)
        if dataclasses.is_dataclass(value):
            rows += [
                (k, t, d, desc)
                for k, t, d, desc in _nested_keys(type(value), value, f"{prefix}{f.name}.")
            ]
            continue
        rows.append((f"{prefix}{f.name}", _type_name(tp), repr(value), docs.get(f.name, "")))
    return rows


def _nested_keys(cls: type, value: Any, prefix: str) -> list[tuple[str, str, str, str]]:
    hints = typing.get_type_hints(cls)
    docs = docstring_attributes(cls)
    return [
        (
            f"{prefix}{f.name}",
            _type_name(hints.get(f.name, f.type)),
            repr(getattr(value, f.name)),
            docs.get(f.name, ""),
        )
        for f in dataclasses.fields(cls)
    ]


def preset_changes(exp: Any) -> list[tuple[str, str, list[str]]]:
    """``(preset, its docstring's first line, changes against the default config)``."""
    base = to_dict(exp.make_config())
    out = []
    for name, fn in exp.presets.items():
        changes = diff(base, to_dict(fn()))
        doc = (inspect.getdoc(fn) or "").splitlines()
        out.append((name, doc[0] if doc else "", [c.replace(" vs ", " -> ") for c in changes]))
    return out


def _import_path(exp: Any) -> str:
    return f"{exp.run.__module__}"


def describe(name: str) -> str:
    """The text ``replearn info NAME`` prints (plain text, Markdown-like)."""
    entry = registry.get(name)
    if entry.kind == "method":
        module = getattr(entry.obj, "__module__", "")
        obj = getattr(entry.obj, "__name__", name)
        lines = [
            f"{entry.name} (method, topic {entry.topic})",
            f"  {entry.summary}",
            f"paper: {entry.paper or '-'}",
            f"checked against: {entry.reference or '-'}",
            f"python: from {module} import {obj}",
        ]
        return "\n".join(lines) + "\n"
    exp = entry.obj
    doc = inspect.getdoc(inspect.getmodule(exp.run)) or ""
    intro = doc.split("\n\n")[0].replace("\n", " ")
    lines = [f"{exp.name} (experiment, topic {exp.topic}): {exp.summary}", ""]
    if intro and intro != exp.summary:
        lines += [intro, ""]
    lines.append(f"paper: {entry.paper or '-'}")
    cfg = exp.make_config()
    data = getattr(cfg, "data", None)
    if data is not None:
        hint = typing.get_type_hints(exp.config).get("data")
        choices = typing.get_args(hint) if typing.get_origin(hint) is typing.Literal else ()
        other = f" (--set data=... one of {', '.join(map(str, choices))})" if choices else ""
        lines.append(f"data: {data}{other}")
    lines += ["", "presets (replearn run NAME --preset P):"]
    for preset, summary, changes in preset_changes(exp):
        lines.append(f"  {preset}: {summary}")
        lines += [f"      {c}" for c in changes] or ["      (the default config)"]
    lines += ["", "config keys (--set KEY=VALUE; type, default):"]
    for key, tp, default, desc in config_keys(exp.config):
        lines.append(f"  {key}: {tp} = {default}")
        if desc:
            lines.append(f"      {desc}")
    lines += ["", "expected time (measured runs; scripts/time_presets.py):"]
    lines += expected_time_lines(exp.name, list(exp.presets))
    lines += ["", "claims:" if exp.claims else "claims: none"]
    lines += [
        f"  {c.id} (pinned verdict of the default config: {pinned_verdict(exp.name, c.id)}): "
        f"{c.statement}"
        for c in exp.claims
    ]
    quick = "quick" if "quick" in exp.presets else "tiny"
    lines += [
        "",
        "command line:",
        f"  replearn run {exp.name} --preset {quick} --out runs/{exp.name}",
        "python:",
        "  from replearn.experiments.runner import run_experiment",
        f'  summary = run_experiment("{exp.name}", preset="{quick}", out="runs/{exp.name}")',
        "  print(summary.metrics, summary.claims)",
        f"  (config: from {_import_path(exp)} import {exp.config.__name__})",
    ]
    return "\n".join(lines) + "\n"
