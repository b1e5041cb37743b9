"""RNN/LSTM/GRU vs torch.nn.RNN/LSTM/GRU with loaded state_dicts (float64); reference == fast.

The reference loop alone, on random shapes: ``test_rnn_reference.py``.
"""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from replearn.sequence.rnn.layers import GRU, LSTM, RNN, RNNBase

D = torch.float64
TOL = dict(rtol=1e-9, atol=1e-11)
KINDS = {
    "rnn-tanh": (RNN, nn.RNN, {}),
    "rnn-relu": (RNN, nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (LSTM, nn.LSTM, {}),
    "gru": (GRU, nn.GRU, {}),
}
CONFIGS = [  # (num_layers, bidirectional, batch_first, bias, with initial state)
    (1, False, False, True, False),
    (1, True, True, True, True),
    (2, False, True, False, True),
    (2, True, False, True, False),
    (3, True, True, True, True),
]


def _build(kind: str, layers: int, bidir: bool, batch_first: bool, bias: bool, fast: bool):
    ours_cls, torch_cls, extra = KINDS[kind]
    kw = dict(bias=bias, batch_first=batch_first, bidirectional=bidir, **extra)
    torch.manual_seed(0)
    ref = torch_cls(3, 5, layers, **kw).to(D)
    ours = ours_cls(3, 5, layers, fast=fast, **kw).to(D)
    ours.load_state_dict(ref.state_dict())
    return ours, ref


def _outputs_and_grads(model, x, state, w_out, w_states):
    out, states = model(x, state)
    states = states if isinstance(states, tuple) else (states,)
    loss = (out * w_out).sum() + sum((s * w).sum() for s, w in zip(states, w_states, strict=True))
    leaves = [x, *(state if isinstance(state, tuple) else (state,) if state is not None else ())]
    grads = torch.autograd.grad(loss, [*leaves, *model.parameters()])
    return [out, *states, *grads]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "L{}-bi{}-bf{}-b{}-h0{}".format(*c))
@pytest.mark.parametrize("fast", [False, True], ids=["reference", "fast"])
def test_matches_torch_outputs_states_and_all_gradients(kind, config, fast) -> None:
    layers, bidir, batch_first, bias, with_state = config
    ours, ref = _build(kind, layers, bidir, batch_first, bias, fast)
    B, L, nd = 2, 5, 2 if bidir else 1
    x = torch.randn((B, L, 3) if batch_first else (L, B, 3), dtype=D, requires_grad=True)
    state = None
    if with_state:
        h0 = torch.randn(layers * nd, B, 5, dtype=D, requires_grad=True)
        c0 = torch.randn(layers * nd, B, 5, dtype=D, requires_grad=True)
        state = (h0, c0) if kind == "lstm" else h0
    w_out = torch.randn((B, L, 5 * nd) if batch_first else (L, B, 5 * nd), dtype=D)
    w_states = [torch.randn(layers * nd, B, 5, dtype=D) for _ in range(2 if kind == "lstm" else 1)]
    got = _outputs_and_grads(ours, x, state, w_out, w_states)
    want = _outputs_and_grads(ref, x, state, w_out, w_states)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, **TOL)


@pytest.mark.parametrize("kind", list(KINDS))
def test_unbatched_input(kind) -> None:
    ours, ref = _build(kind, 2, True, False, True, fast=False)
    x = torch.randn(4, 3, dtype=D)
    h = torch.randn(4, 5, dtype=D)
    state = (h, torch.randn(4, 5, dtype=D)) if kind == "lstm" else h
    for fast in (False, True):
        ours.fast = fast
        (o1, s1), (o2, s2) = ours(x, state), ref(x, state)
        torch.testing.assert_close(o1, o2, **TOL)
        for a, b in zip(
            s1 if kind == "lstm" else (s1,), s2 if kind == "lstm" else (s2,), strict=True
        ):
            torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("kind", list(KINDS))
def test_state_dict_round_trip_and_keys(kind) -> None:
    ours, ref = _build(kind, 2, True, True, True, fast=True)
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert "weight_hh_l1_reverse" in ours.state_dict()
    with torch.no_grad():
        for p in ours.parameters():
            p.add_(0.1)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 4, 3, dtype=D)
    torch.testing.assert_close(ours(x)[0], ref(x)[0], **TOL)


def test_inter_layer_dropout() -> None:
    """Dropout acts between layers in training only; p=1 zeroes layer 2's input in both paths."""
    ours = GRU(3, 4, 2, dropout=1.0, fast=False).to(D)
    x = torch.randn(5, 2, 3, dtype=D)
    ours.train()
    out_ref, _ = ours(x)
    ours.fast = True
    out_fast, _ = ours(x)
    torch.testing.assert_close(out_ref, out_fast, **TOL)
    zero_in = ours(torch.zeros_like(x))[0]  # layer 2 sees zeros whatever layer 1 computes
    torch.testing.assert_close(out_ref, zero_in, **TOL)
    ours.eval()
    assert not torch.allclose(ours(x)[0], zero_in)  # no dropout in eval mode
    ours.fast = False
    ours.train()
    torch.manual_seed(0)
    ours.dropout = 0.5
    assert not torch.allclose(ours(x)[0], ours(x)[0])  # fresh masks each call


def test_default_init_range_and_repr() -> None:
    m = LSTM(3, 16, 2, bidirectional=True, dropout=0.1)
    assert all(p.abs().max() <= 0.25 for p in m.parameters())
    assert m.weight_ih_l1.shape == (64, 32)
    text = repr(m)
    assert "num_layers=2" in text and "bidirectional=True" in text and "dropout=0.1" in text
    assert "nonlinearity='relu'" in repr(RNN(2, 3, nonlinearity="relu"))


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_constructor_signature_is_torchs(cls: type[RNNBase]) -> None:
    """torch.nn.RNNBase's names, order, defaults and positional use (less mode; plus the
    keyword-only fast; RNN's nonlinearity='tanh' 4th as in torch.nn.RNN; RNN/GRU take
    proj_size only as a keyword, refused as torch refuses it)."""
    ours = dict(inspect.signature(cls).parameters)
    theirs = dict(inspect.signature(nn.RNNBase.__init__).parameters)
    for name in ("self", "mode"):
        del theirs[name]
    fast = ours.pop("fast")
    assert fast.default is True and fast.kind is fast.KEYWORD_ONLY
    if cls is RNN:
        assert list(ours).index("nonlinearity") == 3
        assert ours.pop("nonlinearity").default == "tanh"
    if cls is not LSTM:
        proj = ours.pop("proj_size")
        assert proj.default is None and proj.kind is proj.KEYWORD_ONLY
        del theirs["proj_size"]
    assert list(ours) == list(theirs)
    assert [p.default for p in ours.values()] == [p.default for p in theirs.values()]
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in ours.values())


@pytest.mark.parametrize(
    "build",
    [
        lambda: GRU(0, 3),
        lambda: GRU(3, 0),
        lambda: LSTM(3, 3, 0),
        lambda: LSTM(3, 3, 1.5),
        lambda: RNN(3, 3, dropout=1.5),
        lambda: RNN(3, 3, dropout=-0.1),
        lambda: RNN(3, 3, nonlinearity="gelu"),
        lambda: RNNBase("CELL", 3, 3),
    ],
)
def test_bad_arguments_raise(build) -> None:
    with pytest.raises(ValueError):
        build()


def test_bad_shapes_raise() -> None:
    m = LSTM(3, 4, 2, batch_first=True)
    with pytest.raises(ValueError, match="input"):
        m(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match="input"):
        m(torch.randn(2, 5, 1, 3))
    with pytest.raises(ValueError, match="pair"):
        m(torch.randn(2, 5, 3), torch.zeros(2, 2, 4))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        m(torch.randn(2, 5, 3), (torch.zeros(2, 2, 4), torch.zeros(1, 2, 4)))
    with pytest.raises(ValueError, match="shape"):
        GRU(3, 4)(torch.randn(5, 2, 3), torch.zeros(1, 3, 4))
