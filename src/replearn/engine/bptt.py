r"""Truncated backpropagation through time (TBPTT) over one long stream, as a :class:`Task`.

Papers: R. J. Williams & J. Peng, "An Efficient Gradient-Based Algorithm for On-Line Training
of Recurrent Network Trajectories", Neural Computation 2(4), 1990 (BPTT(h; h')); I. Sutskever,
"Training Recurrent Neural Networks", PhD thesis, University of Toronto, 2013, Sec. 2.8.6
(the :math:`k_1, k_2` form). TBPTT bounds memory and reach; it does not mitigate vanishing
gradients (see docs/corrections.md#sequence-models).

A model with a hidden state reads a stream :math:`x_1, \dots, x_T` far too long to
backpropagate through at once (a character language model over a whole book). TBPTT carries
the state forward across updates but cuts the gradient: every :math:`k_1` new steps ending at
:math:`t + k_1`, it backpropagates the loss of those :math:`k_1` steps through the last
:math:`k_2 \ge k_1` steps only,

.. math::

    g_t = \nabla_\theta \frac{1}{k_1} \sum_{\tau=t+1}^{t+k_1} \ell_\tau\big(
        f_\theta(x_{s+1..\tau};\ \mathrm{sg}(h_s))\big),\ \ s = \max(0,\ t + k_1 - k_2)  \qquad (1)

where :math:`\mathrm{sg}` stops the gradient (``detach``): the state at :math:`s` is the
carried value, a constant for this update. :math:`k_1 = k_2 = k` is plain truncation (chunks of
:math:`k` steps, state detached between them); :math:`k_1 = k_2 \ge T` is full BPTT (one update
over the whole stream). With :math:`k_2 > k_1` the last :math:`k_2 - k_1` steps of the previous
window are recomputed (the cost of the longer memory: :math:`k_2` forward steps per :math:`k_1`).

:class:`TruncatedBPTTTask` implements Eq. (1) as a task of the engine's general loop that
draws its own data: ``fit(task, optimizer, None, ...)``. The order of a stream is the
algorithm (no shuffling), so the task keeps its own cursor: each update reads the next
:math:`k_1` steps, and at the end of the stream the state goes back to zero (one pass =
``task.updates_per_pass`` updates; ``engine.max_steps`` sets how many). The cursor and the
carried state are part of the task's ``state_dict`` (``get_extra_state``), so checkpoints
hold them and a resumed run continues exactly. Under torchrun each rank reads its own equal
share of the stream's columns and DDP averages the gradients, so N processes follow one
process's trajectory. Evaluation (``validate``) reads the whole validation stream with the
state carried.

The model is called as ``model(x, state) -> (outputs, new_state)`` with ``x`` (k, B, ...)
time-major and ``state`` None at the start (``torch.nn.LSTM`` and
:mod:`replearn.sequence.rnn.layers` follow this convention); the state may be a tensor or a tuple.

Tests: with :math:`k \ge T` the gradient equals full BPTT; with :math:`k < T` (also
:math:`k_1 < k_2`) it equals a hand-detached computation that reruns the stream from the start;
a run interrupted and resumed from a checkpoint ends with the same weights and state.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.engine.trainer import Loop, Task

__all__ = [
    "TruncatedBPTTTask", "batchify", "detach_state", "language_model_streams",
    "sequence_cross_entropy", "window_bounds",
]  # fmt: skip

State = Tensor | tuple[Tensor, ...] | None


def detach_state(state: State) -> State:
    """:math:`\\mathrm{sg}(h)`: the same values, cut from the graph (tensors or tuples of them)."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    return tuple(detach_state(s) for s in state)  # type: ignore[misc]


def batchify(stream: Tensor, batch_size: int) -> Tensor:
    """Cut a stream into ``batch_size`` contiguous columns read in parallel (tail dropped).

    Shape:
        (N, *) -> (N // batch_size, batch_size, *); column j is stream[j·T : (j+1)·T].
    """
    steps = stream.shape[0] // batch_size
    if steps < 1:
        raise ValueError(f"a stream of {stream.shape[0]} steps cannot fill {batch_size} columns")
    cols = stream[: steps * batch_size].reshape(batch_size, steps, *stream.shape[1:])
    return cols.transpose(0, 1).contiguous()


def language_model_streams(tokens: Tensor, batch_size: int) -> tuple[Tensor, Tensor]:
    """Inputs ``x_t`` and next-token targets ``x_{t+1}`` as (T, B) time-major columns."""
    cols = batchify(tokens, batch_size)  # (T + 1, B)
    return cols[:-1], cols[1:]


def sequence_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean next-token cross-entropy (nats).

    Shape:
        logits (k, B, V), targets (k, B) -> ().
    """
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1))


def window_bounds(t: int, k1: int, k2: int, length: int) -> tuple[int, int, int]:
    """Eq. (1)'s window for the update whose new steps start at ``t``: ``(s, end, s_next)``.

    Steps ``[s, end)`` are run with gradient, the loss is on ``[t, end)`` (``end = min(t + k1,
    length)``), and the state at ``s_next`` (the next update's ``s``) is the one carried.
    """
    end = min(t + k1, length)
    return max(0, t + k1 - k2), end, max(0, end + k1 - k2)


class TruncatedBPTTTask(Task):
    """Eq. (1) over a time-major stream, one update per ``training_step`` (see module doc).

    Args:
        model: ``model(x, state) -> (outputs, new_state)``, x (k, B, ...) time-major.
        inputs: the stream read by the model, (T, B, ...) (see :func:`batchify`).
        targets: what ``loss_fn`` compares the outputs with, (T, B, ...).
        k1: new steps per update.
        k2: steps backpropagated through (default ``k1``; must be >= ``k1``).
        loss_fn: ``loss_fn(outputs, targets) -> scalar`` (default next-token cross-entropy).
        val_inputs, val_targets: a held-out stream for ``validation_step`` (read in chunks of
            ``k1`` with the state carried, no gradient).
    """

    def __init__(
        self,
        model: nn.Module,
        inputs: Tensor,
        targets: Tensor,
        *,
        k1: int,
        k2: int | None = None,
        loss_fn: Callable[[Any, Tensor], Tensor] = sequence_cross_entropy,
        val_inputs: Tensor | None = None,
        val_targets: Tensor | None = None,
    ) -> None:
        super().__init__()
        k2 = k1 if k2 is None else k2
        for name, value in (("k1", k1), ("k2", k2)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if k2 < k1:
            raise ValueError(f"k2 must be >= k1 (else some outputs get no gradient): {k2} < {k1}")
        if inputs.shape[:2] != targets.shape[:2] or inputs.shape[0] < 1:
            raise ValueError(
                f"inputs {tuple(inputs.shape)} and targets {tuple(targets.shape)} "
                "must share their (T, B) leading dimensions"
            )
        self.model, self.loss_fn, self.k1, self.k2 = model, loss_fn, k1, k2
        self.inputs, self.targets = inputs, targets
        self.val_inputs, self.val_targets = val_inputs, val_targets
        self.cursor = 0  # t: first new step of the next update
        self.carried: State = None  # detached state at window_bounds(cursor, ...)[0]

    @property
    def length(self) -> int:
        """Steps T of the stream."""
        return self.inputs.shape[0]

    @property
    def updates_per_pass(self) -> int:
        """Updates of one pass over the stream: ceil(T / k1)."""
        return math.ceil(self.length / self.k1)

    def _columns(self, stream: Tensor) -> Tensor:
        """This rank's equal share of the stream's columns (all of them in one process)."""
        if not torch.distributed.is_initialized():
            return stream
        world, rank = torch.distributed.get_world_size(), torch.distributed.get_rank()
        if stream.shape[1] % world:
            raise ValueError(f"{stream.shape[1]} columns cannot be split over {world} ranks")
        per = stream.shape[1] // world
        return stream[:, rank * per : (rank + 1) * per]

    def _run(
        self, start: int, stop: int, state: State, inputs: Tensor, *, split: bool = True
    ) -> tuple[Any, State]:
        dev = next(self.model.parameters()).device
        window = self._columns(inputs[start:stop]) if split else inputs[start:stop]
        return self.model(window.to(dev), state)

    def training_step(self, batch: Any = None) -> tuple[Tensor, dict[str, Tensor]]:
        """One update of Eq. (1) at the cursor; ``batch`` (an update counter) is not read."""
        t = self.cursor
        s, end, s_next = window_bounds(t, self.k1, self.k2, self.length)
        outs: list[Tensor] = []
        state = self.carried
        if s_next > s:  # [s, s_next): also yields the state carried to the next update
            out, state = self._run(s, s_next, state, self.inputs)
            outs.append(out)
        carried = detach_state(state)
        if end > s_next:  # [s_next, end): the gradient keeps flowing through `state`
            out, state = self._run(s_next, end, state, self.inputs)
            outs.append(out)
        outputs = torch.cat(outs)[t - s :]  # the k1 new steps
        loss = self.loss_fn(outputs, self._columns(self.targets[t:end]).to(outputs.device))
        if end < self.length:
            self.cursor, self.carried = end, carried
        else:  # end of the stream: the next pass starts from a zero state
            self.cursor, self.carried = 0, None
        return loss, {}

    @torch.no_grad()
    def validation_step(self, batch: Any = None) -> dict[str, Tensor]:
        """Mean loss over the whole validation stream with the state carried (``batch`` unread)."""
        if self.val_inputs is None or self.val_targets is None:
            raise ValueError("TruncatedBPTTTask was built without a validation stream")
        total, state, n = 0.0, None, self.val_inputs.shape[0]
        for start in range(0, n, self.k1):
            stop = min(start + self.k1, n)
            out, state = self._run(start, stop, state, self.val_inputs, split=False)
            target = self.val_targets[start:stop].to(out.device)
            total += float(self.loss_fn(out, target)) * out.shape[0]
        return {"loss": torch.tensor(total / n)}

    def validate(self, loop: Loop) -> dict[str, float]:
        """``val_loss`` over the validation stream (nothing without one)."""
        if self.val_inputs is None:
            return {}
        was_training = self.training
        self.eval()
        loss = float(self.validation_step()["loss"])
        self.train(was_training)
        return {"val_loss": loss}

    # -- checkpointed with the task: the cursor and the carried state ----------------------
    def get_extra_state(self) -> dict[str, Any]:
        state = self.carried
        kind = "none" if state is None else "tensor" if isinstance(state, Tensor) else "tuple"
        tensors = [] if state is None else [state] if isinstance(state, Tensor) else list(state)
        return {"cursor": self.cursor, "kind": kind, "state": [x.cpu() for x in tensors]}

    def set_extra_state(self, extra: dict[str, Any]) -> None:
        dev = next(self.model.parameters()).device
        tensors = [x.to(dev) for x in extra["state"]]
        self.cursor = int(extra["cursor"])
        kind = extra["kind"]
        self.carried = (
            None if kind == "none" else tensors[0] if kind == "tensor" else tuple(tensors)
        )

    def extra_repr(self) -> str:
        return f"k1={self.k1}, k2={self.k2}, steps={self.length}, columns={self.inputs.shape[1]}"
