"""Callbacks the training loop calls at named points.

Hook points, in the order :func:`replearn.engine.trainer.fit` calls them::

    on_fit_start(loop)
    for every update:
        for every Loop.optimize(loss, name) (once in a simple task):
            on_loss(loop, loss) -> bool      # True: skip this update
            on_before_optimizer_step(loop)   # gradients of loop.stepping_parameters() are ready
        on_step_end(loop)                    # loop.step counts updates done
        on_validation_end(loop, metrics)     # after an evaluation
    on_fit_end(loop)

Every callback can carry state through checkpoints with ``state_dict`` /
``load_state_dict`` (tensors, numbers, strings, lists, dicts only).
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from replearn.engine.trainer import Loop


class NonFiniteLossError(RuntimeError):
    """The loss became NaN/Inf and the policy says abort (the CLI exits with code 3)."""


class Callback:
    """Base class: every hook is a no-op."""

    def on_fit_start(self, loop: Loop) -> None:
        """Called once before the first batch (after a resume has been applied)."""

    def on_loss(self, loop: Loop, loss: torch.Tensor) -> bool:
        """Called with the batch loss before backward; return True to skip the batch."""
        return False

    def on_before_optimizer_step(self, loop: Loop) -> None:
        """Called after backward, before ``optimizer.step()``."""

    def on_step_end(self, loop: Loop) -> None:
        """Called after each optimizer update."""

    def on_validation_end(self, loop: Loop, metrics: dict[str, float]) -> None:
        """Called with the validation metrics."""

    def on_fit_end(self, loop: Loop) -> None:
        """Called once after the last step."""

    def state_dict(self) -> dict[str, Any]:
        """State to keep in checkpoints."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""


class NonFiniteGuard(Callback):
    """Abort on a NaN/Inf loss, or skip the batch and abort after ``max_skips`` in a row."""

    def __init__(self, *, policy: str = "abort", max_skips: int = 10) -> None:
        if policy not in {"abort", "skip"}:
            raise ValueError(f"nan_policy must be 'abort' or 'skip', got {policy!r}")
        self.policy = policy
        self.max_skips = max_skips
        self.consecutive = 0
        self.total_skipped = 0

    def _abort(self, loop: Loop, why: str) -> None:
        last = loop.last_checkpoint
        where = f"last good checkpoint: {last}" if last else "no checkpoint was written yet"
        raise NonFiniteLossError(f"{why} at step {loop.step + 1}; {where}")

    def on_loss(self, loop: Loop, loss: torch.Tensor) -> bool:
        # one scalar read (a sync on an accelerator, as any check is) instead of three ops
        finite = (
            math.isfinite(loss.item())
            if loss.numel() == 1
            else bool(torch.isfinite(loss.detach()).all())
        )
        if finite:
            self.consecutive = 0
            return False
        if self.policy == "abort":
            self._abort(loop, f"non-finite loss ({loss.item()})")
        self.consecutive += 1
        self.total_skipped += 1
        if self.consecutive > self.max_skips:
            self._abort(loop, f"{self.consecutive} non-finite losses in a row")
        return True

    def state_dict(self) -> dict[str, Any]:
        return {"consecutive": self.consecutive, "total_skipped": self.total_skipped}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.consecutive = int(state["consecutive"])
        self.total_skipped = int(state["total_skipped"])


class GradientClipping(Callback):
    """Clip the gradients of the optimizer being stepped by global L2 norm and/or by value."""

    def __init__(self, *, max_norm: float | None = None, max_value: float | None = None) -> None:
        self.max_norm = max_norm
        self.max_value = max_value

    def on_before_optimizer_step(self, loop: Loop) -> None:
        params = [p for p in loop.stepping_parameters() if p.grad is not None]
        if self.max_value is not None:
            torch.nn.utils.clip_grad_value_(params, self.max_value)
        if self.max_norm is not None:
            loop.grad_norm = torch.nn.utils.clip_grad_norm_(params, self.max_norm)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` evaluations.

    With ``restore_best`` the task's weights at the best evaluation are put back
    when training ends.
    """

    def __init__(
        self,
        *,
        monitor: str = "val_loss",
        mode: str = "min",
        patience: int = 5,
        min_delta: float = 0.0,
        restore_best: bool = True,
    ) -> None:
        if mode not in {"min", "max"}:
            raise ValueError(f"early stopping mode must be 'min' or 'max', got {mode!r}")
        if patience < 1:
            raise ValueError(f"early stopping patience must be >= 1, got {patience}")
        self.monitor, self.mode, self.patience = monitor, mode, patience
        self.min_delta, self.restore_best = min_delta, restore_best
        self.best = math.inf if mode == "min" else -math.inf
        self.best_step = -1
        self.bad_evals = 0
        self.best_state: dict[str, torch.Tensor] | None = None

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_validation_end(self, loop: Loop, metrics: dict[str, float]) -> None:
        if self.monitor not in metrics:
            raise KeyError(
                f"early stopping monitors {self.monitor!r} but validation gave {sorted(metrics)}"
            )
        value = float(metrics[self.monitor])
        if self._improved(value):
            self.best, self.best_step, self.bad_evals = value, loop.step, 0
            if self.restore_best:
                self.best_state = copy.deepcopy(loop.task.state_dict())
        else:
            self.bad_evals += 1
            if self.bad_evals >= self.patience:
                loop.should_stop = True

    def on_fit_end(self, loop: Loop) -> None:
        if self.restore_best and self.best_state is not None:
            loop.task.load_state_dict(self.best_state)

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_step": self.best_step,
            "bad_evals": self.bad_evals,
            "best_state": self.best_state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_step = float(state["best"]), int(state["best_step"])
        self.bad_evals, self.best_state = int(state["bad_evals"]), state["best_state"]


class StopBelow(Callback):
    r"""Stop once a validation metric is at or below a threshold (early stopping on a surrogate).

    The second variant of early stopping in Goodfellow, Bengio & Courville (2016),
    Algorithm 7.3: after early stopping at step :math:`i^*` with training loss
    :math:`\epsilon`, continue training on training + validation data until the
    validation loss falls to :math:`\epsilon` or below.

    Attributes:
        reached: whether the threshold was reached; ``reached_step`` the step it was.
    """

    def __init__(self, *, monitor: str, threshold: float) -> None:
        if not math.isfinite(threshold):
            raise ValueError(f"StopBelow: threshold must be finite, got {threshold}")
        self.monitor, self.threshold = monitor, threshold
        self.reached, self.reached_step = False, -1

    def on_validation_end(self, loop: Loop, metrics: dict[str, float]) -> None:
        if self.monitor not in metrics:
            raise KeyError(f"StopBelow: no metric {self.monitor!r} (have {sorted(metrics)})")
        if not self.reached and metrics[self.monitor] <= self.threshold:
            self.reached, self.reached_step = True, loop.step
            loop.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"reached": self.reached, "reached_step": self.reached_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.reached, self.reached_step = bool(state["reached"]), int(state["reached_step"])


class Checkpointing(Callback):
    """Writes ``checkpoints/step-N.ckpt`` every ``every`` updates and at the end (rank 0)."""

    def __init__(self, *, every: int, keep: int = 2) -> None:
        self.every = every
        self.keep = keep

    def on_step_end(self, loop: Loop) -> None:
        if self.every > 0 and loop.step % self.every == 0:
            loop.save_checkpoint(keep=self.keep)

    def on_fit_end(self, loop: Loop) -> None:
        if loop.last_checkpoint_step != loop.step:
            loop.save_checkpoint(keep=self.keep)


class ProgressCallback(Callback):
    """Drives the rich progress bar (step, loss, steps/s)."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar

    def on_fit_start(self, loop: Loop) -> None:
        self.bar.start(loop.step)

    def on_step_end(self, loop: Loop) -> None:
        self.bar.update(loop.step, loop.last_loss)

    def on_fit_end(self, loop: Loop) -> None:
        self.bar.update(loop.step, loop.last_loss, force=True)
        self.bar.stop()
