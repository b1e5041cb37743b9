"""S4Model: recurrent generation == convolution pass, causality, pooling, validation."""

from __future__ import annotations

import pytest
import torch

from replearn.sequence.ssm.s4_model import S4Model

F64 = torch.float64


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def lm(**kw) -> S4Model:
    torch.manual_seed(0)
    args = {"vocab_size": 11, "d_model": 8, "n_layers": 2, "d_state": 8, "task": "lm"}
    return S4Model(**{**args, **kw}).double().eval()


@pytest.mark.parametrize("prenorm", [True, False])
def test_lm_step_logits_equal_full_pass(prenorm):
    m = lm(prenorm=prenorm)
    x = torch.randint(0, 11, (3, 25))
    full = m(x)  # (B, L, V)
    assert full.shape == (3, 25, 11)
    state = m.default_state(3)
    steps = []
    for t in range(25):
        logits, state = m.step(x[:, t], state)
        steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, dim=1), full, rtol=0, atol=1e-10)


def test_lm_is_causal():
    m = lm()
    x = torch.randint(0, 11, (1, 16))
    emb = m.encoder(x).detach().requires_grad_(True)
    h = emb
    for block in m.blocks:
        h = block(h)
    (grad,) = torch.autograd.grad(m.head(m.norm(h))[0, 7].sum(), emb)
    assert grad[0, 8:].abs().max() < 1e-12  # FFT rounding only
    assert grad[0, :8].abs().sum(-1).min() > 0


def test_greedy_generation_equals_full_pass_argmax():
    m = lm()
    prime = torch.randint(0, 11, (2, 5))
    out = m.generate(prime, 6, temperature=0)
    seq = prime
    for _ in range(6):
        nxt = m(seq)[:, -1].argmax(-1, keepdim=True)
        seq = torch.cat([seq, nxt], dim=1)
    assert torch.equal(out, seq[:, 5:])
    sampled = m.generate(prime, 4, generator=torch.Generator().manual_seed(0))
    assert sampled.shape == (2, 4) and sampled.max() < 11


def test_classifier_pooling_and_features():
    torch.manual_seed(0)
    m = S4Model(d_input=1, d_output=10, d_model=8, n_layers=2, d_state=8).double()
    x = torch.randn(4, 30, 1, dtype=F64)
    h = m.features(x)
    assert h.shape == (4, 30, 8)
    torch.testing.assert_close(m(x), m.head(h.mean(dim=1)))
    m.pool = "last"
    torch.testing.assert_close(m(x), m.head(h[:, -1]))
    names = {n for n, _ in m.named_parameters() if ".kernel." in n}
    assert len(m.ssm_parameters()) == len(names) == 2 * 4  # log_dt, log_neg_re, im, C per layer


def test_validation():
    for kwargs in (
        {"d_input": 3, "vocab_size": 5, "d_output": 2},
        {"d_output": 2},
        {"d_input": 3, "d_output": 2, "task": "seq2seq"},
        {"d_input": 3, "d_output": 2, "pool": "max"},
        {"d_input": 3},
    ):
        with pytest.raises(ValueError):
            S4Model(**kwargs)
    clf = S4Model(d_input=2, d_output=3, d_model=4, n_layers=1, d_state=4)
    with pytest.raises(ValueError):
        clf.generate(torch.zeros(1, 2, dtype=torch.long), 3)
    assert "task='classify'" in repr(clf)
