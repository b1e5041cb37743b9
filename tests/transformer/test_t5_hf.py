"""T5 against ``transformers`` T5 with copied weights (small random configs, no download)."""

from __future__ import annotations

import pytest
import torch

from replearn.transformer.t5.hf import config_from_hf, key_map
from replearn.transformer.t5.model import T5

transformers = pytest.importorskip("transformers")


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: one intra-op thread (a busy machine makes thread syncs costly)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _hf_config(**kw):
    base = dict(
        vocab_size=50, d_model=16, d_kv=5, d_ff=24, num_layers=2, num_decoder_layers=3,
        num_heads=3, relative_attention_num_buckets=8, relative_attention_max_distance=20,
        dropout_rate=0.0, decoder_start_token_id=0,
    )  # fmt: skip
    base.update(kw)
    return transformers.T5Config(**base)


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(2, 50, (2, 30), generator=g)  # longer than max_distance: far buckets used
    y = torch.randint(2, 50, (2, 25), generator=g)
    mask = torch.ones(2, 30, dtype=torch.long)
    mask[1, 19:] = 0  # a padded row
    return x, y, mask


CASES = [("relu", True), ("gated-gelu", False), ("gelu", True), ("gated-relu", True)]


@pytest.mark.parametrize(("proj", "tie"), CASES)
def test_logits_match_t5_for_conditional_generation(proj: str, tie: bool) -> None:
    torch.manual_seed(0)
    hf = transformers.T5ForConditionalGeneration(
        _hf_config(feed_forward_proj=proj, tie_word_embeddings=tie)
    ).eval()
    ours = T5.from_hf(hf).eval()
    assert ours.cfg.scale_logits == tie  # T5.1.1-style configs do not scale the output
    x, y, mask = _inputs()
    with torch.no_grad():
        want = hf(input_ids=x, decoder_input_ids=y, attention_mask=mask).logits
        got = ours(x, y, mask.bool())
        torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
        labels = y.clone()
        labels[0, -3:] = -100
        want_loss = hf(input_ids=x, attention_mask=mask, labels=labels).loss
        torch.testing.assert_close(ours.loss(x, labels, mask.bool()), want_loss, rtol=0, atol=1e-5)


def test_hidden_states_match_t5_model() -> None:
    torch.manual_seed(1)
    hf = transformers.T5Model(_hf_config(feed_forward_proj="gated-gelu")).eval()
    ours = T5.from_hf(hf).eval()
    x, y, mask = _inputs(1)
    with torch.no_grad():
        out = hf(input_ids=x, decoder_input_ids=y, attention_mask=mask)
        enc = ours.encode(x, mask.bool())
        dec = ours.decode(y, enc, mask.bool())[0]
    torch.testing.assert_close(enc, out.encoder_last_hidden_state, rtol=0, atol=1e-5)
    torch.testing.assert_close(dec, out.last_hidden_state, rtol=0, atol=1e-5)


def test_generation_matches_hf_generate() -> None:
    torch.manual_seed(0)
    hf = transformers.T5ForConditionalGeneration(_hf_config(num_decoder_layers=2)).eval().double()
    ours = T5.from_hf(hf).eval().double()
    x, _, mask = _inputs(2)
    common = dict(max_new_tokens=10, do_sample=False, decoder_start_token_id=0, eos_token_id=1,
                  pad_token_id=0)  # fmt: skip
    for beams in (1, 3):
        want = hf.generate(x, attention_mask=mask, num_beams=beams, **common)
        got = ours.generate(x, 10, attention_mask=mask.bool(), num_beams=beams)
        assert not (want == 1).any()  # no eos: HF pads finished rows differently
        assert torch.equal(got, want)


def test_train_mode_and_strictness() -> None:
    hf = transformers.T5ForConditionalGeneration(_hf_config())
    assert T5.from_hf(hf.train()).training and not T5.from_hf(hf.eval()).training
    with pytest.raises(ValueError, match="feed_forward_proj"):
        config_from_hf(_hf_config(feed_forward_proj="gated-silu"))
    cfg = config_from_hf(hf.config)
    mapped = set(key_map(cfg).values())
    theirs = set(hf.state_dict()) - {
        "encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight",
    }  # fmt: skip
    assert mapped == theirs
