"""Mamba block / model / LM: cached steps == full pass, fast == reference, causality, validation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from replearn.sequence.mamba.model import MambaLM, MambaMixer, MambaModel, causal_depthwise_conv

F64 = torch.float64
TOL = dict(rtol=1e-10, atol=1e-11)


def lm(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = dict(vocab_size=13, d_model=8, n_layers=2, d_state=4, d_conv=3) | kw
    return MambaLM(**cfg).to(F64).eval()


@pytest.mark.parametrize("fast", [True, False])
def test_cached_steps_equal_full_pass_at_every_position(fast):
    model = lm(fast=fast)
    x = torch.randint(0, 13, (3, 17), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = model(x)  # (B, L, V)
        cache = model.init_cache(3)
        for t in range(17):
            logits, cache = model.step(x[:, t], cache)
            torch.testing.assert_close(logits, full[:, t], **TOL, msg=f"position {t}")


def test_prefill_then_steps():
    model = lm(seed=1, d_conv=4)
    x = torch.randint(0, 13, (2, 12), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        full = model(x)
        for t0 in (1, 2, 5):  # prompts shorter and longer than d_conv - 1
            logits, cache = model.prefill(x[:, :t0])
            torch.testing.assert_close(logits, full[:, t0 - 1], **TOL)
            for t in range(t0, 12):
                logits, cache = model.step(x[:, t], cache)
                torch.testing.assert_close(logits, full[:, t], **TOL)


def test_fast_equals_reference_scan_with_gradients():
    model = lm(seed=2)
    x = torch.randint(0, 13, (2, 70), generator=torch.Generator().manual_seed(3))
    outs, grads = [], []
    for fast in (True, False):
        for layer in model.backbone.layers:
            layer.mixer.fast = fast
        model.zero_grad()
        y = model(x)
        y.square().mean().backward()
        outs.append(y.detach())
        grads.append([p.grad.clone() for p in model.parameters()])
    torch.testing.assert_close(outs[0], outs[1], **TOL)
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, **TOL)


def test_causal():
    model = MambaModel(vocab_size=0, d_model=6, n_layers=2, d_state=3).to(F64)
    u = torch.randn(1, 10, 6, dtype=F64, requires_grad=True)
    model(u)[0, 4].sum().backward()
    assert u.grad[0, 5:].abs().max() == 0
    assert u.grad[0, :5].abs().sum(-1).min() > 0


def test_causal_depthwise_conv_matches_padded_conv():
    x, w, b = torch.randn(2, 9, 5, dtype=F64), torch.randn(5, 1, 4, dtype=F64), torch.randn(5)
    b = b.to(F64)
    ref = F.conv1d(x.transpose(1, 2), w, b, padding=3, groups=5)[..., :9].transpose(1, 2)
    torch.testing.assert_close(causal_depthwise_conv(x, w, b), ref, **TOL)


def test_greedy_generate_equals_argmax_of_full_passes():
    model = lm(seed=3)
    prompt = torch.randint(0, 13, (2, 4), generator=torch.Generator().manual_seed(4))
    out = model.generate(prompt, 6)
    seq = prompt
    with torch.no_grad():
        for _ in range(6):
            seq = torch.cat([seq, model(seq)[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(out, seq[:, 4:])


def test_structure_and_init():
    model = MambaLM(vocab_size=20, d_model=32, n_layers=3)
    m = model.backbone.layers[0].mixer
    assert model.lm_head.weight is model.backbone.embeddings.weight
    assert (m.d_inner, m.dt_rank, tuple(m.A_log.shape)) == (64, 2, (64, 16))
    torch.testing.assert_close(-torch.exp(m.A_log[3]), -torch.arange(1.0, 17.0))
    dt = F.softplus(m.dt_proj.bias)
    assert dt.min() >= 1e-3 and dt.max() <= 0.1 + 1e-6
    assert "d_inner=64" in repr(model) and "n_layers=3" in repr(model)
    untied = MambaLM(vocab_size=5, d_model=4, n_layers=1, tie_embeddings=False)
    assert untied.lm_head.weight is not untied.backbone.embeddings.weight


@pytest.mark.parametrize(
    "kwargs",
    [dict(d_state=0), dict(expand=0), dict(dt_rank=0), dict(dt_min=0.2, dt_max=0.1)],
)
def test_validation(kwargs):
    with pytest.raises(ValueError):
        MambaMixer(8, **kwargs)


def test_validation_model():
    with pytest.raises(ValueError, match="n_layers"):
        MambaModel(vocab_size=5, d_model=4, n_layers=0)
    with pytest.raises(ValueError, match="vocab_size"):
        MambaLM(vocab_size=0, d_model=4, n_layers=1)
