"""``--device`` is honoured by every experiment: each tiny preset runs on the meta device.

A meta tensor has a shape, a dtype and a device but no values. Run with
``ctx.device = meta``, an experiment that leaves a tensor on the CPU while its model sits on
the run's device fails with a device-mismatch error, exactly where it would fail on CUDA.
So that a run gets past the places that need values (``item``, ``float``, ``bool``,
``tolist``, ``numpy``, ``cpu``, ``.to("cpu")`` of a meta tensor), those calls return zeros
instead of raising; the metrics and verdicts of such a run are garbage and not checked.

Asserted per experiment:

- no device-mismatch error;
- every optimizer step of the engine (``Loop.optimize``) has its loss, the task's
  parameters and buffers and the stepped parameters on the run's device, and every batch
  the engine hands out (``Loop._next_batch``) is on it;
- an experiment that trains through the engine on the meta device runs at least one
  backward pass there;
- or the experiment is in ``META_LIMITS``: meta tensors cannot go further (an op without a
  meta kernel, or a computation on the zero stand-ins that raises); the run must still
  reach that point, with the named error.

The full parametrization is ``slow``; ``DEFAULT`` runs in the default suite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils._pytree import tree_leaves

from replearn import registry
from replearn.engine import distributed
from replearn.engine.trainer import Loop
from replearn.experiments import runner

META = torch.device("meta")
EXPERIMENTS = sorted(e.name for e in registry.entries(kind="experiment"))
DEFAULT = ("mlp-xor", "rnn-memory", "gpt-shakespeare", "gan-images", "dqn-cartpole", "ddpm-toy2d")
MISMATCH = (
    "expected device",
    "same device",
    "two devices",
    "found at least two",
    "is not on the expected device",
)

_REPLAY = "the replay buffer's fill count is a tensor: its meta stand-in is 0 (after collection)"
_STALE = (
    "optimizer state looked up by parameter: moving a module to meta makes new Parameter "
    "objects, so the optimizer built before fit has no state for them"
)
_SAMPLE = (
    "sampling with a CPU generator copies the probabilities to the CPU, where the zero "
    "stand-ins are no distribution (the run goes through with stand-ins of ones)"
)
# experiment -> (a piece of the error message, why meta tensors cannot go further)
META_LIMITS: dict[str, tuple[str, str]] = {
    "bert-claims": ("nonzero", "torch.nonzero has no meta kernel (MLM masking)"),
    "bert-sst2": ("nonzero", "torch.nonzero has no meta kernel (MLM masking)"),
    "roberta-sequence-length": ("nonzero", "torch.nonzero has no meta kernel (MLM masking)"),
    "cnn-invariance": ("division by zero", "a ratio of two zero stand-in numbers"),
    "cnn-residual": ("division by zero", "a ratio of two zero stand-in numbers"),
    "d3pm-text": ("invalid multinomial", _SAMPLE),
    "dino-fashion": ("nonzero", "torch.nonzero has no meta kernel (DINO's multi-crop mask)"),
    "dino-mnist1d": ("nonzero", "torch.nonzero has no meta kernel (DINO's multi-crop mask)"),
    "dqn-acrobot": ("empty replay buffer", _REPLAY),
    "dqn-cartpole": ("empty replay buffer", _REPLAY),
    "dqn-target-network": ("empty replay buffer", _REPLAY),
    "elmo-sst2": ("sequence length", "zero stand-in sentence lengths for the packed RNN"),
    "flow-images": ("singular", "linalg.inv of a zero stand-in matrix (Glow's 1x1 convolution)"),
    "gan-theory": ("division by zero", "a ratio of two zero stand-in numbers"),
    "gpt-shakespeare": ("not an accelerator", "torch.Generator(device='meta') for sampling"),
    "grpo-arithmetic": ("invalid multinomial", _SAMPLE),
    "layerwise-pretraining": (
        "copy out of meta",
        "trained meta weights copied into a fresh CPU MLP (copy_ across devices works on CUDA)",
    ),
    "mamba-tasks": ("nonzero", "torch.nonzero has no meta kernel (task generation)"),
    "optim-adam-anatomy": ("division by zero", "a ratio of two zero stand-in numbers"),
    "optim-adaptive": ("exp_avg_sq", _STALE),
    "optim-compare": ("nonzero", "torch.nonzero has no meta kernel"),
    "optim-training": ("division by zero", "a ratio of two zero stand-in numbers"),
    "pg-variance": (
        "nonzero",
        "torch.nonzero has no meta kernel (boolean mask of complete episodes)",
    ),
    "ppo-clip-kl": ("division by zero", "a ratio of two zero stand-in numbers"),
    "pretraining-objectives": ("out of bounds", "zero stand-in sequence lengths: empty batches"),
    "regularize-augment": ("nonzero", "torch.nonzero has no meta kernel (RandAugment)"),
    "rlhf-sentiment": ("invalid multinomial", _SAMPLE),
    "rnn-gradients": ("NoneType", _STALE),
    "tour": ("NoneType", _STALE + " (its rnn-gradients stop)"),
    "vae-fashion": ("division by zero", "a ratio of two zero stand-in numbers"),
}


@dataclass
class Record:
    """What the engine saw during one experiment run."""

    fits: list[torch.device] = field(default_factory=list)  # ctx.device of every fit
    backward_on_meta: int = 0
    misplaced: list[str] = field(default_factory=list)  # tensors off their run's device


def _zero_of(t: torch.Tensor) -> torch.Tensor:
    return torch.zeros(t.shape, dtype=t.dtype)


# Tensor method -> what it returns for a meta tensor where the real call would need values
_STAND_INS: dict[str, Callable[..., Any]] = {
    "item": lambda t: _zero_of(t).item(),
    "__float__": lambda t: 0.0,
    "__int__": lambda t: 0,
    "__index__": lambda t: 0,
    "__bool__": lambda t: True,
    "tolist": lambda t: _zero_of(t).tolist(),
    "numpy": lambda t, *a, **k: np.zeros(
        tuple(t.shape), dtype=torch.zeros((), dtype=t.dtype).numpy().dtype
    ),
    "cpu": lambda t, *a, **k: _zero_of(t),
    "to": lambda t, *a, **k: torch.zeros(
        t.shape,
        dtype=next((x for x in (*a, *k.values()) if isinstance(x, torch.dtype)), t.dtype),
    ),
}


def _with_stand_in(name: str) -> Callable[..., Any]:
    original = getattr(torch.Tensor, name)
    stand_in = _STAND_INS[name]

    def call(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if not self.is_meta:
            return original(self, *args, **kwargs)
        try:
            return original(self, *args, **kwargs)
        except (RuntimeError, NotImplementedError, TypeError) as err:
            if "meta" not in str(err):
                raise
            return stand_in(self, *args, **kwargs)

    return call


def _tensors(tree: Any) -> Iterator[torch.Tensor]:
    return (x for x in tree_leaves(tree) if isinstance(x, torch.Tensor))


@pytest.fixture
def on_meta(monkeypatch: pytest.MonkeyPatch) -> Record:
    """Runs resolve ``--device`` to meta; meta tensors get stand-in values; the engine's
    optimizer steps and batches are checked against the run's device (all restored after)."""
    rec = Record()
    monkeypatch.setattr(distributed, "resolve_device", lambda name: META)
    for name in _STAND_INS:
        monkeypatch.setattr(torch.Tensor, name, _with_stand_in(name))

    run, optimize, next_batch = Loop.run, Loop.optimize, Loop._next_batch

    def check(what: str, tensors: Iterator[torch.Tensor], device: torch.device) -> None:
        wrong = {str(t.device) for t in tensors if t.device != device}
        if wrong:
            rec.misplaced.append(f"{what} on {sorted(wrong)}, run on {device}")

    def recording_run(self: Loop) -> Loop:
        rec.fits.append(self.device)
        return run(self)

    def recording_optimize(self: Loop, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        # (not the optimizers' parameters: moving a module to meta makes new Parameter
        # objects, so an optimizer built before fit holds the CPU ones; on CUDA it does not)
        check("loss", iter([loss]), self.device)
        check("task tensors", (*self.task.parameters(), *self.task.buffers()), self.device)
        if loss.device == META:
            rec.backward_on_meta += 1
        optimize(self, loss, *args, **kwargs)

    def recording_next_batch(self: Loop) -> Any:
        batch = next_batch(self)
        check("batch", _tensors(batch), self.device)
        return batch

    monkeypatch.setattr(Loop, "run", recording_run)
    monkeypatch.setattr(Loop, "optimize", recording_optimize)
    monkeypatch.setattr(Loop, "_next_batch", recording_next_batch)
    return rec


def _params(names: list[str]) -> list[Any]:
    return [n if n in DEFAULT else pytest.param(n, marks=pytest.mark.slow) for n in names]


def test_stand_ins_only_touch_meta_tensors(on_meta: Record) -> None:
    x = torch.tensor([1.5, 2.0])
    assert x.sum().item() == 3.5 and x.tolist() == [1.5, 2.0] and bool(x[0])
    m = torch.ones(2, 3, device=META)
    assert m.sum().item() == 0.0 and float(m[0, 0]) == 0.0 and m.tolist() == [[0.0] * 3] * 2
    assert m.cpu().shape == (2, 3) and m.to("cpu", torch.float64).dtype == torch.float64
    assert m.numpy().shape == (2, 3)


def test_a_cpu_tensor_next_to_a_meta_model_is_caught() -> None:
    model = torch.nn.Linear(3, 2).to(META)
    norm = torch.nn.BatchNorm1d(2).to(META)
    with pytest.raises(RuntimeError) as err:
        norm(model(torch.zeros(4, 3, device=META)) + torch.zeros(4, 2))
    assert any(m in str(err.value).lower() for m in MISMATCH)


@pytest.mark.parametrize("name", _params(EXPERIMENTS))
def test_experiment_runs_on_the_run_device(name: str, on_meta: Record, tmp_path: Path) -> None:
    error: BaseException | None = None
    try:
        runner.run_experiment(
            name, out=tmp_path / "run", preset="tiny", progress=False, report=False
        )
    except Exception as err:  # classified below
        error = err
    message = f"{type(error).__name__}: {error}" if error is not None else ""
    assert not any(m in message.lower() for m in MISMATCH), f"{name}: {message}"
    assert not on_meta.misplaced, f"{name}: {on_meta.misplaced[:5]}"
    if name in META_LIMITS:
        expected, why = META_LIMITS[name]
        assert error is not None and expected in message, (
            f"{name} should stop at {expected!r} ({why}); got {message or 'no error'}"
        )
        return
    assert error is None, f"{name}: {message}"
    if META in on_meta.fits:
        assert on_meta.backward_on_meta > 0, f"{name} trained on meta without a backward pass"
