"""T5 model: cached decoding, generation, masks, loss, tying (HF equivalence: test_t5_hf.py)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from replearn.transformer.decoding import beam_search
from replearn.transformer.t5.model import T5, T5Config, seq2seq_loss, shift_right


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: one intra-op thread (a busy machine makes thread syncs costly)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _model(**kw) -> T5:
    torch.manual_seed(0)
    base = dict(vocab_size=23, d_model=16, d_kv=4, d_ff=24, num_layers=2, num_heads=2,
                num_decoder_layers=2, relative_attention_num_buckets=8,
                relative_attention_max_distance=16, dropout_rate=0.0)  # fmt: skip
    base.update(kw)
    return T5(T5Config(**base)).double().eval()


def _data(b: int = 2, s: int = 9, t: int = 7, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(2, 23, (b, s), generator=g), torch.randint(2, 23, (b, t), generator=g)


@pytest.mark.parametrize("proj", ["relu", "gated-gelu"])
def test_cached_steps_equal_full_forward(proj: str) -> None:
    model = _model(feed_forward_proj=proj)
    x, y = _data(t=20)  # past max_distance=16: the far buckets of the causal bias
    mask = torch.ones_like(x, dtype=torch.bool)
    mask[0, 6:] = False
    with torch.no_grad():
        full = model(x, y, mask)  # (B, T, V)
        cache = model.start_cache(x, mask)
        for t in range(y.shape[1]):
            logits, cache = model.step(y[:, : t + 1], cache)
            torch.testing.assert_close(logits, full[:, t], rtol=0, atol=1e-10)
        # several tokens at once after a cached prefix
        cache = model.start_cache(x, mask)
        _, cache = model.step(y[:, :5], cache)
        h, _ = model.decode(y[:, 5:], cache["encoder_out"], mask, cache["layers"])
        torch.testing.assert_close(model.head(h), full[:, 5:], rtol=0, atol=1e-10)


def test_generate_cached_equals_uncached_and_beam1_equals_greedy() -> None:
    model = _model()
    x, _ = _data(b=3)
    a = model.generate(x, 12)
    b = model.generate(x, 12, use_cache=False)
    c = model.generate(x, 12, num_beams=1)
    assert a.shape == (3, 13) and (a[:, 0] == model.cfg.decoder_start_token_id).all()
    assert torch.equal(a, b)
    assert torch.equal(a, c)  # beam search with K = 1 keeps the argmax, as greedy does


def test_beam_scores_are_sequence_log_probs() -> None:
    model = _model(eos_token_id=1)
    x, _ = _data(b=2)
    start = torch.zeros(2, 1, dtype=torch.long)
    cache = model.start_cache(x, repeat=3)
    seqs, scores = beam_search(model.step, start, beam_size=3, max_new_tokens=6, cache=cache,
                               eos_id=None, length_penalty=0.0)  # fmt: skip
    with torch.no_grad():
        for k in range(3):
            s = seqs[:, k]  # (B, 7)
            logp = F.log_softmax(model(x, s[:, :-1]), -1).gather(-1, s[:, 1:, None])[..., 0]
            torch.testing.assert_close(logp.sum(-1), scores[:, k], rtol=0, atol=1e-9)
    assert (scores[:, :-1] >= scores[:, 1:]).all()


def test_padding_mask_hides_padded_tokens() -> None:
    model = _model()
    x, y = _data()
    mask = torch.ones_like(x, dtype=torch.bool)
    mask[:, 5:] = False
    x2 = x.clone()
    x2[:, 5:] = (x2[:, 5:] + 3) % 23
    with torch.no_grad():
        torch.testing.assert_close(model(x, y, mask), model(x2, y, mask), rtol=0, atol=1e-12)
        assert not torch.allclose(model(x, y), model(x2, y), atol=1e-6)  # without: they differ


def test_decoder_is_causal() -> None:
    model = _model()
    x, y = _data()
    emb = model.shared(y).detach().requires_grad_(True)
    enc = model.encode(x)
    h, _ = model.decoder(emb, memory=enc)
    h[:, 3].sum().backward()
    assert emb.grad[:, 4:].abs().max() == 0 and emb.grad[:, :4].abs().sum(-1).min() > 0


def test_fast_and_reference_attention_agree_with_gradients() -> None:
    fast, ref = _model(fast=True), _model(fast=False)
    ref.load_state_dict(fast.state_dict())
    x, y = _data()
    mask = torch.ones_like(x, dtype=torch.bool)
    mask[1, 4:] = False
    lf, lr = fast(x, y, mask), ref(x, y, mask)
    torch.testing.assert_close(lf, lr, rtol=0, atol=1e-10)
    lf.square().mean().backward()
    lr.square().mean().backward()
    for (name, pf), pr in zip(fast.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(pf.grad, pr.grad, rtol=0, atol=1e-10, msg=name)
        assert pf.grad.abs().sum() > 0, name  # every parameter gets a gradient


def test_tying_and_logit_scale() -> None:
    tied, untied = _model(), _model(tie_word_embeddings=False)
    assert tied.lm_head.weight is tied.shared.weight and tied.cfg.scale_logits
    assert untied.lm_head.weight is not untied.shared.weight and not untied.cfg.scale_logits
    h = torch.randn(2, 3, 16, dtype=torch.float64)
    want = h @ tied.shared.weight.T / math.sqrt(16)
    torch.testing.assert_close(tied.head(h), want, rtol=0, atol=1e-12)
    torch.testing.assert_close(untied.head(h), h @ untied.lm_head.weight.T, rtol=0, atol=1e-12)


def test_shift_right_and_loss() -> None:
    labels = torch.tensor([[5, 6, 7, -100]])
    assert shift_right(labels, start_id=0, pad_id=0).tolist() == [[0, 5, 6, 7]]
    logits = torch.randn(1, 4, 9, dtype=torch.float64)
    want = -F.log_softmax(logits, -1)[0, torch.arange(3), labels[0, :3]].mean()
    torch.testing.assert_close(seq2seq_loss(logits, labels), want, rtol=0, atol=1e-12)


def test_overfits_a_fixed_batch() -> None:
    torch.manual_seed(0)
    model = T5(T5Config(vocab_size=12, d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2,
                        dropout_rate=0.0))  # fmt: skip
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    x, y = torch.randint(2, 12, (4, 6)), torch.randint(2, 12, (4, 5))
    labels = torch.cat([y, torch.ones(4, 1, dtype=torch.long)], 1)  # then eos
    first = model.loss(x, labels).item()
    for _ in range(60):
        loss = model.loss(x, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.02 * first
    assert torch.equal(model.eval().generate(x, 6)[:, 1:], labels)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (dict(d_model=0), "d_model"),
        (dict(feed_forward_proj="swish"), "feed_forward_proj"),
        (dict(dropout_rate=1.0), "dropout_rate"),
        (dict(vocab_size=10, eos_token_id=99), "eos_token_id"),
        (dict(relative_attention_max_distance=2), "max_distance"),
    ],
)
def test_config_validation(kw: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        T5Config(**kw)


def test_generate_validation() -> None:
    with pytest.raises(ValueError, match="max_new_tokens"):
        _model().generate(torch.zeros(1, 3, dtype=torch.long), 0)
