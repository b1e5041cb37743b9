r"""Bidirectional RNN with the course's two output maps.

Paper: M. Schuster & K. K. Paliwal, "Bidirectional Recurrent Neural Networks", IEEE
Transactions on Signal Processing 45(11), 1997 (no arXiv id); the course's notation
(Goodfellow, Bengio & Courville, "Deep Learning", 2016, Sec. 10.3).

A forward RNN reads the sequence left to right and a backward RNN, with its own
weights, right to left; the output at :math:`t` sees the whole sequence:

.. math::

    h^f_t = f(W_f x_t + U_f h^f_{t-1}), \qquad h^b_t = f(W_b x_t + U_b h^b_{t+1})   \qquad (1)

    y_t = V_f h^f_t + V_b h^b_t + c                                                 \qquad (2)

Eq. (2) is one linear map of the concatenation :math:`[h^f_t; h^b_t]` with the stacked
weights :math:`[V_f \; V_b]`, which is what a bidirectional ``torch.nn.LSTM`` followed
by an ``nn.Linear(2H, O)`` computes.

With right-padded batches the backward RNN must start at each sequence's last real
token, not at the padding: :func:`reverse_padded` reverses every sequence within its
own length (the padding stays at the end), the backward RNN runs on that, and its
outputs are reversed back.

Deviations: with ``num_layers > 1`` each direction is its own stack (as in ELMo's biLM),
whereas torch's layer :math:`\ell` reads both directions of layer :math:`\ell - 1`.

Tests check: against ``torch.nn.LSTM/GRU/RNN(bidirectional=True)`` + ``nn.Linear`` on
the concatenation with stacked weights (float64, outputs and gradients), also on padded
batches through ``pack_padded_sequence``; :func:`birnn_output` against the concatenated
form; the output at :math:`t` depends on inputs after :math:`t` (gradient), padding
changes nothing.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from replearn.registry import Example, register
from replearn.sequence.rnn.layers import GRU, LSTM, RNN

__all__ = ["BiRNN", "birnn_output", "reverse_padded"]

_CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


def reverse_padded(x: Tensor, lengths: Tensor | None = None) -> Tensor:
    """Reverse every sequence along time within its own length; padding stays at the end.

    Shape:
        x: (B, T, ...); lengths: (B,) or None (all of length T) -> (B, T, ...).
    """
    if lengths is None:
        return x.flip(1)
    t = torch.arange(x.shape[1], device=x.device)[None, :]  # (1, T)
    idx = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # (B, T)
    return x.gather(1, idx.view(*idx.shape, *([1] * (x.dim() - 2))).expand_as(x))


def birnn_output(
    h_f: Tensor, h_b: Tensor, v_f: Tensor, v_b: Tensor, c: Tensor | None = None
) -> Tensor:
    r"""Eq. (2): :math:`y_t = V_f h^f_t + V_b h^b_t + c`.

    Shape:
        h_f, h_b: (..., H); v_f, v_b: (O, H); c: (O,) -> (..., O).
    """
    y = h_f @ v_f.T + h_b @ v_b.T
    return y if c is None else y + c


def _example() -> Example:
    model = BiRNN(input_size=3, hidden_size=5, output_size=4)
    return Example(model, (torch.randn(2, 6, 3), torch.tensor([6, 4])), (2, 6, 4))


@register(
    "sequence.birnn",
    paper="Schuster & Paliwal 1997, IEEE Trans. Signal Processing 45(11)",
    reference="torch bidirectional LSTM/GRU/RNN + Linear on the concatenation (float64, packed)",
    example=_example,
)
class BiRNN(nn.Module):
    """Bidirectional RNN (Eq. 1) with two output maps :math:`V_f, V_b` (Eq. 2).

    Args:
        input_size: features per step.
        hidden_size: state size H of each direction.
        output_size: features O of the output :math:`y_t`.
        cell: ``"lstm"``, ``"gru"`` or ``"rnn"`` (tanh).
        num_layers: layers of each direction's own stack.
        fast: the RNNs' fused kernels (else their reference loops).

    Shape:
        forward: x (B, T, I), lengths (B,) or None -> y (B, T, O) (0 at padded steps).
        :meth:`states` gives :math:`h^f, h^b` (B, T, H) each.
    """

    def __init__(
        self,
        *,
        input_size: int,
        hidden_size: int,
        output_size: int,
        cell: str = "lstm",
        num_layers: int = 1,
        fast: bool = True,
    ) -> None:
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"cell must be one of {sorted(_CELLS)}, got {cell!r}")
        if min(input_size, hidden_size, output_size, num_layers) < 1:
            raise ValueError(
                "input_size, hidden_size, output_size, num_layers must be positive, got "
                f"{input_size}, {hidden_size}, {output_size}, {num_layers}"
            )
        self.cell = cell
        rnn = _CELLS[cell]
        self.forward_rnn = rnn(input_size, hidden_size, num_layers, batch_first=True, fast=fast)
        self.backward_rnn = rnn(input_size, hidden_size, num_layers, batch_first=True, fast=fast)
        self.v_f = nn.Linear(hidden_size, output_size)  # V_f and the bias c
        self.v_b = nn.Linear(hidden_size, output_size, bias=False)  # V_b

    def states(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Eq. (1): forward and backward states at every step. (B, T, I) -> 2 x (B, T, H)."""
        h_f, _ = self.forward_rnn(x)  # (B, T, H); steps after a length never feed real ones
        h_b, _ = self.backward_rnn(reverse_padded(x, lengths))
        return h_f, reverse_padded(h_b, lengths)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Eq. (2) at every step; padded steps are set to 0."""
        h_f, h_b = self.states(x, lengths)
        y = birnn_output(h_f, h_b, self.v_f.weight, self.v_b.weight, self.v_f.bias)  # (B, T, O)
        if lengths is None:
            return y
        real = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]
        return y * real[..., None]

    def extra_repr(self) -> str:
        return f"cell={self.cell!r}"
