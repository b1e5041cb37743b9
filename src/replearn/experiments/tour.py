"""Experiment ``tour``: the main job — a curated run of short experiments, one HTML page.

    replearn run tour --out runs/tour        # <= 3 minutes on 2 CPU cores, no download

Each stop runs an experiment with a short preset in a sub-folder of the tour's
run folder; ``index.html`` gathers every stop's metrics, claims and plots. Each
topic of the course adds one stop to :data:`STOPS`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

from replearn import runfolder
from replearn.engine import RunContext
from replearn.experiments.base import Result, experiment

# (experiment, preset) in the order a student meets them.
STOPS: tuple[tuple[str, str], ...] = (
    ("perceptron", "quick"),
    ("mlp-xor", "quick"),
    ("bias-variance", "quick"),
    ("mlp", "quick"),
    ("optim-variants", "quick"),
    ("norm-compare", "quick"),
    ("regularize-penalties", "quick"),
    ("cnn-arithmetic", "quick"),
    ("rnn-gradients", "quick"),
    ("attention-claims", "quick"),
    ("vae-fashion", "quick"),
    ("gan-theory", "quick"),
    ("diffusion-spectrum", "quick"),
    ("simclr-mnist1d", "quick"),
    ("dp-gridworlds", "quick"),
    ("grpo-arithmetic", "quick"),
)


@dataclass(frozen=True)
class TourConfig:
    """Config of the ``tour``.

    Attributes:
        stops: comma-separated experiment names to visit (empty: all of :data:`STOPS`).
        preset: preset each stop runs with (the stop's own choice when empty).
    """

    stops: tuple[str, ...] = ()
    preset: str = ""


def tiny() -> TourConfig:
    """Every stop with its tiny preset (smoke tests)."""
    return TourConfig(preset="tiny")


@experiment("tour", topic="tour", config=TourConfig, presets={"tiny": tiny})
def run(cfg: TourConfig, ctx: RunContext) -> Result:
    """The main job: short experiments of every topic, gathered in one HTML report."""
    from replearn.experiments.runner import run_experiment
    from replearn.report.html import write_index

    known = dict(STOPS)
    names = cfg.stops or tuple(known)
    metrics: dict[str, object] = {}
    run_dirs = []
    holds = total = 0
    sub_claims: list[dict[str, object]] = []
    for i, name in enumerate(names):
        preset = cfg.preset or known.get(name, "quick")
        sub = ctx.out / name
        done = sub / runfolder.RESULT
        if ctx.resume and done.exists():
            result = json.loads(done.read_text(encoding="utf-8"))
        else:
            summary = run_experiment(
                name,
                out=sub,
                seed=ctx.seed,
                device=ctx.device.type,
                preset=preset,
                resume=ctx.resume,
                progress=False,
            )
            result = {**summary.metrics, "claims": summary.claims}
        claims = result.get("claims", [])
        failing = [c["id"] for c in claims if not c["holds"]]
        if ctx.dist.is_main:
            took = result.get("wall_time_s", 0.0)
            verdicts = f"{len(claims) - len(failing)} of {len(claims)} claims hold" + (
                f" (not: {', '.join(failing)})" if failing else ""
            )
            print(f"tour [{i + 1}/{len(names)}] {name} ({preset}): {verdicts}, {took:.1f} s",
                  file=sys.stderr)  # fmt: skip
        run_dirs.append(sub)
        sub_claims += [{**c, "id": f"{name}:{c['id']}", "preset": preset} for c in claims]
        holds += sum(bool(c["holds"]) for c in claims)
        total += len(claims)
        for key in ("test_accuracy", "wall_time_s"):
            if key in result:
                metrics[f"{name}/{key}"] = result[key]
        ctx.log(i, stop=name, claims_holding=holds, claims_total=total)
    if ctx.dist.is_main:
        write_index(run_dirs, ctx.out / runfolder.INDEX)
    metrics.update({"stops": len(names), "claims_holding": holds, "claims_total": total})
    if ctx.dist.is_main:
        failing = [str(c["id"]) for c in sub_claims if not c["holds"]]
        tail = f"; not holding: {', '.join(failing)}" if failing else ""
        print(f"tour: {holds} of {total} claims hold{tail}", file=sys.stderr)
    return Result(metrics=metrics, sub_claims=sub_claims)
