"""Name -> method / experiment registry.

Methods register themselves with ``@register("topic.name", paper=..., reference=...)``;
experiments with :func:`replearn.experiments.base.experiment` (which calls
:func:`add`). The CLI and the registry-wide tests discover everything through
:func:`load_all`, which imports every topic subpackage once.

``get(name)`` raises :class:`UnknownNameError` with the closest registered names
so that a typo on the command line gets a useful one-line answer.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

Kind = Literal["method", "experiment"]


@dataclass(frozen=True)
class Example:
    """A small instance of a registered module with an input and the output shape it declares.

    Used by the registry-wide property tests (finite output, declared shape, a
    gradient for every parameter, determinism) and by ``replearn arch``.
    """

    module: nn.Module
    inputs: tuple[torch.Tensor, ...]
    output_shape: tuple[int, ...]


@dataclass(frozen=True)
class Entry:
    """One registered name."""

    name: str
    kind: Kind
    obj: Any
    topic: str
    paper: str
    reference: str
    summary: str
    example: Callable[[], Example] | None = None


class UnknownNameError(KeyError):
    """Raised by :func:`get` for a name that is not registered; the message suggests close names."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


_REGISTRY: dict[str, Entry] = {}
_TOPIC_PACKAGES = (
    "fundamentals",
    "optim",
    "norm",
    "regularize",
    "cnn",
    "sequence",
    "transformer",
    "vae",
    "gan",
    "flow",
    "diffusion",
    "ssl",
    "rl",
    "rlhf",
    "metrics",
    "experiments",
)
_loaded = False


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0].strip() if (doc or "").strip() else ""


def add(entry: Entry) -> None:
    """Add an entry; a second registration of the same name with another object is an error."""
    old = _REGISTRY.get(entry.name)
    if old is not None and old.obj is not entry.obj:
        # Re-importing a module (e.g. by a test) re-creates its objects under the same
        # qualified name; anything else is a genuine clash.
        same_place = getattr(old.obj, "__qualname__", None) == getattr(
            entry.obj, "__qualname__", object()
        ) and getattr(old.obj, "__module__", None) == getattr(entry.obj, "__module__", object())
        if not same_place:
            raise ValueError(f"name {entry.name!r} is registered twice")
    _REGISTRY[entry.name] = entry


def register(
    name: str,
    *,
    paper: str,
    reference: str,
    example: Callable[[], Example] | None = None,
) -> Callable[[Any], Any]:
    """Class/function decorator registering a method under ``"topic.name"``.

    Args:
        name: ``"<topic>.<method>"``, e.g. ``"fundamentals.mlp"``.
        paper: authors, year and arXiv id / venue of the method.
        reference: what the tests check it against (a library or a closed form).
        example: builds a small :class:`Example` for the registry-wide tests
            (required for ``nn.Module`` subclasses).
    """
    if "." not in name:
        raise ValueError(f"method name {name!r} must look like 'topic.method'")

    def deco(obj: Any) -> Any:
        if isinstance(obj, type) and issubclass(obj, nn.Module) and example is None:
            raise ValueError(f"module {name!r} must be registered with an example")
        add(
            Entry(
                name=name,
                kind="method",
                obj=obj,
                topic=name.split(".", 1)[0],
                paper=paper,
                reference=reference,
                summary=_first_line(obj.__doc__),
                example=example,
            )
        )
        return obj

    return deco


def load_all() -> None:
    """Import every topic subpackage (and every module under it) so all entries register."""
    global _loaded
    if _loaded:
        return
    for topic in _TOPIC_PACKAGES:
        try:
            pkg = importlib.import_module(f"replearn.{topic}")
        except ModuleNotFoundError as err:
            if err.name == f"replearn.{topic}":
                continue  # topic not written yet
            raise
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{pkg.__name__}."):
            importlib.import_module(info.name)
    _loaded = True


def entries(kind: Kind | None = None, topic: str | None = None) -> list[Entry]:
    """All registered entries, sorted by (topic, name), optionally filtered."""
    load_all()
    out = [
        e
        for e in _REGISTRY.values()
        if (kind is None or e.kind == kind) and (topic is None or e.topic == topic)
    ]
    return sorted(out, key=lambda e: (e.topic, e.name))


def topics() -> list[str]:
    """Topics that have at least one entry."""
    return sorted({e.topic for e in entries()})


def get(name: str, kind: Kind | None = None) -> Entry:
    """Look a name up; raise :class:`UnknownNameError` naming the closest matches."""
    load_all()
    entry = _REGISTRY.get(name)
    if entry is not None and (kind is None or entry.kind == kind):
        return entry
    pool = [e.name for e in _REGISTRY.values() if kind is None or e.kind == kind]
    close = difflib.get_close_matches(name, pool, n=3, cutoff=0.5)
    what = kind or "method or experiment"
    hint = f"; did you mean {', '.join(close)}?" if close else "; see 'replearn list'"
    raise UnknownNameError(f"unknown {what} {name!r}{hint}")
