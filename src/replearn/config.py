"""Typed ``--set key=value`` overrides for dataclass configs, and config <-> JSON.

Values are parsed by the annotated type of the field (never evaluated):
``int``, ``float``, ``bool`` (true/false/1/0/yes/no), ``str``, ``Literal[...]``,
``X | None`` (``none``/``null``), ``tuple[T, ...]`` and ``list[T]`` (comma
separated, ``()`` or empty for none). Nested dataclasses are addressed with dots:
``engine.max_steps=200``.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints


class ConfigError(ValueError):
    """A bad override: unknown key or a value that does not parse as the field's type."""


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin in (tuple, list):
        args = [a for a in get_args(tp) if a is not Ellipsis]
        inner = _type_name(args[0]) if args else "value"
        return f"comma-separated list of {inner}"
    if tp is type(None):
        return "none"
    return getattr(tp, "__name__", str(tp))


def parse_value(text: str, tp: Any) -> Any:
    """Parse ``text`` as a value of type ``tp``; raise ``ValueError`` if it does not fit."""
    origin = get_origin(tp)
    if origin is Literal:
        for choice in get_args(tp):
            if str(choice) == text:
                return choice
        raise ValueError(text)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if type(None) in args and text.lower() in {"none", "null"}:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return parse_value(text, arg)
            except ValueError:
                continue
        raise ValueError(text)
    if origin in (tuple, list):
        args = [a for a in get_args(tp) if a is not Ellipsis]
        inner = args[0] if args else str
        body = text.strip().strip("()[]")
        items = [parse_value(p.strip(), inner) for p in body.split(",") if p.strip()]
        return tuple(items) if origin is tuple else items
    if tp is bool:
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(text)
    if tp is int:
        return int(text)
    if tp is float:
        return float(text)
    if tp is str:
        return text
    raise ValueError(f"cannot parse fields of type {tp!r}")


def _fields(obj: Any) -> dict[str, Any]:
    hints = get_type_hints(type(obj))
    return {f.name: hints[f.name] for f in dataclasses.fields(obj)}


def _parse_override(cfg: Any, key: str, text: str, updates: dict[str, Any]) -> None:
    """Check the dotted ``key`` against ``cfg``'s fields and put its parsed value in ``updates``."""
    head, _, rest = key.partition(".")
    fields = _fields(cfg)
    if head not in fields:
        close = difflib.get_close_matches(head, list(fields), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(
            f"unknown config key {key!r} for {type(cfg).__qualname__}{hint} "
            f"(keys: {', '.join(fields)})"
        )
    current = getattr(cfg, head)
    if rest:
        if not dataclasses.is_dataclass(current):
            raise ConfigError(f"config key {head!r} has no sub-keys (cannot set {key!r})")
        _parse_override(current, rest, text, updates.setdefault(head, {}))
        return
    if dataclasses.is_dataclass(current):
        raise ConfigError(f"config key {key!r} is a section; set one of its keys, e.g. {key}.X=...")
    tp = fields[head]
    try:
        updates[head] = parse_value(text, tp)
    except ValueError:
        raise ConfigError(f"--set {key}={text!r}: expected {_type_name(tp)}") from None


def _step_budget_alone(cfg: Any, updates: dict[str, Any]) -> None:
    """A section given ``max_steps`` but not ``time_budget_s`` loses its wall-clock budget.

    So ``--set engine.max_steps=N`` alone makes any run step-budgeted and deterministic,
    whatever the preset's time budget; give ``engine.time_budget_s`` too to keep both.
    """
    names = {f.name for f in dataclasses.fields(cfg)}
    if "max_steps" in updates and "time_budget_s" in names and "time_budget_s" not in updates:
        updates["time_budget_s"] = None
    for name, value in updates.items():
        if isinstance(value, dict):
            _step_budget_alone(getattr(cfg, name), value)


def _replace(cfg: Any, updates: dict[str, Any]) -> Any:
    """``cfg`` with the nested ``updates`` applied: one ``replace`` (one validation) per level."""
    changes = {
        name: _replace(getattr(cfg, name), value) if isinstance(value, dict) else value
        for name, value in updates.items()
    }
    return dataclasses.replace(cfg, **changes)


def set_override(cfg: Any, key: str, text: str) -> Any:
    """Return a copy of ``cfg`` with the dotted ``key`` set from ``text``."""
    return apply_overrides(cfg, [f"{key}={text}"])


def apply_overrides(cfg: Any, overrides: typing.Sequence[str]) -> Any:
    """Apply ``["a=1", "engine.max_steps=10", ...]``: every key is parsed first, then the
    config is validated once with all of them (so their order does not matter; a key given
    twice keeps its last value)."""
    updates: dict[str, Any] = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        _parse_override(cfg, key.strip(), text.strip(), updates)
    if not updates:
        return cfg
    _step_budget_alone(cfg, updates)
    try:
        return _replace(cfg, updates)
    except (ValueError, TypeError) as err:  # __post_init__ validation
        given = " ".join(overrides)
        raise ConfigError(f"--set {given}: {err}") from None


def to_dict(cfg: Any) -> dict[str, Any]:
    """Dataclass -> JSON-ready dict (tuples become lists)."""
    return dataclasses.asdict(cfg)


def diff(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    """Human-readable differences between two config dicts."""
    out: list[str] = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, "<absent>"), b.get(key, "<absent>")
        if isinstance(va, dict) and isinstance(vb, dict):
            out += diff(va, vb, f"{prefix}{key}.")
        elif va != vb:
            out.append(f"{prefix}{key}: {va!r} vs {vb!r}")
    return out
