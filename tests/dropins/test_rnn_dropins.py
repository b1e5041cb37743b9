"""replearn RNN/LSTM/GRU == torch.nn.RNN/LSTM/GRU for every input form torch documents.

Every form (batched time-major, ``batch_first``, unbatched (L, H_in), ``PackedSequence`` sorted
and unsorted), with and without an initial state, LSTM ``proj_size`` 0 and > 0, bias on and off,
on the fast (fused) and the reference (``fast=False``, Python loop) paths: torch's weights
loaded through ``load_state_dict`` (same names), float64, outputs, final states and the
gradients of the input, the initial states and every parameter. Then the constructor's and the
forward's argument errors: ours raise an instance of the exception type torch raises.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from replearn.sequence.rnn import GRU, LSTM, RNN

F64 = torch.float64
TOL = dict(rtol=1e-9, atol=1e-11)
L, B, I, H, P = 5, 3, 4, 6, 3  # noqa: E741 - the paper names: length, batch, input, hidden
LENGTHS = [3, 5, 2]  # unsorted: exercises sorted_indices / unsorted_indices

# name -> (ours, torch's, constructor keywords)
KINDS = {
    "rnn_tanh": (RNN, nn.RNN, {}),
    "rnn_relu": (RNN, nn.RNN, {"nonlinearity": "relu"}),
    "gru": (GRU, nn.GRU, {}),
    "lstm": (LSTM, nn.LSTM, {}),
    "lstm_proj": (LSTM, nn.LSTM, {"proj_size": P}),
}
FORMS = ["batched", "batch_first", "unbatched", "packed_sorted", "packed_unsorted"]


def _pair(kind: str, fast: bool, **kw: object) -> tuple[nn.Module, nn.Module]:
    ours_cls, torch_cls, extra = KINDS[kind]
    args = dict(num_layers=2, bidirectional=True) | extra | kw
    theirs = torch_cls(I, H, dtype=F64, **args)
    ours = ours_cls(I, H, dtype=F64, fast=fast, **args)
    ours.load_state_dict(theirs.state_dict())  # same names, strict
    return ours, theirs


def _states(kind: str, batch: int | None, g: torch.Generator) -> tuple[torch.Tensor, ...]:
    d = 2 * 2  # num_layers * directions
    lead = (d,) if batch is None else (d, batch)
    h = torch.randn(*lead, P if kind == "lstm_proj" else H, generator=g, dtype=F64)
    if kind.startswith("lstm"):
        return h, torch.randn(*lead, H, generator=g, dtype=F64)
    return (h,)


def _run(model: nn.Module, form: str, x: torch.Tensor, hx: tuple[torch.Tensor, ...] | None):
    """Forward in ``form``; the output as a padded time-major tensor, and the states."""
    state = None if hx is None else (hx if len(hx) == 2 else hx[0])
    if form.startswith("packed"):
        lengths = LENGTHS if form == "packed_unsorted" else sorted(LENGTHS, reverse=True)
        seq = pack_padded_sequence(x, lengths, enforce_sorted=form == "packed_sorted")
        out, s = model(seq, state)
        assert isinstance(out, PackedSequence)
        assert torch.equal(out.batch_sizes, seq.batch_sizes)
        out = pad_packed_sequence(out)[0]
    elif form == "batch_first":
        out, s = model(x.transpose(0, 1), state)
        out = out.transpose(0, 1)
    elif form == "unbatched":
        out, s = model(x[:, 0], state)
    else:
        out, s = model(x, state)
    return out, (s if isinstance(s, tuple) else (s,))


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "reference"])
@pytest.mark.parametrize("with_hx", [False, True], ids=["zero_hx", "hx"])
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_forward_and_backward_equal_torch(kind: str, form: str, with_hx: bool, fast: bool):
    ours, theirs = _pair(kind, fast, batch_first=form == "batch_first")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(L, B, I, generator=g, dtype=F64)
    hx = _states(kind, None if form == "unbatched" else B, g) if with_hx else None
    results = []
    for model in (theirs, ours):
        xi = x.clone().requires_grad_()
        hi = None if hx is None else tuple(h.clone().requires_grad_() for h in hx)
        out, states = _run(model, form, xi, hi)
        r = torch.Generator().manual_seed(1)
        loss = (out * torch.randn(out.shape, generator=r, dtype=F64)).sum()
        loss = loss + sum((s * torch.randn(s.shape, generator=r, dtype=F64)).sum() for s in states)
        loss.backward()
        grads = [xi.grad] + ([] if hi is None else [h.grad for h in hi])
        grads += [p.grad for _, p in sorted(model.named_parameters())]
        results.append((out, states, grads))
    (o1, s1, g1), (o2, s2, g2) = results
    torch.testing.assert_close(o2, o1, **TOL)
    assert len(s1) == len(s2)
    for a, b in zip(s2, s1, strict=True):
        torch.testing.assert_close(a, b, **TOL)
    assert len(g1) == len(g2)
    for a, b in zip(g2, g1, strict=True):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "reference"])
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize(
    "args",
    [{"bias": False}, {"num_layers": 1, "bidirectional": False}, {"num_layers": 3}],
    ids=["no_bias", "one_layer_one_direction", "three_layers"],
)
def test_constructor_variants_equal_torch(kind: str, args: dict, fast: bool):
    ours, theirs = _pair(kind, fast, **args)
    assert list(ours.state_dict()) == list(theirs.state_dict())  # names and order
    x = torch.randn(L, B, I, dtype=F64)
    seq = pack_padded_sequence(x, LENGTHS, enforce_sorted=False)
    for inp in (x, seq):
        (o1, s1), (o2, s2) = theirs(inp), ours(inp)
        o1, o2 = (o.data if isinstance(o, PackedSequence) else o for o in (o1, o2))
        torch.testing.assert_close(o2, o1, **TOL)
        torch.testing.assert_close(s2, s1, **TOL)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "reference"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_dropout_between_layers_in_training(kind: str, fast: bool):
    """dropout=1 zeroes every layer's input but the first's: deterministic, comparable."""
    ours, theirs = _pair(kind, fast, dropout=1.0)
    x = torch.randn(L, B, I, dtype=F64)
    for train in (True, False):
        ours.train(train), theirs.train(train)
        torch.testing.assert_close(ours(x)[0], theirs(x)[0], **TOL)
    assert ours.training is False and ours.dropout == theirs.dropout == 1.0


@pytest.mark.parametrize("kind", list(KINDS))
def test_device_dtype_and_attributes(kind: str):
    ours, theirs = _pair(kind, True)
    assert all(p.dtype == F64 and p.device.type == "cpu" for p in ours.parameters())
    for name in ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.bidirectional == theirs.bidirectional
    assert [[tuple(w.shape) for w in c] for c in ours.all_weights] == [
        [tuple(w.shape) for w in c] for c in theirs.all_weights
    ]
    if kind.startswith("lstm"):
        assert ours.proj_size == theirs.proj_size


def _raised(build) -> type[BaseException] | None:
    try:
        build()
    except Exception as e:
        return type(e)
    return None


CTOR_ERRORS = [
    ("dropout above 1", "lstm", dict(dropout=1.5)),
    ("dropout below 0", "gru", dict(dropout=-0.1)),
    ("dropout a string", "rnn_tanh", dict(dropout="0.1")),
    ("dropout a bool", "lstm", dict(dropout=True)),
    ("bias not a bool", "gru", dict(bias=1)),
    ("batch_first not a bool", "lstm", dict(batch_first=None)),
    ("input_size 0", "lstm", dict(input_size=0)),
    ("input_size a float", "gru", dict(input_size=2.5)),
    ("hidden_size 0", "rnn_tanh", dict(hidden_size=0)),
    ("hidden_size a string", "lstm", dict(hidden_size="4")),
    ("num_layers 0", "gru", dict(num_layers=0)),
    ("proj_size negative", "lstm", dict(proj_size=-1)),
    ("proj_size == hidden_size", "lstm", dict(proj_size=H)),
    ("proj_size > hidden_size", "lstm", dict(proj_size=H + 2)),
    ("proj_size on GRU", "gru", dict(proj_size=0)),
    ("proj_size on RNN", "rnn_tanh", dict(proj_size=2)),
    ("unknown nonlinearity", "rnn_tanh", dict(nonlinearity="gelu")),
]


@pytest.mark.parametrize("kind,kw", [c[1:] for c in CTOR_ERRORS], ids=[c[0] for c in CTOR_ERRORS])
def test_constructor_errors_are_torchs(kind: str, kw: dict):
    ours_cls, torch_cls, extra = KINDS[kind]
    args = dict(input_size=I, hidden_size=H) | extra | kw
    expected = _raised(lambda: torch_cls(**args))
    assert expected is not None, "torch accepts these arguments"
    with pytest.raises(expected):
        ours_cls(**args)


def test_positional_arguments_in_torchs_order():
    for ours, theirs in ((LSTM(I, H, 2, False, True, 0.0, True, 2), None),):
        theirs = nn.LSTM(I, H, 2, False, True, 0.0, True, 2)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert ours.batch_first and ours.bidirectional and ours.proj_size == 2
    rnn = RNN(I, H, 1, "relu", False)
    assert rnn.nonlinearity == nn.RNN(I, H, 1, "relu", False).nonlinearity == "relu"
    assert not rnn.bias


def test_dropout_with_one_layer_warns_as_torch():
    for cls in (nn.LSTM, LSTM):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cls(I, H, dropout=0.5)
        assert any(issubclass(w.category, UserWarning) for w in caught), cls


FORWARD_ERRORS = {
    "1-D input": lambda m: m(torch.randn(I, dtype=F64)),
    "4-D input": lambda m: m(torch.randn(L, B, 1, I, dtype=F64)),
    "wrong input_size": lambda m: m(torch.randn(L, B, I + 1, dtype=F64)),
    "wrong dtype": lambda m: m(torch.randn(L, B, I, dtype=torch.float32)),
    "batched input, 2-D state": lambda m: m(torch.randn(L, B, I, dtype=F64), _hx(m, (2, H))),
    "unbatched input, 3-D state": lambda m: m(torch.randn(L, I, dtype=F64), _hx(m, (2, 1, H))),
    "state of the wrong batch": lambda m: m(torch.randn(L, B, I, dtype=F64), _hx(m, (2, B + 1, H))),
    "packed, wrong input_size": lambda m: m(
        pack_padded_sequence(torch.randn(L, B, I + 1, dtype=F64), LENGTHS, enforce_sorted=False)
    ),
}


def _hx(model: nn.Module, shape: tuple[int, ...]):
    h = torch.zeros(shape, dtype=F64)
    return (h, h.clone()) if isinstance(model, (nn.LSTM, LSTM)) else h


@pytest.mark.parametrize("kind", ["gru", "lstm"])
@pytest.mark.parametrize("case", list(FORWARD_ERRORS))
def test_forward_errors_are_torchs(kind: str, case: str):
    ours_cls, torch_cls, _ = KINDS[kind]
    expected = _raised(lambda: FORWARD_ERRORS[case](torch_cls(I, H, 2, dtype=F64)))
    assert expected is not None, "torch accepts this input"
    for fast in (True, False):
        with pytest.raises(expected):
            FORWARD_ERRORS[case](ours_cls(I, H, 2, dtype=F64, fast=fast))
