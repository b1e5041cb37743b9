"""replearn MultiHeadAttention == torch.nn.MultiheadAttention for every documented input form.

Input forms: sequence-first (L, B, E), ``batch_first`` (B, L, E), unbatched (L, E); constructor
options: ``kdim``/``vdim``, ``bias=False``, ``add_bias_kv``, ``add_zero_attn``; every mask form:
boolean and float ``attn_mask`` in 2-D (L, S) and 3-D (B·h, L, S) / (h, L, S), boolean and float
``key_padding_mask``, both masks together, ``is_causal`` with its causal ``attn_mask``;
``need_weights`` with averaged and per-head weights, and without; dropout in training (same seed,
same masks). torch's weights are loaded with ``load_state_dict`` (same names), float64, on the
fast (SDPA) and reference (written-out softmax) paths: outputs, weights and the gradients of
query, key, value and every parameter. Then the argument and shape errors: ours raise an instance
of torch's exception type.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from replearn.transformer.attention import MultiHeadAttention

F64 = torch.float64
TOL = dict(rtol=1e-9, atol=1e-11)
E, HEADS, L, S, B = 8, 2, 4, 5, 3
OPTIONS = {
    "plain": {},
    "kdim_vdim": {"kdim": 5, "vdim": 3},
    "no_bias": {"bias": False},
    "bias_kv": {"add_bias_kv": True},
    "zero_attn": {"add_zero_attn": True},
    "bias_kv_zero_attn": {"add_bias_kv": True, "add_zero_attn": True},
}
FORMS = ["seq_first", "batch_first", "unbatched"]


def _masks(kind: str, batched: bool, g: torch.Generator, S: int = S) -> dict:
    """The mask arguments of ``kind``; column 0 is never masked (no all-masked rows)."""
    b = B if batched else 1
    lead3 = (b * HEADS,) if batched else (HEADS,)

    def boolean(*shape: int) -> torch.Tensor:
        m = torch.rand(*shape, generator=g) < 0.4
        m[..., 0] = False
        return m

    def floating(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=F64)

    kp_shape = (b, S) if batched else (S,)
    return {
        "none": {},
        "attn_bool_2d": {"attn_mask": boolean(L, S)},
        "attn_float_2d": {"attn_mask": floating(L, S)},
        "attn_bool_3d": {"attn_mask": boolean(*lead3, L, S)},
        "attn_float_3d": {"attn_mask": floating(*lead3, L, S)},
        "padding_bool": {"key_padding_mask": boolean(*kp_shape)},
        "padding_float": {"key_padding_mask": floating(*kp_shape)},
        "attn_and_padding": {"attn_mask": boolean(L, S), "key_padding_mask": boolean(*kp_shape)},
        "is_causal": {"attn_mask": torch.ones(L, L, dtype=torch.bool).triu(1)},  # self-attention
    }[kind]


MASKS = [
    "none",
    "attn_bool_2d",
    "attn_float_2d",
    "attn_bool_3d",
    "attn_float_3d",
    "padding_bool",
    "padding_float",
    "attn_and_padding",
    "is_causal",
]


def _pair(fast: bool, **kw: object) -> tuple[nn.Module, nn.Module]:
    theirs = nn.MultiheadAttention(E, HEADS, dtype=F64, **kw)
    ours = MultiHeadAttention(E, HEADS, dtype=F64, fast=fast, **kw)
    ours.load_state_dict(theirs.state_dict())  # same names, strict
    return ours, theirs


def _compare(
    option: str, form: str, mask: str, fast: bool, need_weights: bool, average: bool
) -> None:
    opts = OPTIONS[option]
    ours, theirs = _pair(fast, batch_first=form == "batch_first", **opts)
    g = torch.Generator().manual_seed(0)
    batched = form != "unbatched"
    lead = {"seq_first": (L, B), "batch_first": (B, L), "unbatched": (L,)}[form]
    s = L if mask == "is_causal" else S  # is_causal: self-attention (see the test below)
    klead = {"seq_first": (s, B), "batch_first": (B, s), "unbatched": (s,)}[form]
    q = torch.randn(*lead, E, generator=g, dtype=F64)
    k = torch.randn(*klead, opts.get("kdim", E), generator=g, dtype=F64)
    v = torch.randn(*klead, opts.get("vdim", E), generator=g, dtype=F64)
    masks = _masks(mask, batched, g, s)
    results = []
    for model in (theirs, ours):
        leaves = [t.clone().requires_grad_() for t in (q, k, v)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch: mismatched mask types are deprecated
            out, w = model(
                *leaves, need_weights=need_weights, average_attn_weights=average,
                is_causal=mask == "is_causal", **masks,
            )  # fmt: skip
        r = torch.Generator().manual_seed(1)
        loss = (out * torch.randn(out.shape, generator=r, dtype=F64)).sum()
        if w is not None:
            loss = loss + (w * torch.randn(w.shape, generator=r, dtype=F64)).sum()
        loss.backward()
        grads = [t.grad for t in leaves] + [p.grad for _, p in sorted(model.named_parameters())]
        results.append((out, w, grads))
    (o1, w1, g1), (o2, w2, g2) = results
    torch.testing.assert_close(o2, o1, **TOL)
    assert (w1 is None) == (w2 is None) == (not need_weights)
    if w1 is not None:
        torch.testing.assert_close(w2, w1, **TOL)
    assert len(g1) == len(g2)
    for a, b in zip(g2, g1, strict=True):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "reference"])
@pytest.mark.parametrize("need_weights", [True, False], ids=["weights", "no_weights"])
@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("form", FORMS)
def test_every_mask_form_equals_torch(form: str, mask: str, need_weights: bool, fast: bool):
    _compare("plain", form, mask, fast, need_weights, average=True)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "reference"])
@pytest.mark.parametrize(
    "need_weights,average", [(True, True), (True, False), (False, True)],
    ids=["averaged_weights", "per_head_weights", "no_weights"],
)  # fmt: skip
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("option", list(OPTIONS))
def test_every_constructor_option_equals_torch(
    option: str, form: str, need_weights: bool, average: bool, fast: bool
):
    _compare(option, form, "attn_and_padding", fast, need_weights, average)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "reference"])
def test_is_causal_with_fewer_queries_than_keys_is_bottom_right(fast: bool):
    """Documented deviation: with L < S torch's SDPA ``is_causal`` (need_weights=False) aligns
    the triangle top-left and ignores ``attn_mask``; ours aligns it bottom-right (query i is
    key S - L + i, as with a KV cache), i.e. what the explicit ``attn_mask`` says."""
    ours, theirs = _pair(fast, batch_first=True)
    q, kv = torch.randn(B, L, E, dtype=F64), torch.randn(B, S, E, dtype=F64)
    bottom_right = torch.ones(L, S, dtype=torch.bool).triu(1 + S - L)
    ours_out = ours(q, kv, kv, need_weights=False, is_causal=True)[0]
    explicit = theirs(q, kv, kv, attn_mask=bottom_right)[0]
    torch.testing.assert_close(ours_out, explicit, **TOL)
    hinted = theirs(q, kv, kv, need_weights=False, attn_mask=bottom_right, is_causal=True)[0]
    assert not torch.allclose(hinted, explicit)  # torch's top-left triangle


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "reference"])
def test_dropout_in_training_draws_torchs_masks(fast: bool):
    """Same seed, same number of draws: the dropped weights and outputs are torch's."""
    ours, theirs = _pair(fast, dropout=0.3, batch_first=True)
    x = torch.randn(B, L, E, dtype=F64)
    for need_weights in (True, False):
        outs = []
        for model in (theirs, ours):
            torch.manual_seed(7)
            outs.append(model(x, x, x, need_weights=need_weights))
        (o1, w1), (o2, w2) = outs
        torch.testing.assert_close(o2, o1, **TOL)
        if need_weights:
            torch.testing.assert_close(w2, w1, **TOL)
    ours.eval(), theirs.eval()
    torch.testing.assert_close(ours(x, x, x)[0], theirs(x, x, x)[0], **TOL)


def test_parameters_attributes_and_init_are_torchs():
    for kw in ({}, {"kdim": 5, "vdim": 3, "add_bias_kv": True}, {"bias": False}):
        ours, theirs = _pair(True, **kw)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        for name in ("embed_dim", "num_heads", "head_dim", "kdim", "vdim", "batch_first"):
            assert getattr(ours, name) == getattr(theirs, name), name
        assert ours._qkv_same_embed_dim == theirs._qkv_same_embed_dim
        assert ours.add_zero_attn == theirs.add_zero_attn
        assert (ours.bias_k is None) == (theirs.bias_k is None)
        assert (ours.in_proj_weight is None) == (theirs.in_proj_weight is None)
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(E, HEADS, add_bias_kv=True)
    torch.manual_seed(0)
    ours = MultiHeadAttention(E, HEADS, add_bias_kv=True)
    for (n1, p1), (n2, p2) in zip(
        sorted(ours.state_dict().items()), sorted(theirs.state_dict().items()), strict=True
    ):
        assert n1 == n2 and p1.shape == p2.shape
    assert torch.all(ours.in_proj_bias == 0) and torch.all(ours.out_proj.bias == 0)
    positional = MultiHeadAttention(E, HEADS, 0.1, False, True, True, 5, 3, True)
    assert positional.bias_k is not None and positional.add_zero_attn
    assert (positional.kdim, positional.vdim, positional.batch_first) == (5, 3, True)


def _raised(build) -> type[BaseException] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build()
    except Exception as e:
        return type(e)
    return None


def _x(*shape: int, dtype: torch.dtype = F64) -> torch.Tensor:
    return torch.zeros(shape, dtype=dtype)


FORWARD_ERRORS = {
    "4-D query": lambda m: m(_x(1, L, B, E), _x(1, S, B, E), _x(1, S, B, E)),
    "3-D query, 2-D key": lambda m: m(_x(L, B, E), _x(S, E), _x(S, E)),
    "2-D query, 3-D key": lambda m: m(_x(L, E), _x(S, B, E), _x(S, B, E)),
    "batched, 1-D padding mask": lambda m: m(
        _x(L, B, E), _x(S, B, E), _x(S, B, E), key_padding_mask=_x(S, dtype=torch.bool)
    ),
    "unbatched, 2-D padding mask": lambda m: m(
        _x(L, E), _x(S, E), _x(S, E), key_padding_mask=_x(1, S, dtype=torch.bool)
    ),
    "4-D attn_mask": lambda m: m(
        _x(L, B, E), _x(S, B, E), _x(S, B, E), attn_mask=_x(1, 1, L, S, dtype=torch.bool)
    ),
    "2-D attn_mask of the wrong shape": lambda m: m(
        _x(L, B, E), _x(S, B, E), _x(S, B, E), attn_mask=_x(L, S + 1)
    ),
    "3-D attn_mask of the wrong shape": lambda m: m(
        _x(L, B, E), _x(S, B, E), _x(S, B, E), attn_mask=_x(B, L, S)
    ),
    "unbatched 3-D attn_mask of the wrong shape": lambda m: m(
        _x(L, E), _x(S, E), _x(S, E), attn_mask=_x(HEADS + 1, L, S)
    ),
    "padding mask of the wrong length": lambda m: m(
        _x(L, B, E), _x(S, B, E), _x(S, B, E), key_padding_mask=_x(B, S + 1, dtype=torch.bool)
    ),
    "integer attn_mask": lambda m: m(
        _x(L, B, E), _x(S, B, E), _x(S, B, E), attn_mask=_x(L, S, dtype=torch.int64)
    ),
    "wrong embedding size": lambda m: m(_x(L, B, E + 1), _x(S, B, E), _x(S, B, E)),
}


@pytest.mark.parametrize("case", list(FORWARD_ERRORS))
def test_forward_errors_are_torchs(case: str):
    expected = _raised(lambda: FORWARD_ERRORS[case](nn.MultiheadAttention(E, HEADS, dtype=F64)))
    assert expected is not None, "torch accepts this input"
    for fast in (True, False):
        with pytest.raises(expected):
            FORWARD_ERRORS[case](MultiHeadAttention(E, HEADS, dtype=F64, fast=fast))


@pytest.mark.parametrize(
    "args", [(0, 2), (8, 0), (8, 3), (-8, 2)], ids=["embed_0", "heads_0", "indivisible", "neg"]
)
def test_constructor_errors_are_torchs(args: tuple[int, int]):
    expected = _raised(lambda: nn.MultiheadAttention(*args))
    assert expected is not None
    with pytest.raises(expected):
        MultiHeadAttention(*args)
