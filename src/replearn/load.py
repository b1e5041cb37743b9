"""Reload a trained run (``replearn.load_run``) and find the model an experiment trains.

A run folder (``replearn run NAME --out DIR``) holds ``config.json`` (experiment, seed,
preset, the full config) and ``model.safetensors`` (the trained weights). To rebuild the
model, :func:`capture_fit` runs the experiment's own code with that config up to its first
call of :func:`replearn.engine.fit` and stops there: the task handed to ``fit`` is the
model the experiment trains, built exactly as in the run (no training happens, no file is
written to the run folder). :func:`load_run` then loads the weights into the module of
that task they belong to (the task itself or one of its submodules) and returns it in
eval mode::

    import replearn
    run = replearn.load_run("runs/a")          # after: replearn run mlp --out runs/a
    logits = run.model(x)                      # the trained MLP, eval mode
    run.config.hidden, run.metrics["test_accuracy"]

Limits: an experiment that trains several models in turn (pretraining, then fine-tuning)
is rebuilt up to its first ``fit``; when the saved weights belong to a model built later,
:func:`load_run` says so (``LoadError``) instead of guessing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
import tempfile
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from replearn import runfolder
from replearn.config import ConfigError, apply_overrides

__all__ = ["Captured", "LoadError", "LoadedRun", "capture_fit", "config_from_dict", "load_run"]


class LoadError(ConfigError):
    """A run folder cannot be loaded (missing or corrupt file, weights of another model)."""


@dataclass
class Captured:
    """What an experiment passed to its first ``fit`` call.

    Attributes:
        experiment: The experiment's name.
        config: The config it ran with.
        task: The :class:`~replearn.engine.Task` (an ``nn.Module``) it was about to train.
        data: The training data given to ``fit`` (a Dataset, a Stream or None).
    """

    experiment: str
    config: Any
    task: nn.Module
    data: Any


@dataclass
class LoadedRun:
    """A trained run, reloaded.

    Attributes:
        model: The trained model (the module ``model.safetensors`` was saved from), eval mode.
        config: The experiment's config (its dataclass), as the run used it.
        experiment: The experiment's name.
        seed: The run's seed.
        preset: The preset the run started from (None: the default config).
        metrics: ``result.json`` (final metrics and claims), empty if the run has none.
    """

    model: nn.Module
    config: Any
    experiment: str
    seed: int
    preset: str | None
    metrics: dict[str, Any]


class _FitReached(Exception):
    def __init__(self, task: nn.Module, data: Any) -> None:
        super().__init__("fit reached")
        self.task, self.data = task, data


@contextlib.contextmanager
def _intercept_fit() -> Iterator[None]:
    """Replace ``replearn.engine.fit`` in every loaded replearn module by a stop."""
    from replearn import engine

    real = engine.fit

    def stop(task: nn.Module, optimizer: Any, data: Any = None, *args: Any, **kw: Any) -> Any:
        raise _FitReached(task, data)

    patched = [
        m
        for name, m in list(sys.modules.items())
        if name.startswith("replearn") and getattr(m, "fit", None) is real
    ]
    for module in patched:
        module.fit = stop  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module in patched:
            module.fit = real  # type: ignore[attr-defined]


def capture_fit(
    name: str,
    *,
    preset: str | None = None,
    overrides: Sequence[str] = (),
    config: Any = None,
    seed: int = 0,
) -> Captured:
    """Run experiment ``name`` up to its first ``fit`` call and return what it passed.

    Args:
        name: Experiment name (``replearn list``).
        preset: Start from this preset (else the default config); ignored with ``config``.
        overrides: ``--set`` items applied to the preset.
        config: A ready config (e.g. from a run's ``config.json``).
        seed: Seed applied to every RNG first, as ``replearn run`` does.

    Raises:
        UnknownNameError, ConfigError: Bad name, preset or override; or the experiment
            never calls ``fit``.
    """
    from replearn.engine.context import RunContext
    from replearn.engine.logging import MetricsLogger
    from replearn.engine.seed import seed_everything
    from replearn.experiments.base import get_experiment

    exp = get_experiment(name)
    if config is None:
        try:
            config = exp.make_config(preset)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        config = apply_overrides(config, overrides)
    with tempfile.TemporaryDirectory(prefix="replearn-capture-") as tmp, _intercept_fit():
        ctx = RunContext(
            out=Path(tmp),
            seed=seed,
            progress=False,
            logger=MetricsLogger(Path(tmp) / "m", enabled=False),
        )
        seed_everything(seed)
        try:
            exp.run(config, ctx)
        except _FitReached as hit:
            return Captured(exp.name, config, hit.task, hit.data)
    raise ConfigError(f"experiment {name!r} trains no model through replearn.engine.fit")


def _tupled(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tupled(v) for v in value)
    return value


def config_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a (nested, frozen) config dataclass from ``config.json``'s ``config`` dict.

    Lists become tuples (JSON has no tuples); nested dataclass fields are rebuilt by their
    annotated type. Unknown keys raise :class:`LoadError` (the code changed since the run).
    """
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise LoadError(f"{cls.__name__} has no field(s) {', '.join(unknown)}")
    kwargs = {}
    for key, value in data.items():
        tp = hints.get(key)
        if isinstance(value, dict) and dataclasses.is_dataclass(tp):
            kwargs[key] = config_from_dict(typing.cast(type, tp), value)
        else:
            kwargs[key] = _tupled(value)
    return cls(**kwargs)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LoadError(f"{path} not found: not a run folder") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise LoadError(f"{path} is corrupt: {err}") from None
    if not isinstance(data, dict):
        raise LoadError(f"{path} is corrupt: not a JSON object")
    return data


def _matching_module(root: nn.Module, weights: Path) -> nn.Module:
    """The first module of ``root`` (itself, then its submodules) the weights load into."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, load_model

    try:
        keys = set(load_file(str(weights)))
    except (SafetensorError, OSError) as err:
        raise LoadError(f"{weights} is corrupt: {err}") from None
    for _, module in root.named_modules():
        own = set(module.state_dict())
        if not keys <= own or len(own) - len(keys) > len(own) // 2:
            continue  # tied weights are saved once: allow a few keys less, never more
        try:
            load_model(module, str(weights), strict=True)
        except (RuntimeError, KeyError, ValueError):
            continue
        return module
    raise LoadError(
        f"{weights} matches no module of the model the experiment trains first (an experiment "
        "that trains several models in turn may save a later one; see replearn.load)"
    )


def load_run(path: str | Path) -> LoadedRun:
    """Return the trained model and config of a run folder.

    Args:
        path: A run folder written by ``replearn run`` (holding ``config.json`` and
            ``model.safetensors``).

    Raises:
        LoadError: Missing or corrupt file, or weights that fit no module of the model.
        UnknownNameError: The experiment is not registered (any more).
    """
    folder = Path(path)
    record = _read_json(folder / runfolder.CONFIG)
    weights = folder / runfolder.MODEL
    if not weights.is_file():
        raise LoadError(f"{weights} not found: the run saved no model (or has not finished)")
    from replearn.experiments.base import get_experiment

    try:
        name, seed, preset = record["experiment"], int(record["seed"]), record.get("preset")
        exp = get_experiment(name)
        config = config_from_dict(exp.config, record["config"])
    except (KeyError, TypeError, ValueError) as err:
        raise LoadError(f"{folder / 'config.json'} is corrupt: {err}") from None
    captured = capture_fit(name, config=config, seed=seed)
    model = _matching_module(captured.task, weights)
    model.eval()
    result = folder / runfolder.RESULT
    metrics = _read_json(result) if result.is_file() else {}
    return LoadedRun(model, config, name, seed, preset, metrics)


def example_batch(data: Any, n: int = 1) -> Any:
    """The first ``n`` items of a Dataset (collated), or one batch of a Stream."""
    from torch.utils.data import default_collate

    if data is None:
        return None
    if hasattr(data, "next_batch"):
        return data.next_batch()
    return default_collate([data[i] for i in range(min(n, len(data)))])


def flat_tensors(batch: Any) -> tuple[torch.Tensor, ...]:
    """Every tensor in a (nested) batch, in order."""
    if isinstance(batch, torch.Tensor):
        return (batch,)
    if isinstance(batch, dict):
        batch = list(batch.values())
    if isinstance(batch, (list, tuple)):
        return tuple(t for item in batch for t in flat_tensors(item))
    return ()
