"""Runs one experiment into a run folder: what ``replearn run`` does.

Run folder::

    config.json        experiment name, seed, preset and the full config
    env.json           versions, device, world size, threads, load average at the start
    metrics.jsonl      one JSON object per logged row (deterministic values only)
    result.json        final metrics (+ wall_time_s, cpu_time_s) and the claims' verdicts
    model.safetensors  final weights, when the experiment trains a model
    checkpoints/       step-N.ckpt and the ``latest`` pointer
    *.png, report.html plots and the HTML report
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from replearn import runfolder
from replearn.config import ConfigError, apply_overrides, diff, to_dict
from replearn.engine import checkpoint as ckpt
from replearn.engine import distributed
from replearn.engine.context import RunContext
from replearn.engine.seed import seed_everything
from replearn.experiments.base import Experiment, Result, get_experiment, judge
from replearn.reference import reference_mode, use_reference


@dataclass(frozen=True)
class RunSummary:
    """Where a run wrote its files and what it measured."""

    out: Path
    metrics: dict[str, Any]
    claims: list[dict[str, Any]]


def _say(message: str) -> None:
    print(f"replearn: {message}", file=sys.stderr)


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parents[3]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def environment(device: torch.device, world_size: int) -> dict[str, Any]:
    """Facts about where the run happened (for env.json and the report)."""
    from replearn import __version__

    info: dict[str, Any] = {
        "replearn": __version__,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "device": str(device),
        "world_size": world_size,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def default_out(name: str, dist: distributed.DistInfo) -> Path:
    """``runs/<name>-<timestamp>``; under torchrun every rank gets rank 0's timestamp."""
    stamp = torch.tensor([int(time.time())], dtype=torch.int64)
    if dist.enabled and torch.distributed.is_initialized():
        torch.distributed.broadcast(stamp, src=0)
    text = time.strftime("%Y%m%d-%H%M%S", time.localtime(int(stamp.item())))
    return Path("runs") / f"{name}-{text}"


def _write_json(path: Path, obj: Any) -> None:
    ckpt.atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


EXTENDABLE = "max_steps"
"""``--resume`` accepts a config that differs only in raising ``*.max_steps`` (extend a run)."""


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _extends(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether ``new`` differs from ``old`` only by larger ``max_steps`` values."""
    a, b = _flat(old), _flat(new)
    changed = [k for k in set(a) | set(b) if a.get(k) != b.get(k)]
    return all(
        k.rsplit(".", 1)[-1] == EXTENDABLE
        and isinstance(a.get(k), int)
        and isinstance(b.get(k), int)
        and b[k] > a[k]
        for k in changed
    )


def _check_folder(out: Path, record: dict[str, Any], resume: bool) -> None:
    """Refuse to overwrite a run; on resume refuse a missing run or a different config.

    ``--resume`` may raise ``engine.max_steps`` (any ``*.max_steps``) to extend a run:
    training continues from the newest checkpoint up to the new step count.
    """
    config_file = out / runfolder.CONFIG
    holds_run = config_file.exists() or (out / runfolder.METRICS).exists()
    if not resume:
        if holds_run:
            raise ConfigError(
                f"{out} already holds a run; pass --resume to continue it or choose another --out"
            )
        return
    if not config_file.exists():
        if holds_run or any((out / runfolder.CHECKPOINTS).glob(f"*{runfolder.CHECKPOINT_SUFFIX}")):
            return  # checkpoints without a config: the checkpoint check decides
        raise ConfigError(
            f"--resume: {out} holds no run (no config.json); run without --resume to start one"
        )
    try:
        old = json.loads(config_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"--resume: {config_file} is corrupt ({err})") from None
    new = json.loads(json.dumps(record))  # tuples -> lists, as on disk
    changes = diff(old, new)
    if changes and not _extends(old, new):
        raise ckpt.CheckpointError(
            f"--resume: the run in {out} was started with another config ({'; '.join(changes)}); "
            f"only {EXTENDABLE} may be raised"
        )


def _clean_failed_start(out: Path, created: bool) -> None:
    """After a run failed with no checkpoint written, leave nothing that blocks a retry."""
    if any((out / runfolder.CHECKPOINTS).glob(f"*{runfolder.CHECKPOINT_SUFFIX}")):
        return  # something to --resume from: keep it all
    if created:
        import shutil

        shutil.rmtree(out, ignore_errors=True)
        return
    for name in (runfolder.CONFIG, runfolder.ENV, runfolder.METRICS):
        (out / name).unlink(missing_ok=True)


def data_description(cfg: Any) -> str:
    """The data a run used: the config's ``data`` field and the files read, in words."""
    from replearn.data import sources

    parts = []
    if isinstance(getattr(cfg, "data", None), str):
        parts.append(cfg.data)
    for name, kind in sources.data_used().items():
        if name not in parts:
            parts.append(name if kind == "file" else f"{name} (test fixture)")
        elif kind != "file":
            parts[parts.index(name)] = f"{name} (test fixture)"
    return ", ".join(parts) or "generated / embedded"


def _save_model(model: torch.nn.Module, path: Path) -> None:
    from safetensors.torch import save_model

    tmp = path.with_name(f".{path.name}.tmp")
    save_model(model, str(tmp))
    os.replace(tmp, path)


def run_experiment(
    name: str,
    *,
    out: Path | str | None = None,
    seed: int = 0,
    device: str = "cpu",
    resume: bool = False,
    overrides: tuple[str, ...] | list[str] = (),
    preset: str | None = None,
    progress: bool = True,
    report: bool = True,
    reference: bool = False,
) -> RunSummary:
    """Run experiment ``name`` (see the module docstring for what it writes).

    ``reference=True`` (``--reference``) runs every replearn layer on its from-scratch path
    (:func:`replearn.reference.reference_mode`); config.json, env.json and result.json say so.

    Raises:
        UnknownNameError, ConfigError: bad name, preset or ``--set``.
        CheckpointError: ``--resume`` found only invalid or incompatible checkpoints.
        NonFiniteLossError: the NaN guard aborted the run.
    """
    exp: Experiment = get_experiment(name)
    try:
        cfg = exp.make_config(preset)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    cfg = apply_overrides(cfg, overrides)
    dist = distributed.from_env()
    try:
        dev = distributed.resolve_device(device)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    started = distributed.init(dist, dev)
    try:
        return _run(exp, cfg, out, seed, dev, dist, resume, preset, progress, report, reference)
    finally:
        if started:
            distributed.shutdown()


def _run(
    exp: Experiment,
    cfg: Any,
    out: Path | str | None,
    seed: int,
    dev: torch.device,
    dist: distributed.DistInfo,
    resume: bool,
    preset: str | None,
    progress: bool,
    report: bool,
    reference: bool = False,
) -> RunSummary:
    reference = reference or use_reference()  # a run inside a reference run (the tour) inherits
    out_dir = Path(out) if out is not None else default_out(exp.name, dist)
    record = {"experiment": exp.name, "seed": seed, "preset": preset, "config": to_dict(cfg)}
    if reference:  # only then, so that earlier runs' config.json still match on --resume
        record["reference"] = True
    _check_folder(out_dir, record, resume)  # every rank, before any rank writes
    distributed.barrier()
    ctx = RunContext(
        out=out_dir, seed=seed, device=dev, resume=resume, dist=dist, progress=progress
    )
    created = not out_dir.exists()
    if dist.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_json(out_dir / runfolder.CONFIG, record)
        _write_json(
            out_dir / runfolder.ENV, {**environment(dev, dist.world_size), "reference": reference}
        )
    distributed.barrier()
    seed_everything(seed)
    from replearn.data import sources

    sources.reset_data_used()
    t0, cpu0 = time.perf_counter(), time.process_time()
    try:
        ctx.start(say=_say)
        try:
            with reference_mode(reference):
                result: Result = exp.run(cfg, ctx)
        finally:
            ctx.close()
    except BaseException:
        if dist.is_main and not resume:
            _clean_failed_start(out_dir, created)
        raise
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    metrics = {**result.metrics, "wall_time_s": round(wall, 3), "cpu_time_s": round(cpu, 3)}
    claims = judge(exp.claims, metrics) + list(result.sub_claims)
    if dist.is_main:
        context = {"preset": preset, "seed": seed, "data": data_description(cfg)}
        if reference:
            context["reference"] = True
        if sources.fixtures_used():
            context["data_fixtures"] = sources.fixtures_used()
        _write_json(out_dir / runfolder.RESULT, {**metrics, "claims": claims, "context": context})
        if result.model is not None:
            _save_model(result.model, out_dir / runfolder.MODEL)
        if report:
            from replearn.report.html import write_run_report
            from replearn.report.plots import plot_curves, read_metrics

            plot_curves(read_metrics(out_dir / runfolder.METRICS), out_dir)
            write_run_report(out_dir)
    return RunSummary(out=out_dir, metrics=metrics, claims=claims)
