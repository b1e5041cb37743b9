"""BiRNN: equals torch's bidirectional RNN + a linear map on the concatenation (float64)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from replearn.sequence.rnn.birnn import BiRNN, birnn_output, reverse_padded

D = torch.float64
TORCH = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def pair(cell: str, fast: bool = True) -> tuple[BiRNN, nn.Module, nn.Linear]:
    """Our BiRNN and torch's bidirectional RNN + Linear(2H, O) with the same weights."""
    torch.manual_seed(0)
    ours = BiRNN(input_size=3, hidden_size=5, output_size=4, cell=cell, fast=fast).double()
    ref = TORCH[cell](3, 5, batch_first=True, bidirectional=True).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(ours.forward_rnn, f"{name}_l0").copy_(getattr(ref, f"{name}_l0"))
            getattr(ours.backward_rnn, f"{name}_l0").copy_(getattr(ref, f"{name}_l0_reverse"))
    head = nn.Linear(10, 4).double()
    with torch.no_grad():
        head.weight.copy_(torch.cat([ours.v_f.weight, ours.v_b.weight], dim=1))  # [V_f V_b]
        head.bias.copy_(ours.v_f.bias)
    return ours, ref, head


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_equals_torch_bidirectional_plus_linear(cell, fast):
    ours, ref, head = pair(cell, fast)
    x = torch.randn(3, 7, 3, dtype=D, requires_grad=True)
    y = ours(x)
    expected = head(ref(x)[0])
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-12)
    g = torch.randn_like(y)
    gx, gw = torch.autograd.grad((y * g).sum(), (x, ours.backward_rnn.weight_hh_l0))
    ex, ew = torch.autograd.grad((expected * g).sum(), (x, ref.weight_hh_l0_reverse))
    torch.testing.assert_close(gx, ex, rtol=0, atol=1e-11)
    torch.testing.assert_close(gw, ew, rtol=0, atol=1e-11)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_padded_batch_equals_packed_torch(cell):
    ours, ref, head = pair(cell)
    lengths = torch.tensor([7, 2, 5])
    x = torch.randn(3, 7, 3, dtype=D)
    real = torch.arange(7)[None, :] < lengths[:, None]
    x[~real] = 99.0  # garbage in the padding must not leak
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, _ = pad_packed_sequence(ref(packed)[0], batch_first=True, total_length=7)
    expected = head(out) * real[..., None]
    torch.testing.assert_close(ours(x, lengths), expected, rtol=0, atol=1e-12)


def test_output_sees_the_future_and_the_past():
    ours, _, _ = pair("lstm")
    x = torch.randn(1, 9, 3, dtype=D, requires_grad=True)
    (g,) = torch.autograd.grad(ours(x)[0, 4].sum(), x)
    assert g[0, 0].abs().sum() > 0 and g[0, 8].abs().sum() > 0
    h_f, h_b = ours.states(x)
    (gf,) = torch.autograd.grad(h_f[0, 4].sum(), x, retain_graph=True)
    (gb,) = torch.autograd.grad(h_b[0, 4].sum(), x)
    assert gf[0, 5:].abs().max() == 0 and gf[0, 0].abs().sum() > 0  # forward: past only
    assert gb[0, :4].abs().max() == 0 and gb[0, 8].abs().sum() > 0  # backward: future only


def test_birnn_output_is_the_stacked_linear_map():
    g = torch.Generator().manual_seed(0)
    h_f, h_b = (
        torch.randn(2, 3, 5, generator=g, dtype=D),
        torch.randn(2, 3, 5, generator=g, dtype=D),
    )
    v_f, v_b = torch.randn(4, 5, generator=g, dtype=D), torch.randn(4, 5, generator=g, dtype=D)
    c = torch.randn(4, generator=g, dtype=D)
    expected = torch.cat([h_f, h_b], -1) @ torch.cat([v_f, v_b], 1).T + c
    torch.testing.assert_close(birnn_output(h_f, h_b, v_f, v_b, c), expected, rtol=0, atol=1e-12)


def test_reverse_padded_and_validation():
    x = torch.arange(12).view(2, 6)
    out = reverse_padded(x, torch.tensor([6, 4]))
    assert out.tolist() == [[5, 4, 3, 2, 1, 0], [9, 8, 7, 6, 10, 11]]
    assert torch.equal(
        reverse_padded(reverse_padded(x, torch.tensor([6, 4])), torch.tensor([6, 4])), x
    )
    assert torch.equal(reverse_padded(x), x.flip(1))
    with pytest.raises(ValueError, match="cell"):
        BiRNN(input_size=3, hidden_size=5, output_size=4, cell="tcn")
    with pytest.raises(ValueError):
        BiRNN(input_size=3, hidden_size=0, output_size=4)


def test_labelling_task_and_matched_budget():
    from replearn.experiments.common import count_params as n_params
    from replearn.experiments.sequence.birnn_labelling import (
        BiTagger,
        Config,
        labelling_data,
        matched_unidirectional,
    )

    cfg = Config(k=2, vocab=6, length=10)
    x, y = labelling_data(cfg, 50, torch.Generator().manual_seed(0)).tensors
    for t in range(10):
        window = x[:, max(t - 2, 0) : t + 3]
        assert torch.equal(y[:, t], window.amax(dim=1))
    fx, fy = labelling_data(Config(task="future", k=2), 20, torch.Generator()).tensors
    assert torch.equal(fy[:, :-2], fx[:, 2:]) and (fy[:, -2:] == -100).all()
    bi = BiTagger(vocab=8, embed_size=16, hidden_size=32, output_size=8)
    uni = matched_unidirectional(Config(), n_params(bi))
    assert abs(n_params(uni) - n_params(bi)) / n_params(bi) < 0.03
    assert (
        n_params(uni)
        == 8 * 16
        + 4 * uni.rnn.hidden_size * (16 + uni.rnn.hidden_size + 2)
        + (uni.rnn.hidden_size + 1) * 8
    )
