"""GPT.from_hf / to_hf against transformers' GPT2LMHeadModel (random small configs, no download)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from replearn.transformer.gpt.hf import TRANSPOSED, config_from_hf
from replearn.transformer.gpt.model import GPT, GPTConfig

transformers = pytest.importorskip("transformers")

TOL = {"rtol": 0.0, "atol": 1e-5}
CONFIGS = [
    dict(n_layer=1, n_head=1, n_embd=8, n_positions=8, vocab_size=11),
    dict(n_layer=2, n_head=3, n_embd=24, n_positions=16, vocab_size=37),
    dict(n_layer=3, n_head=4, n_embd=32, n_positions=12, vocab_size=50, activation_function="gelu"),
    dict(n_layer=2, n_head=2, n_embd=16, n_positions=10, vocab_size=7, layer_norm_epsilon=1e-6),
]


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def hf_model(seed: int = 0, cls=None, attn: str = "eager", **kw):
    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(bos_token_id=0, eos_token_id=0, attn_implementation=attn, **kw)
    model = (cls or transformers.GPT2LMHeadModel)(cfg)
    with torch.no_grad():  # random layer norms and biases so that a wrong mapping shows
        for name, p in model.named_parameters():
            if p.ndim == 1:
                p.normal_(1.0 if name.endswith("ln_1.weight") else 0.0, 0.2)
    return model.eval()


def ids(cfg: dict, b: int = 2, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, cfg["vocab_size"], (b, cfg["n_positions"]), generator=g)


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"L{c['n_layer']}H{c['n_head']}")
def test_from_hf_gives_identical_logits(config, attn):
    theirs = hf_model(attn=attn, **config)
    ours = GPT.from_hf(theirs)
    assert not ours.training
    x = ids(config)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x).logits, **TOL)


@pytest.mark.parametrize("config", CONFIGS[1:3], ids=lambda c: f"L{c['n_layer']}")
def test_loss_and_gradients_match_transformers(config):
    theirs = hf_model(**config)
    ours = GPT.from_hf(theirs)
    x = ids(config)
    loss_hf = theirs(x, labels=x).loss  # transformers shifts the labels itself
    loss = F.cross_entropy(ours(x)[:, :-1].flatten(0, 1), x[:, 1:].flatten())
    torch.testing.assert_close(loss, loss_hf, **TOL)
    loss.backward()
    loss_hf.backward()
    hf_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        g = hf_params[name].grad
        g = g.t() if name.endswith(TRANSPOSED) else g
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-6, msg=name)


def test_from_bare_gpt2_model():
    config = CONFIGS[1]
    theirs = hf_model(cls=transformers.GPT2Model, **config)
    ours = GPT.from_hf(theirs)
    x = ids(config)
    with torch.no_grad():
        hidden = theirs(x).last_hidden_state
        torch.testing.assert_close(ours(x), hidden @ theirs.wte.weight.t(), **TOL)


@pytest.mark.parametrize("activation", ["gelu_tanh", "gelu"])
def test_to_hf_round_trip_is_identical(activation):
    torch.manual_seed(0)
    ours = GPT(GPTConfig(n_layer=2, n_head=2, n_embd=16, block_size=9, vocab_size=19,
                         activation=activation)).eval()  # fmt: skip
    theirs = ours.to_hf().eval()
    assert isinstance(theirs, transformers.GPT2LMHeadModel)
    assert theirs.lm_head.weight.data_ptr() == theirs.transformer.wte.weight.data_ptr()
    x = torch.randint(0, 19, (3, 9))
    with torch.no_grad():
        torch.testing.assert_close(theirs(x).logits, ours(x), **TOL)
        back = GPT.from_hf(theirs)
    for (k, a), b in zip(ours.state_dict().items(), back.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    assert back.cfg == ours.cfg


def test_to_hf_model_trains_with_transformers_and_comes_back():
    """The HF copy is independent, trains with HF's loss, and from_hf reads the new weights."""
    torch.manual_seed(0)
    ours = GPT(GPTConfig(n_layer=1, n_head=2, n_embd=8, block_size=6, vocab_size=5))
    theirs = ours.to_hf().train()
    opt = torch.optim.SGD(theirs.parameters(), lr=0.5)
    x = torch.randint(0, 5, (4, 6))
    theirs(x, labels=x).loss.backward()
    opt.step()
    assert not torch.equal(theirs.transformer.wte.weight, ours.transformer.wte.weight)
    back = GPT.from_hf(theirs.eval())
    with torch.no_grad():
        torch.testing.assert_close(back(x), theirs(x).logits, **TOL)


@pytest.mark.parametrize(
    "kw",
    [
        {"scale_attn_by_inverse_layer_idx": True},
        {"reorder_and_upcast_attn": True},
        {"n_inner": 40},
        {"activation_function": "relu"},
        {"attn_pdrop": 0.2},
    ],
)
def test_unsupported_configs_are_refused(kw):
    cfg = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=8, n_positions=4, vocab_size=5, **kw)
    with pytest.raises(ValueError):
        config_from_hf(cfg)


def test_to_hf_refuses_what_gpt2_lacks():
    with pytest.raises(ValueError):
        GPT(GPTConfig(n_layer=1, n_head=1, n_embd=4, block_size=4, vocab_size=3,
                      position="rotary")).to_hf()  # fmt: skip
