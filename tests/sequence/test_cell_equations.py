"""The cell equations (Elman, LSTM, GRU) vs torch.nn.*Cell (float64), by hand, and the GRU forms."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from replearn.sequence.rnn import cell_equations as C

D = torch.float64
TOL = dict(rtol=1e-10, atol=1e-12)


def _step(kind: str, cell: nn.Module, x, h, c):
    """Our ``*_step`` with the weights of a torch cell, from the input projection."""
    ax = F.linear(x, cell.weight_ih, cell.bias_ih)
    if kind == "lstm":
        return C.lstm_step(ax, h, c, cell.weight_hh, cell.bias_hh)
    if kind == "gru":
        return C.gru_step(ax, h, cell.weight_hh, cell.bias_hh)
    return C.rnn_step(ax, h, cell.weight_hh, cell.bias_hh, cell.nonlinearity)


@pytest.mark.parametrize(
    ("kind", "make"),
    [
        ("rnn", lambda b: nn.RNNCell(4, 6, b)),
        ("rnn", lambda b: nn.RNNCell(4, 6, b, "relu")),
        ("lstm", lambda b: nn.LSTMCell(4, 6, b)),
        ("gru", lambda b: nn.GRUCell(4, 6, b)),
    ],
    ids=["rnn-tanh", "rnn-relu", "lstm", "gru"],
)
@pytest.mark.parametrize("bias", [True, False])
def test_steps_match_torch_cells_values_and_gradients(kind, make, bias) -> None:
    torch.manual_seed(0)
    cell = make(bias).to(D)
    x = torch.randn(3, 4, dtype=D, requires_grad=True)
    h = torch.randn(3, 6, dtype=D, requires_grad=True)
    c = torch.randn(3, 6, dtype=D, requires_grad=True)
    ours = _step(kind, cell, x, h, c)
    ref = cell(x, (h, c)) if kind == "lstm" else cell(x, h)
    ours, ref = (ours, ref) if kind == "lstm" else ((ours,), (ref,))
    inputs = [x, h, *([c] if kind == "lstm" else []), *cell.parameters()]
    w = [torch.randn_like(o) for o in ref]  # a random cotangent so every output counts
    g_ours = torch.autograd.grad(sum((o * v).sum() for o, v in zip(ours, w, strict=True)), inputs)
    g_ref = torch.autograd.grad(sum((o * v).sum() for o, v in zip(ref, w, strict=True)), inputs)
    for a, b in zip([*ours, *g_ours], [*ref, *g_ref], strict=True):
        torch.testing.assert_close(a, b, **TOL)


def test_gru_course_convention_is_torch_with_z_flipped() -> None:
    """z_course = 1 - z_torch: negating the z rows of W and b gives the course's update gate."""
    torch.manual_seed(1)
    cell = nn.GRUCell(3, 5).to(D)
    x, h = torch.randn(4, 3, dtype=D), torch.randn(4, 5, dtype=D)
    ax = F.linear(x, cell.weight_ih, cell.bias_ih).chunk(3, -1)
    ah = F.linear(h, cell.weight_hh, cell.bias_hh).chunk(3, -1)
    r = C.gru_reset_gate(ax[0], ah[0])
    n = C.gru_candidate(ax[2], ah[2], r)
    z_torch = C.gru_update_gate(ax[1], ah[1])
    z_course = C.gru_update_gate(-ax[1], -ah[1])  # negated z rows
    torch.testing.assert_close(z_course, 1 - z_torch, **TOL)
    h_course = C.gru_hidden_course(h, n, z_course)
    torch.testing.assert_close(h_course, cell(x, h), **TOL)
    torch.testing.assert_close(C.gru_hidden(h, n, z_torch), cell(x, h), **TOL)
    # the two forms differ if the gate is not flipped (so the test can fail)
    assert not torch.allclose(C.gru_hidden_course(h, n, z_torch), cell(x, h))


def test_lstm_equations_by_hand() -> None:
    """Eqs. (2)-(4) on a one-unit cell with hand-picked pre-activations."""
    ax = torch.tensor([[0.0, 100.0, 0.5, -100.0]], dtype=D)  # i = 1/2, f = 1, g = tanh .5, o = 0
    i, f, g, o = C.lstm_gates(ax, torch.zeros_like(ax))
    c = C.lstm_cell_state(torch.tensor([[2.0]], dtype=D), i, f, g)
    torch.testing.assert_close(
        c, torch.tensor([[2.0 + 0.5 * torch.tanh(torch.tensor(0.5)).item()]], dtype=D)
    )
    torch.testing.assert_close(C.lstm_hidden(c, o), torch.zeros(1, 1, dtype=D), atol=1e-40, rtol=0)


def test_rnn_relu_is_relu() -> None:
    a = torch.tensor([[-1.0, 2.0]])
    assert torch.equal(C.rnn_hidden(a, torch.zeros_like(a), "relu"), torch.tensor([[0.0, 2.0]]))
