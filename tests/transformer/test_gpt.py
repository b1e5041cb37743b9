"""GPT: fast vs reference attention, causality, KV cache == full pass, sizes, optimizer.

Its layers (attention, MLP, block, heads, config validation): ``test_gpt_layers.py``.
"""

from __future__ import annotations

import math

import pytest
import torch

from replearn.transformer.gpt.model import GPT, GPTConfig, lm_loss, mfu

POSITIONS = ["learned", "sinusoidal", "rotary"]


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def small(position: str = "learned", **kw) -> GPT:
    torch.manual_seed(0)
    cfg = dict(n_layer=2, n_head=2, n_embd=16, block_size=12, vocab_size=13, position=position)
    return GPT(GPTConfig(**{**cfg, **kw})).eval()


def tokens(b: int, t: int, vocab: int = 13, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, vocab, (b, t), generator=torch.Generator().manual_seed(seed))


def test_lm_loss_is_the_mean_next_token_nll():
    logits, y = torch.randn(2, 5, 7, dtype=torch.float64), tokens(2, 5, 7)
    manual = -logits.log_softmax(-1).gather(-1, y[..., None]).mean()
    torch.testing.assert_close(lm_loss(logits, y), manual, rtol=0, atol=1e-12)


@pytest.mark.parametrize("position", POSITIONS)
def test_fast_attention_equals_reference_path(position):
    """F.scaled_dot_product_attention path == the written-out softmax path (float64), grads too."""
    fast = small(position).double().train()
    ref = small(position, fast=False).double().train()
    ref.load_state_dict(fast.state_dict())
    x, y = tokens(3, 12), tokens(3, 12, seed=2)
    la, lb = fast.loss(x, y), ref.loss(x, y)
    torch.testing.assert_close(la, lb, rtol=0, atol=1e-12)
    la.backward(), lb.backward()
    for (name, p), q in zip(fast.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=0, atol=1e-12, msg=name)


@pytest.mark.parametrize("position", POSITIONS)
def test_logits_at_t_do_not_depend_on_later_tokens(position):
    model = small(position).double()
    x = tokens(2, 10)
    x2 = x.clone()
    x2[:, 6:] = (x2[:, 6:] + 1) % 13
    with torch.no_grad():
        a, b = model(x), model(x2)
    torch.testing.assert_close(a[:, :6], b[:, :6], rtol=0, atol=1e-12)
    assert (a[:, 6:] - b[:, 6:]).abs().max() > 1e-3


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("chunks", [(1,) * 10, (4, 1, 3, 2), (10,)])
def test_cached_forward_equals_full_pass_at_every_step(position, chunks):
    """Feeding the tokens in pieces with the KV cache gives the full pass's logits (float64)."""
    model = small(position).double()
    x = tokens(2, sum(chunks))
    with torch.no_grad():
        full = model(x)
        cache, outs, start = None, [], 0
        for n in chunks:
            logits, cache = model.forward_cached(x[:, start : start + n], cache)
            outs.append(logits)
            start += n
            assert cache[0][0].shape == (2, 2, start, 8)
    torch.testing.assert_close(torch.cat(outs, dim=1), full, rtol=0, atol=1e-12)


@pytest.mark.parametrize("position", POSITIONS)
def test_cached_greedy_generation_equals_uncached(position):
    """Same greedy tokens with and without the cache, past block_size too (window re-read)."""
    model = small(position)
    prompt = tokens(2, 3)
    cached = model.generate(prompt, 20, temperature=0, use_cache=True)
    plain = model.generate(prompt, 20, temperature=0, use_cache=False)
    assert cached.shape == (2, 23)
    assert torch.equal(cached, plain)
    assert torch.equal(cached[:, :3], prompt)


def test_step_logits_match_the_uncached_window_at_every_step():
    model = small("learned").double()
    seq = tokens(1, 20)
    cache = None
    with torch.no_grad():
        for t in range(2, 21):
            logits, cache = model.step(seq[:, :t], cache)
            expected = model(seq[:, max(0, t - 12) : t])[:, -1]
            torch.testing.assert_close(logits, expected, rtol=0, atol=1e-12)


def test_sampling_is_reproducible_and_top_k_1_is_greedy():
    model = small()
    prompt = tokens(2, 2)
    a = model.generate(prompt, 8, temperature=1.0, generator=torch.Generator().manual_seed(3))
    b = model.generate(prompt, 8, temperature=1.0, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    greedy = model.generate(prompt, 8, temperature=0)
    assert torch.equal(model.generate(prompt, 8, temperature=0.7, top_k=1), greedy)
    assert torch.equal(model.generate(prompt, 8, temperature=0.7, top_p=1e-6), greedy)
    with pytest.raises(ValueError):
        model.generate(prompt, 2, temperature=-1.0)


def test_context_longer_than_block_size_is_rejected():
    with pytest.raises(ValueError, match="block_size"):
        small()(tokens(1, 13))


def test_embeddings_are_tied_and_init_follows_gpt2():
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=4, n_head=4, n_embd=128, vocab_size=200))
    assert model.lm_head.weight is model.transformer.wte.weight
    assert abs(model.transformer.wte.weight.std().item() - 0.02) < 2e-3
    proj = model.transformer.h[0].mlp.c_proj.weight
    assert abs(proj.std().item() - 0.02 / math.sqrt(8)) < 1e-3
    assert model.transformer.h[0].attn.c_attn.bias.abs().max() == 0


def test_gpt2_small_parameter_count():
    """GPT-2 small: 124,439,808 parameters (HF gpt2), 123.65M without the position table."""
    cfg = GPTConfig(n_layer=12, n_head=12, n_embd=768, block_size=1024, vocab_size=50257)
    with torch.device("meta"):
        model = GPT(cfg)
    assert model.num_parameters(non_embedding=False) == 124_439_808
    assert model.num_parameters() == 124_439_808 - 1024 * 768
    tiny = GPTConfig(n_layer=1, n_head=1, n_embd=4, block_size=2, vocab_size=3, bias=False)
    # wte 12 + wpe 8 + ln_1 4 + c_attn 48 + attn.c_proj 16 + ln_2 4 + c_fc 64 + mlp.c_proj 64
    # + ln_f 4 (no biases; lm_head tied)
    assert GPT(tiny).num_parameters(non_embedding=False) == 224


def test_configure_optimizers_decays_matrices_only():
    model = small(bias=True)
    opt = model.configure_optimizers(lr=1e-3, weight_decay=0.1, betas=(0.9, 0.99))
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"])
    assert all(p.dim() < 2 for p in no_decay["params"])
    n = sum(p.numel() for g in opt.param_groups for p in g["params"])
    assert n == model.num_parameters(non_embedding=False)
    assert opt.defaults["betas"] == (0.9, 0.99)


def test_training_reduces_the_loss():
    model = small().train()
    opt = model.configure_optimizers(lr=1e-2, weight_decay=0.0)
    x = tokens(4, 12)
    first = None
    for _ in range(30):
        loss = model.loss(x[:, :-1], x[:, 1:])
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_flops_and_mfu():
    model = small()
    n = model.num_parameters()
    assert model.estimate_flops(10) == 6 * n + 12 * 2 * 16 * 10
    assert mfu(100.0, 10.0, 4000.0) == pytest.approx(0.25)


def test_fixed_position_tables():
    """Sinusoids at the token embeddings' scale (std 0.02); rotary cos/sin per head dimension."""
    from replearn.transformer.positions import rotary_embedding, sinusoidal_encoding

    sin = small("sinusoidal")
    expected = sinusoidal_encoding(12, 16) * (0.02 * math.sqrt(2))
    torch.testing.assert_close(sin.pos_table, expected, rtol=0, atol=1e-8)
    rot = small("rotary")
    cos, sn = rotary_embedding(12, 8)
    torch.testing.assert_close(rot.pos_table, torch.stack([cos, sn], dim=-1), rtol=0, atol=0)
    assert "wpe" not in dict(sin.transformer.named_children())
