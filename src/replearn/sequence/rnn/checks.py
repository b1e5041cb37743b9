"""Argument and shape checks of :mod:`replearn.sequence.rnn.layers`, as ``torch.nn.RNNBase``'s.

The constructor checks are torch's, in torch's order and with torch's messages: ``dropout`` a
number in [0, 1] (and a ``UserWarning`` when it is > 0 with one layer), ``bias`` and
``batch_first`` bools, ``input_size``/``hidden_size``/``num_layers`` positive ints,
``0 <= proj_size < hidden_size`` and ``proj_size`` for LSTM only. The forward checks are those of
``torch.nn.RNNBase.forward``: 2-D or 3-D input (2-D packed data), ``input_size`` features, the
input's dtype that of the weights, a 2-D state for unbatched input and a 3-D one for batched input,
states of shape (num_layers·D, B, P or H) (c_0: (num_layers·D, B, H)).

Where torch raises ``TypeError`` or ``RuntimeError`` (and replearn raised ``ValueError``), the
error raised here is both (:class:`RNNArgumentError`, :class:`RNNInputError`), so code written
for either catches it.

Tests: tests/dropins/test_rnn_dropins.py (every check against what torch raises for the same
arguments) and tests/sequence/test_rnn.py.
"""

from __future__ import annotations

import numbers
import warnings

import torch
from torch import Tensor

__all__ = [
    "RNNArgumentError",
    "RNNInputError",
    "check_initial_state",
    "check_input",
    "check_rnn_arguments",
    "refuse_proj_size",
]


class RNNArgumentError(TypeError, ValueError):
    """A constructor argument of the wrong type (torch: ``TypeError``; also a ``ValueError``)."""


class RNNInputError(ValueError, RuntimeError):
    """A forward input or state of a wrong shape (torch: ``RuntimeError``; also ``ValueError``)."""


def _check_size(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RNNArgumentError(f"{name} should be of type int, got: {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be greater than zero, got {value}")


def check_rnn_arguments(
    mode: str,
    *,
    modes: tuple[str, ...],
    input_size: object,
    hidden_size: object,
    num_layers: object,
    bias: object,
    batch_first: object,
    dropout: object,
    proj_size: object,
) -> None:
    """Raise as ``torch.nn.RNNBase.__init__`` does for these arguments (warn as it warns)."""
    if mode not in modes:
        raise ValueError(f"Unrecognized RNN mode: {mode!r} (one of {sorted(modes)})")
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real):
        raise ValueError(f"dropout should be a number in range [0, 1], got {dropout!r}")
    if not 0.0 <= dropout <= 1.0:
        raise ValueError(f"dropout should be a number in range [0, 1], got {dropout}")
    for name, flag in (("bias", bias), ("batch_first", batch_first)):
        if not isinstance(flag, bool):
            raise RNNArgumentError(f"{name} should be of type bool, got: {type(flag).__name__}")
    _check_size("input_size", input_size)
    _check_size("hidden_size", hidden_size)
    _check_size("num_layers", num_layers)
    if isinstance(proj_size, bool) or not isinstance(proj_size, int):
        raise RNNArgumentError(f"proj_size should be of type int, got {proj_size!r}")
    if proj_size < 0:
        raise ValueError("proj_size should be a positive integer or zero to disable projections")
    if proj_size >= hidden_size:  # type: ignore[operator]
        raise ValueError(f"proj_size has to be smaller than hidden_size, got {proj_size}")
    if proj_size and mode != "LSTM":
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
    if dropout > 0 and num_layers == 1:
        warnings.warn(
            "dropout option adds dropout after all but last recurrent layer, so non-zero "
            f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
            f"num_layers={num_layers}",
            stacklevel=4,
        )


def refuse_proj_size(proj_size: object) -> None:
    """RNN and GRU: torch refuses the keyword ``proj_size`` itself, even ``proj_size=0``."""
    if proj_size is not None:
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")


def check_initial_state(
    hx: object,
    *,
    lstm: bool,
    batched: bool,
    shapes: tuple[tuple[int, ...], tuple[int, ...]],
) -> list[Tensor]:
    """Validate a user's initial state against the batched shapes of (h_0, c_0); return its parts.

    ``hx`` is a tensor (RNN, GRU) or a pair (LSTM), 3-D for batched input and 2-D (no batch axis)
    for unbatched input.
    """
    states = list(hx) if isinstance(hx, (tuple, list)) else [hx]
    if lstm != (len(states) == 2) or len(states) > 2:
        raise RNNInputError("the initial state is a pair (h_0, c_0) for an LSTM, else a tensor")
    for s, shape in zip(states, shapes, strict=False):
        want = shape if batched else (shape[0], shape[2])
        if not isinstance(s, Tensor):
            raise RNNInputError(f"expected an initial state of shape {want}, got {s!r}")
        if s.dim() != len(want):
            kind = "batched 3-D" if batched else "unbatched 2-D"
            raise RNNInputError(
                f"For {kind} input, hx should also be {kind[-3:]} but got a {s.dim()}-D "
                f"tensor (expected shape {want})"
            )
        if tuple(s.shape) != want:
            raise RNNInputError(f"expected an initial state of shape {want}, got {tuple(s.shape)}")
    return states


def check_input(x: Tensor, dims: tuple[int, ...], input_size: int, weight: Tensor) -> None:
    """Raise as torch does unless ``x`` has ``dims`` axes, ``input_size`` features, the dtype of
    ``weight`` (outside autocast)."""
    if x.dim() not in dims or x.shape[-1] != input_size:
        forms = "packed data (N, ·)" if dims == (2,) else "(L, B, ·) / (B, L, ·) or (L, ·)"
        raise RNNInputError(
            f"expected input {forms} with input_size {input_size} features, got {tuple(x.shape)}"
        )
    if x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type):
        raise ValueError(
            f"RNN input dtype ({x.dtype}) does not match weight dtype ({weight.dtype}). "
            f"Convert input: input.to({weight.dtype}), or convert model: model.to({x.dtype})"
        )
