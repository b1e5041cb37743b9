"""RNN/LSTM/GRU cells vs torch.nn.*Cell with copied weights (float64); validation.

The equations themselves (and the two GRU conventions): ``test_cell_equations.py``.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from replearn.sequence.rnn.cells import GRUCell, LSTMCell, RNNCell

D = torch.float64
TOL = dict(rtol=1e-10, atol=1e-12)

PAIRS = [
    (lambda b: RNNCell(4, 6, b), lambda b: nn.RNNCell(4, 6, b)),
    (lambda b: RNNCell(4, 6, b, "relu"), lambda b: nn.RNNCell(4, 6, b, "relu")),
    (lambda b: LSTMCell(4, 6, b), lambda b: nn.LSTMCell(4, 6, b)),
    (lambda b: GRUCell(4, 6, b), lambda b: nn.GRUCell(4, 6, b)),
]
IDS = ["rnn-tanh", "rnn-relu", "lstm", "gru"]


def _pair(make_ours, make_torch, bias: bool) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    ref = make_torch(bias).to(D)
    ours = make_ours(bias).to(D)
    ours.load_state_dict(ref.state_dict())  # same parameter names: loads directly
    ref.load_state_dict(ours.state_dict())  # and back
    return ours, ref


def _flat(out):
    return torch.cat([o.reshape(-1) for o in out]) if isinstance(out, tuple) else out.reshape(-1)


@pytest.mark.parametrize(("make_ours", "make_torch"), PAIRS, ids=IDS)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_cell_matches_torch_values_and_gradients(make_ours, make_torch, bias, batched) -> None:
    ours, ref = _pair(make_ours, make_torch, bias)
    lstm = isinstance(ours, LSTMCell)
    shape = (3,) if batched else ()
    x = torch.randn(*shape, 4, dtype=D, requires_grad=True)
    h = torch.randn(*shape, 6, dtype=D, requires_grad=True)
    c = torch.randn(*shape, 6, dtype=D, requires_grad=True)
    state = (h, c) if lstm else h
    w = torch.randn_like(_flat(ref(x, state)))  # a random cotangent so every output counts
    grads = []
    for model in (ours, ref):
        out = _flat(model(x, state))
        inputs = [x, h, *([c] if lstm else []), *model.parameters()]
        grads.append((out, torch.autograd.grad((out * w).sum(), inputs)))
    torch.testing.assert_close(grads[0][0], grads[1][0], **TOL)
    for g_ours, g_ref in zip(grads[0][1], grads[1][1], strict=True):
        torch.testing.assert_close(g_ours, g_ref, **TOL)


@pytest.mark.parametrize(("make_ours", "make_torch"), PAIRS, ids=IDS)
def test_cell_zero_default_state(make_ours, make_torch) -> None:
    ours, ref = _pair(make_ours, make_torch, True)
    x = torch.randn(2, 4, dtype=D)
    torch.testing.assert_close(_flat(ours(x)), _flat(ref(x)), **TOL)


def test_parameter_shapes_and_init_range() -> None:
    cell = LSTMCell(3, 16)
    assert cell.weight_ih.shape == (64, 3) and cell.weight_hh.shape == (64, 16)
    assert cell.bias_ih.shape == (64,)
    assert all(p.abs().max() <= 0.25 for p in cell.parameters())  # U(-1/sqrt(16), 1/sqrt(16))
    assert GRUCell(3, 4, bias=False).bias_ih is None
    assert "nonlinearity='relu'" in repr(RNNCell(2, 3, nonlinearity="relu"))


@pytest.mark.parametrize(
    "build",
    [
        lambda: RNNCell(0, 3),
        lambda: RNNCell(3, -1),
        lambda: GRUCell(3, 2.5),
        lambda: RNNCell(3, 3, nonlinearity="sigmoid"),
    ],
)
def test_bad_arguments_raise(build) -> None:
    with pytest.raises(ValueError):
        build()


def test_bad_shapes_raise() -> None:
    cell = GRUCell(3, 4)
    with pytest.raises(ValueError, match="input"):
        cell(torch.randn(2, 5))
    with pytest.raises(ValueError, match="state"):
        cell(torch.randn(2, 3), torch.randn(3, 4))
