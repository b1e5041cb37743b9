"""Experiments and claims.

An experiment is a ``Config`` dataclass (every field documented in its
docstring) plus ``run(cfg, ctx) -> Result``, registered with :func:`experiment`::

    @experiment("mlp", topic="fundamentals", config=MLPConfig,
                presets={"tiny": tiny}, claims=(...,))
    def run(cfg: MLPConfig, ctx: RunContext) -> Result: ...

Presets are plain Python functions returning a ``Config`` (never evaluated
files). Every experiment has a ``tiny`` preset (seconds; the CLI smoke tests run
it) and claim experiments a ``quick`` preset (``replearn claims --quick``).

A :class:`Claim` is a statement of the course and a verdict function that reads
the run's final metrics and returns ``(holds, evidence)``: the evidence names
the measured numbers. A claim that does not hold is reported as failing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from replearn import registry
from replearn.engine.context import RunContext


@dataclass(frozen=True)
class Claim:
    """A statement of the course, checked against a run's final metrics.

    Attributes:
        id: short identifier, unique within the experiment.
        statement: the claim in words, as the course makes it.
        verdict: ``metrics -> (holds, evidence)``; evidence quotes the numbers.
        plot: PNG in the run folder that shows it (or None).
    """

    id: str
    statement: str
    verdict: Callable[[dict[str, Any]], tuple[bool, str]]
    plot: str | None = None


@dataclass
class Result:
    """What ``run`` returns.

    Attributes:
        metrics: flat final metrics with self-explaining names and units
            (``test_accuracy``, ``val_loss``, ``nll_nats``, ...).
        model: the trained model, saved as ``model.safetensors`` (None if none).
        plots: PNG files the experiment wrote itself.
        sub_claims: verdicts measured by sub-runs (the tour's stops), as written in their
            ``result.json``; the runner adds them after the experiment's own claims.
    """

    metrics: dict[str, Any]
    model: nn.Module | None = None
    plots: list[Path] = field(default_factory=list)
    sub_claims: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Experiment:
    """A registered experiment."""

    name: str
    topic: str
    config: type
    run: Callable[[Any, RunContext], Result]
    presets: dict[str, Callable[[], Any]]
    claims: tuple[Claim, ...]
    summary: str

    def make_config(self, preset: str | None = None) -> Any:
        """The default config, or a named preset."""
        if preset is None:
            return self.config()
        if preset not in self.presets:
            known = ", ".join(sorted(self.presets)) or "none"
            raise ValueError(f"experiment {self.name!r} has no preset {preset!r} (has: {known})")
        return self.presets[preset]()


def experiment(
    name: str,
    *,
    topic: str,
    config: type,
    presets: dict[str, Callable[[], Any]] | None = None,
    claims: tuple[Claim, ...] = (),
    paper: str = "",
    reference: str = "",
) -> Callable[[Callable[[Any, RunContext], Result]], Callable[[Any, RunContext], Result]]:
    """Register ``run`` as experiment ``name`` (see the module docstring)."""
    presets = dict(presets or {})
    if "tiny" not in presets:
        raise ValueError(f"experiment {name!r} needs a 'tiny' preset for the smoke tests")

    def deco(run: Callable[[Any, RunContext], Result]) -> Callable[[Any, RunContext], Result]:
        summary = (run.__doc__ or "").strip().splitlines()[0] if run.__doc__ else name
        exp = Experiment(name, topic, config, run, presets, tuple(claims), summary)
        registry.add(
            registry.Entry(
                name=name,
                kind="experiment",
                obj=exp,
                topic=topic,
                paper=paper,
                reference=reference
                or ("claims: " + "; ".join(c.id for c in claims) if claims else ""),
                summary=summary,
            )
        )
        return run

    return deco


def get_experiment(name: str) -> Experiment:
    """Look up a registered experiment (raises ``UnknownNameError`` with suggestions)."""
    return registry.get(name, kind="experiment").obj


def judge(claims: tuple[Claim, ...], metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Apply every claim's verdict to ``metrics``."""
    rows = []
    for claim in claims:
        holds, evidence = claim.verdict(metrics)
        rows.append(
            {
                "id": claim.id,
                "statement": claim.statement,
                "holds": bool(holds),
                "evidence": evidence,
                "plot": claim.plot,
            }
        )
    return rows
