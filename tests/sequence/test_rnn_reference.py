"""The reference loop (``reference_forward``, ``recurrent_layer``) vs torch.nn.RNN/LSTM/GRU."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from replearn.sequence.rnn.reference import recurrent_layer, reference_forward

D = torch.float64
TOL = dict(rtol=1e-9, atol=1e-11)
KINDS = {  # our mode, torch class, its extra arguments
    "rnn-tanh": ("RNN_TANH", nn.RNN, {}),
    "rnn-relu": ("RNN_RELU", nn.RNN, {"nonlinearity": "relu"}),
    "lstm": ("LSTM", nn.LSTM, {}),
    "gru": ("GRU", nn.GRU, {}),
}


def _cell_weights(ref: nn.RNNBase) -> list[list[torch.Tensor | None]]:
    """torch's ``all_weights`` as ``[w_ih, w_hh, b_ih, b_hh]`` per cell (None without bias)."""
    return [w if len(w) == 4 else [*w, None, None] for w in ref.all_weights]


@settings(max_examples=30, deadline=None)
@given(
    kind=st.sampled_from(list(KINDS)),
    layers=st.integers(1, 3),
    bidir=st.booleans(),
    bias=st.booleans(),
    steps=st.integers(1, 6),
    batch=st.integers(1, 3),
    sizes=st.tuples(st.integers(1, 4), st.integers(1, 4)),
)
def test_reference_equals_torch_on_random_shapes(
    kind, layers, bidir, bias, steps, batch, sizes
) -> None:
    mode, torch_cls, extra = KINDS[kind]
    torch.manual_seed(steps)
    ref = torch_cls(*sizes, layers, bias=bias, bidirectional=bidir, **extra).to(D)
    x = torch.randn(steps, batch, sizes[0], dtype=D, requires_grad=True)
    shape = ((2 if bidir else 1) * layers, batch, sizes[1])
    h0 = torch.randn(shape, dtype=D, requires_grad=True)
    c0 = torch.randn(shape, dtype=D, requires_grad=True)
    hx = (h0, c0) if mode == "LSTM" else h0
    o1, s1 = reference_forward(mode, x, hx, _cell_weights(ref), bidirectional=bidir)
    o2, s2 = ref(x, hx)
    assert o1.shape == (steps, batch, sizes[1] * (2 if bidir else 1))
    torch.testing.assert_close(o1, o2, **TOL)
    torch.testing.assert_close(s1, s2, **TOL)
    leaves = [x, h0, *([c0] if mode == "LSTM" else [])]
    w = torch.randn_like(o2)
    g1 = torch.autograd.grad((o1 * w).sum(), leaves)
    g2 = torch.autograd.grad((o2 * w).sum(), leaves)
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("kind", list(KINDS))
def test_reverse_layer_is_forward_on_flipped_time(kind) -> None:
    """One reverse direction == the forward direction on the time-reversed input, flipped back."""
    mode, torch_cls, extra = KINDS[kind]
    torch.manual_seed(0)
    weights = _cell_weights(torch_cls(3, 4, **extra).to(D))[0]
    x = torch.randn(5, 2, 3, dtype=D)
    h, c = torch.randn(2, 4, dtype=D), torch.randn(2, 4, dtype=D)
    c = c if mode == "LSTM" else None
    out_r, h_r, c_r = recurrent_layer(mode, x, h, c, weights, reverse=True)
    out_f, h_f, c_f = recurrent_layer(mode, x.flip(0), h, c, weights)
    torch.testing.assert_close(out_r, out_f.flip(0), **TOL)
    torch.testing.assert_close(h_r, h_f, **TOL)
    torch.testing.assert_close(h_r, out_r[0], **TOL)  # the reverse pass ends at step 1
    assert (c_r is None) == (mode != "LSTM")
    if c_r is not None:
        torch.testing.assert_close(c_r, c_f, **TOL)
    # and the direction matters (so the test can fail)
    assert not torch.allclose(out_r, recurrent_layer(mode, x, h, c, weights)[0])
