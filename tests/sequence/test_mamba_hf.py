"""Mamba vs transformers' MambaModel / MambaForCausalLM with copied weights (float32, 1e-5)."""

from __future__ import annotations

import pytest
import torch

from replearn.sequence.mamba.hf import config_from_hf
from replearn.sequence.mamba.model import MambaLM, MambaModel

transformers = pytest.importorskip("transformers")
TOL = dict(rtol=1e-5, atol=1e-5)

CONFIGS = [
    dict(hidden_size=16, state_size=4, num_hidden_layers=2),
    dict(hidden_size=24, state_size=8, num_hidden_layers=1, conv_kernel=2, use_bias=True),
    dict(hidden_size=8, state_size=3, num_hidden_layers=3, expand=3, time_step_rank=3,
         use_conv_bias=False, conv_kernel=3),
]  # fmt: skip


def hf_config(**kw):
    return transformers.MambaConfig(vocab_size=37, **kw)


def perturb_(model):
    """Random A_log, D, norms and biases, so that a swapped tensor cannot hide."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("norm.weight", "norm_f.weight", ".D")):
                p.uniform_(0.5, 1.5, generator=g)
            elif name.endswith("A_log"):
                p.add_(0.3 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias") and "dt_proj" not in name:
                p.normal_(0.0, 0.1, generator=g)
    return model


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"H{c['hidden_size']}")
def test_model_hidden_states_match(config):
    torch.manual_seed(0)
    hf = perturb_(transformers.MambaModel(hf_config(**config))).eval()
    ours = MambaModel.from_hf(hf)
    x = torch.randint(0, 37, (2, 21))
    with torch.no_grad():
        theirs = hf(x, output_hidden_states=True)
        mine = ours(x, output_hidden_states=True)
    assert len(mine) == len(theirs.hidden_states) == config["num_hidden_layers"] + 1
    for a, b in zip(mine, theirs.hidden_states, strict=True):
        torch.testing.assert_close(a, b, **TOL)
    torch.testing.assert_close(mine[-1], theirs.last_hidden_state, **TOL)


@pytest.mark.parametrize("tied", [True, False])
def test_lm_logits_and_gradients_match(tied):
    torch.manual_seed(1)
    hf = perturb_(transformers.MambaForCausalLM(hf_config(**CONFIGS[0], tie_word_embeddings=tied)))
    hf.train()
    ours = MambaLM.from_hf(hf)
    assert ours.training and (ours.lm_head.weight is ours.backbone.embeddings.weight) == tied
    x = torch.randint(0, 37, (2, 15))
    theirs, mine = hf(x).logits, ours(x)
    torch.testing.assert_close(mine, theirs, **TOL)
    theirs.square().mean().backward()
    mine.square().mean().backward()
    hf_grads = dict(hf.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, hf_grads[name].grad, rtol=1e-4, atol=1e-5, msg=name)


def test_cached_decoding_matches_hf_cache():
    """HF's DynamicCache decoding vs our prefill + step: logits and both states per layer."""
    torch.manual_seed(2)
    hf = perturb_(transformers.MambaForCausalLM(hf_config(**CONFIGS[2]))).eval()
    ours = MambaLM.from_hf(hf).eval()
    x = torch.randint(0, 37, (2, 11))
    with torch.no_grad():
        out = hf(x[:, :5], use_cache=True)
        logits, cache = ours.prefill(x[:, :5])
        for t in range(5, 11):
            torch.testing.assert_close(logits, out.logits[:, -1], **TOL)
            for i in range(3):  # HF's conv state also holds the newest input: drop it
                conv = out.cache.get_conv_state(i, state_idx=0)
                torch.testing.assert_close(cache.conv[i], conv[..., 1:], **TOL)
                ssm = out.cache.get_recurrent_state(i, state_idx=0)
                torch.testing.assert_close(cache.ssm[i], ssm, **TOL)
            out = hf(x[:, t : t + 1], cache=out.cache, use_cache=True)
            logits, cache = ours.step(x[:, t], cache)


def test_config_validation():
    with pytest.raises(ValueError, match="silu"):
        config_from_hf(hf_config(hidden_size=8, hidden_act="gelu"))
