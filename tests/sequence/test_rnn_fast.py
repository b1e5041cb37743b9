"""rnn_fast.fused_forward called directly with torch.nn's flat weights == torch.nn (float64)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from replearn.sequence.rnn.fast import fused_forward

F64 = torch.float64
CASES = [
    ("RNN_TANH", lambda **kw: nn.RNN(nonlinearity="tanh", **kw)),
    ("RNN_RELU", lambda **kw: nn.RNN(nonlinearity="relu", **kw)),
    ("LSTM", nn.LSTM),
    ("GRU", nn.GRU),
]


@pytest.mark.parametrize(("mode", "make"), CASES)
@pytest.mark.parametrize(
    ("bidirectional", "batch_first", "bias"), [(False, False, True), (True, True, False)]
)
def test_fused_forward_equals_torch(mode, make, bidirectional, batch_first, bias):
    torch.manual_seed(0)
    net = make(
        input_size=3, hidden_size=5, num_layers=2, bias=bias, batch_first=batch_first,
        bidirectional=bidirectional, dtype=F64,
    )  # fmt: skip
    x = torch.randn(4, 6, 3, dtype=F64)  # (B, L, I) if batch_first else (L, B, I)
    layers = 2 * (2 if bidirectional else 1)
    h0 = torch.randn(layers, 4 if batch_first else 6, 5, dtype=F64)  # (layers, B, H)
    hx = (h0, torch.randn_like(h0)) if mode == "LSTM" else h0
    expected_out, expected_h = net(x, hx)
    out, h = fused_forward(
        mode, x, hx, net._flat_weights, bias=bias, num_layers=2, dropout=0.0, training=False,
        bidirectional=bidirectional, batch_first=batch_first,
    )  # fmt: skip
    torch.testing.assert_close(out, expected_out, rtol=0, atol=1e-12)
    for got, want in zip(
        h if mode == "LSTM" else (h,), expected_h if mode == "LSTM" else (expected_h,), strict=True
    ):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


def test_unknown_mode():
    x, h = torch.zeros(2, 1, 3), torch.zeros(1, 1, 4)
    with pytest.raises(KeyError):
        fused_forward(
            "LSTMP", x, h, [], bias=False, num_layers=1, dropout=0.0, training=False,
            bidirectional=False, batch_first=False,
        )  # fmt: skip
