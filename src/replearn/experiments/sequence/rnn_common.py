"""Glue shared by the recurrent-network experiments (gradients, memory, TBPTT, char LSTM).

* :func:`hidden_gradient_norms` -- unroll ``h_t = phi(W_hh h_{t-1} + W_ih x_t + b)``
  and return ``||dL/dh_t||`` for every step (the quantity of Bengio et al. 1994 and
  Pascanu et al. 2013, arXiv:1211.5063).
* :func:`fit_log_slope`, :func:`vanishing_distance` -- what the gradient claims read off it.
* :class:`SequenceModel` -- an RNN / LSTM / GRU of :mod:`replearn.sequence.rnn.layers` with an
  optional embedding and a linear head.
* :class:`SavedTensorBytes` -- counts the bytes autograd keeps for the backward pass
  (``torch.autograd.graph.saved_tensors_hooks``), a device-independent memory measure.
* :class:`StepTimer` -- an engine callback recording the wall time of every update
  (used by ``tbptt-tradeoff`` and ``cnn-parallel``).
* :func:`head_mean`, :func:`tail_mean` -- small utilities; :func:`single_thread` is
  :func:`replearn.engine.context.single_thread`, re-exported for the experiments above.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from replearn.engine import Callback, Loop
from replearn.engine.context import single_thread  # noqa: F401 (re-exported)
from replearn.sequence.rnn.layers import GRU, LSTM, RNN

Nonlinearity = Literal["tanh", "relu", "linear"]
CellKind = Literal["rnn", "lstm", "gru"]

_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "linear": lambda a: a}


def hidden_gradient_norms(
    weight_hh: Tensor,
    weight_ih: Tensor,
    x: Tensor,
    *,
    nonlinearity: Nonlinearity = "tanh",
    bias: Tensor | None = None,
    readout: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Norms of the gradients :math:`\partial L / \partial h_t` of an unrolled vanilla RNN.

    .. math::
        h_t = \phi(W_{hh} h_{t-1} + W_{ih} x_t + b), \quad h_0 = 0, \quad
        L = \sum_b \langle r_b, h_T^{(b)} \rangle

    so that :math:`\partial L/\partial h_t = (\prod_{s=t+1}^{T} J_s)^\top r` with the
    step Jacobians :math:`J_s = \mathrm{diag}(\phi'(a_s)) W_{hh}` (Pascanu et al. 2013,
    Eq. 5). ``readout`` defaults to all-ones.

    Shape:
        weight_hh: (H, H); weight_ih: (H, I); x: (T, B, I); readout: (B, H) ->
        (norms (T + 1, B) with row ``t`` = ``||dL/dh_t||``, h (T + 1, B, H)).
    """
    if nonlinearity not in _ACTIVATIONS:
        raise ValueError(
            f"nonlinearity must be one of {sorted(_ACTIVATIONS)}, got {nonlinearity!r}"
        )
    act = _ACTIVATIONS[nonlinearity]
    steps, batch, _ = x.shape
    w_hh, w_ih = weight_hh.detach(), weight_ih.detach()
    h = torch.zeros(batch, w_hh.shape[0], dtype=w_hh.dtype, requires_grad=True)  # (B, H)
    hs = [h]
    for t in range(steps):
        a = h @ w_hh.T + x[t] @ w_ih.T  # (B, H)
        if bias is not None:
            a = a + bias.detach()
        h = act(a)
        h.retain_grad()
        hs.append(h)
    r = torch.ones_like(h) if readout is None else readout.to(h)
    (hs[-1] * r).sum().backward()
    grads = torch.stack([hh.grad for hh in hs])  # (T + 1, B, H)
    return grads.norm(dim=-1), torch.stack([hh.detach() for hh in hs])


def fit_log_slope(norms: Tensor, distances: Tensor) -> tuple[float, float, float]:
    r"""Least-squares fit :math:`\log n = a + s\,d`: (slope ``s``, intercept ``a``, R²).

    A slope ``s < 0`` with R² near 1 is exponential decay at rate ``e^{s}`` per step;
    ``s > 0`` is exponential growth.

    Shape:
        norms: (N,) positive; distances: (N,) -> three floats.
    """
    y = norms.double().log()
    d = distances.double()
    if y.numel() < 2 or not torch.isfinite(y).all():
        raise ValueError("need at least two positive, finite norms")
    design = torch.stack([d, torch.ones_like(d)], dim=1)  # (N, 2)
    coef = torch.linalg.lstsq(design, y[:, None]).solution[:, 0]
    resid = y - design @ coef
    total = (y - y.mean()).square().sum()
    r2 = 1.0 - float(resid.square().sum() / total) if total > 0 else 1.0
    return float(coef[0]), float(coef[1]), r2


def vanishing_distance(norms: Tensor, ratio: float = 1e-3) -> int | None:
    """First distance ``d`` at which ``norms[d] < ratio * norms[0]`` (None if never).

    ``norms[d]`` is the gradient norm ``d`` steps back from the loss.

    Shape:
        norms: (D,) -> int or None.
    """
    below = (norms < ratio * norms[0]).nonzero()
    return int(below[0, 0]) if len(below) else None


class SequenceModel(nn.Module):
    """A one-layer recurrent network with an optional embedding and a linear head.

    ``forward(x)`` maps ``(B, T, I)`` floats (or ``(B, T)`` token ids when ``vocab_size``
    is set) to ``(B, T, output_size)`` outputs, one per step (``(T, B, ...)`` time-major
    with ``batch_first=False``, the convention of :mod:`replearn.engine.bptt`); ``state``
    carries the recurrent state between calls (truncated BPTT, generation).

    Args:
        kind: ``rnn`` (tanh), ``lstm`` or ``gru``.
        input_size: features per step (the embedding width with ``vocab_size``).
        hidden_size: recurrent state size.
        output_size: head outputs per step.
        vocab_size: embed token ids first when set.
        num_layers: stacked recurrent layers.
        batch_first: ``(B, T, ...)`` inputs and outputs (else time-major ``(T, B, ...)``).
    """

    def __init__(
        self,
        kind: CellKind,
        *,
        input_size: int,
        hidden_size: int,
        output_size: int,
        vocab_size: int | None = None,
        num_layers: int = 1,
        batch_first: bool = True,
    ) -> None:
        super().__init__()
        classes = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
        if kind not in classes:
            raise ValueError(f"kind must be one of {sorted(classes)}, got {kind!r}")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.kind = kind
        self.embed = nn.Embedding(vocab_size, input_size) if vocab_size else None
        self.rnn = classes[kind](input_size, hidden_size, num_layers, batch_first=batch_first)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x: Tensor, state: object = None) -> tuple[Tensor, object]:
        """Outputs ``(B, T, output_size)`` (time-major if not batch_first) and the final state."""
        if self.embed is not None:
            x = self.embed(x)  # (B, T, I)
        out, state = self.rnn(x, state)  # (B, T, H)
        return self.head(out), state


class SavedTensorBytes:
    """Context manager counting the bytes of every tensor autograd saves for backward.

    The count is taken at save time (``saved_tensors_hooks``); tensors saved twice
    are counted twice, views are counted at their own size. It measures what a
    training step must keep alive between forward and backward, the quantity
    truncated BPTT trades against the dependency length.
    """

    def __init__(self) -> None:
        self.bytes = 0
        self.count = 0
        self._hooks: contextlib.AbstractContextManager | None = None

    def _pack(self, t: Tensor) -> Tensor:
        self.bytes += t.numel() * t.element_size()
        self.count += 1
        return t

    def __enter__(self) -> SavedTensorBytes:
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._hooks is not None
        self._hooks.__exit__(*exc)


class StepTimer(Callback):
    """Wall-clock seconds of every update, from one ``on_step_end`` to the next.

    The first interval starts at ``on_fit_start``, so it includes the first batch's
    set-up; callers usually drop it or take a median. ``times[i]`` is update ``i + 1``.
    """

    def __init__(self) -> None:
        self.times: list[float] = []
        self._last = 0.0

    def on_fit_start(self, loop: Loop) -> None:
        self._last = time.perf_counter()

    def on_step_end(self, loop: Loop) -> None:
        now = time.perf_counter()
        self.times.append(now - self._last)
        self._last = now


def tail_mean(values: Sequence[float], fraction: float = 0.1) -> float:
    """Mean of the last ``fraction`` of ``values`` (at least one value)."""
    if not values:
        raise ValueError("no values")
    k = max(1, math.ceil(fraction * len(values)))
    return float(sum(values[-k:]) / k)


def head_mean(values: Sequence[float], fraction: float = 0.1) -> float:
    """Mean of the first ``fraction`` of ``values`` (at least one value)."""
    if not values:
        raise ValueError("no values")
    k = max(1, math.ceil(fraction * len(values)))
    return float(sum(values[:k]) / k)
