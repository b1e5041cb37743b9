"""Locally connected layer: tied weights equal F.conv2d, a per-position loop, params / FLOPs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from replearn.cnn.locally_connected import (
    LocallyConnected2d,
    locally_connected2d,
    locally_connected_flops,
    locally_connected_params,
    tie_weights,
)
from replearn.experiments.cnn import cnn_cost


@pytest.mark.parametrize("stride, padding, size", [(1, 0, 7), (1, 1, 6), (2, 1, 9), (3, 2, 8)])
def test_tied_weights_equal_conv2d(stride, padding, size):
    gen = torch.Generator().manual_seed(stride * 10 + padding)
    x = torch.randn(2, 3, size, size, generator=gen, dtype=torch.float64)
    w = torch.randn(4, 3, 3, 3, generator=gen, dtype=torch.float64)
    b = torch.randn(4, generator=gen, dtype=torch.float64)
    ref = F.conv2d(x, w, b, stride=stride, padding=padding)
    out_size = tuple(ref.shape[-2:])
    bias = b[:, None, None].expand(4, *out_size)
    ours = locally_connected2d(x, tie_weights(w, out_size), bias, stride, padding)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


def test_untied_weights_equal_a_per_position_loop():
    gen = torch.Generator().manual_seed(0)
    layer = LocallyConnected2d(2, 3, 3, input_size=(5, 5), stride=2, padding=1).double()
    x = torch.randn(2, 2, 5, 5, generator=gen, dtype=torch.float64)
    y = layer(x)
    xp = F.pad(x, (1, 1, 1, 1))
    for i in range(layer.output_size[0]):
        for j in range(layer.output_size[1]):
            window = xp[:, :, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3]  # (B, C_in, 3, 3)
            ref = torch.einsum("bcuv,ocuv->bo", window, layer.weight[i, j]) + layer.bias[:, i, j]
            torch.testing.assert_close(y[:, :, i, j], ref, rtol=1e-12, atol=1e-12)


def test_gradients_match_autograd_of_conv_when_tied():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(1, 2, 6, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 2, 3, 3, generator=gen, dtype=torch.float64)
    lw = tie_weights(w, (6, 6)).requires_grad_()
    locally_connected2d(x, lw, None, 1, 1).square().sum().backward()
    gx, glw = x.grad.clone(), lw.grad
    x.grad = None
    wc = w.clone().requires_grad_()
    F.conv2d(x, wc, None, padding=1).square().sum().backward()
    torch.testing.assert_close(gx, x.grad, rtol=1e-10, atol=1e-10)
    # the shared kernel's gradient is the sum of the per-position gradients
    torch.testing.assert_close(glw.sum(dim=(0, 1)), wc.grad, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("c_in, c_out, h", [(1, 4, 8), (3, 5, 6)])
def test_params_and_flops_formulas(c_in, c_out, h):
    layer = LocallyConnected2d(c_in, c_out, 3, input_size=(h, h), padding=1)
    assert sum(p.numel() for p in layer.parameters()) == locally_connected_params(
        c_in, c_out, 3, (h, h)
    )
    with FlopCounterMode(display=False) as counter:
        layer(torch.randn(1, c_in, h, h))
    assert counter.get_total_flops() == locally_connected_flops(c_in, c_out, 3, (h, h))
    conv = torch.nn.Conv2d(c_in, c_out, 3, padding=1)
    with FlopCounterMode(display=False) as counter:
        conv(torch.randn(1, c_in, h, h))
    assert counter.get_total_flops() == locally_connected_flops(c_in, c_out, 3, (h, h))


def test_validation_errors():
    with pytest.raises(ValueError, match="kernel_size"):
        LocallyConnected2d(1, 1, 0, input_size=(4, 4))
    layer = LocallyConnected2d(1, 2, 3, input_size=(4, 4))
    with pytest.raises(ValueError, match="built for inputs"):
        layer(torch.randn(1, 1, 5, 5))
    with pytest.raises(ValueError, match="input channels"):
        locally_connected2d(torch.randn(1, 2, 4, 4), layer.weight)
    assert "input_size=(4, 4)" in repr(layer)


def test_cost_verdicts_read_the_rows():
    row = {"c_in": 1, "c_out": 2, "h": 4, "positions": 16, "params_ratio": 16.0,
           "flops_ratio": 1.0, "time_ratio": 1.0, "time_lo": 0.9, "time_hi": 1.2,
           "formula_ok": True}  # fmt: skip
    holds, evidence = cnn_cost._verdict_sharing({"sharing": [row]})
    assert holds and "time x1.00 (0.90-1.20)" in evidence
    # the time is reported, not judged: a slower locally connected layer changes nothing
    assert cnn_cost._verdict_sharing({"sharing": [{**row, "time_ratio": 9.0}]})[0]
    assert not cnn_cost._verdict_sharing({"sharing": [{**row, "flops_ratio": 1.2}]})[0]
    brow = {"width": 8, "basic_params": 10, "bottleneck_params": 1, "params_ratio": 9.0,
            "flops_ratio": 17.0, "time_ratio": 1.0, "time_lo": None, "time_hi": None}  # fmt: skip
    assert not cnn_cost._verdict_bottleneck({"bottleneck": [brow], "block_map": 4})[0]
    brow["params_ratio"] = 17.0
    assert cnn_cost._verdict_bottleneck({"bottleneck": [brow], "block_map": 4})[0]
