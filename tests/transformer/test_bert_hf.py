"""BERT.from_hf / ALBERT-free half: transformers BERT and RoBERTa with copied weights, atol 1e-5."""

from __future__ import annotations

import pytest
import torch

from replearn.transformer.bert.hf import hf_key
from replearn.transformer.bert.model import BERT, pretraining_loss

transformers = pytest.importorskip("transformers")

TOL = {"rtol": 0.0, "atol": 1e-5}
CONFIGS = [
    dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32),
    dict(hidden_size=24, num_hidden_layers=3, num_attention_heads=4, intermediate_size=20,
         type_vocab_size=3, hidden_act="gelu_new", layer_norm_eps=1e-6),
]  # fmt: skip


def randomize_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every tensor redrawn (transformers zero-initialises biases: a swapped bias would hide)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.3 if p.ndim > 1 else 0.5, generator=g)
    return model


def batch(vocab: int, types: int = 2, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(3, vocab, (3, 9), generator=g)
    tt = torch.randint(0, types, (3, 9), generator=g)
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[1, 6:], mask[2, 2:] = 0, 0
    return x, tt, mask


@pytest.mark.parametrize("config", CONFIGS, ids=["gelu", "gelu_new-3types"])
@pytest.mark.parametrize(
    "head", ["BertModel", "BertForPreTraining", "BertForMaskedLM", "BertForSequenceClassification"]
)
def test_bert_from_hf_matches_transformers(config, head):
    cfg = transformers.BertConfig(vocab_size=50, max_position_embeddings=20, num_labels=3, **config)
    theirs = randomize_(getattr(transformers, head)(cfg)).eval()
    ours = BERT.from_hf(theirs)
    assert not ours.training
    x, tt, mask = batch(50, cfg.type_vocab_size)
    with torch.no_grad():
        out = theirs(input_ids=x, token_type_ids=tt, attention_mask=mask)
        h = ours(x, tt, mask)
        if head == "BertModel":
            torch.testing.assert_close(h, out.last_hidden_state, **TOL)
            torch.testing.assert_close(ours.pooled(h), out.pooler_output, **TOL)
        elif head == "BertForPreTraining":
            mlm, nsp = ours.pretraining_logits(x, tt, mask)
            torch.testing.assert_close(mlm, out.prediction_logits, **TOL)
            torch.testing.assert_close(nsp, out.seq_relationship_logits, **TOL)
        elif head == "BertForMaskedLM":
            torch.testing.assert_close(ours.mlm(h), out.logits, **TOL)
        else:
            torch.testing.assert_close(ours.classify(x, tt, mask), out.logits, **TOL)


def test_bert_from_hf_training_loss_and_gradients_match():
    cfg = transformers.BertConfig(
        vocab_size=50, max_position_embeddings=20, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, **CONFIGS[0],
    )  # fmt: skip
    theirs = randomize_(transformers.BertForPreTraining(cfg)).train()
    ours = BERT.from_hf(theirs)
    x, tt, mask = batch(50)
    labels = torch.where(
        torch.rand(3, 9, generator=torch.Generator().manual_seed(2)) < 0.3, x, -100
    )
    nsp_labels = torch.tensor([0, 1, 0])
    out = theirs(input_ids=x, token_type_ids=tt, attention_mask=mask, labels=labels,
                 next_sentence_label=nsp_labels)  # fmt: skip
    mlm, nsp = ours.pretraining_logits(x, tt, mask)
    loss = pretraining_loss(mlm, labels, nsp, nsp_labels)
    torch.testing.assert_close(loss, out.loss, **TOL)
    loss.backward()
    out.loss.backward()
    theirs_grads = dict(theirs.named_parameters())
    prefix = "bert."
    for name, p in ours.named_parameters():
        key = hf_key(name, family="bert", prefix=prefix)
        g = torch.cat([theirs_grads[k].grad for k in (key if isinstance(key, tuple) else (key,))])
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize("head", ["RobertaModel", "RobertaForMaskedLM"])
def test_roberta_from_hf_matches_transformers(head):
    cfg = transformers.RobertaConfig(
        vocab_size=50, max_position_embeddings=22, type_vocab_size=1, **CONFIGS[0]
    )
    theirs = randomize_(getattr(transformers, head)(cfg)).eval()
    ours = BERT.from_hf(theirs)
    assert ours.positions == "roberta" and ours.pad_id == 1
    x, _, mask = batch(50, 1)
    x = x.masked_fill(mask == 0, 1)  # RoBERTa's padding token
    with torch.no_grad():
        out = theirs(input_ids=x, attention_mask=mask)
        h = ours(x, None, mask)
        if head == "RobertaModel":
            torch.testing.assert_close(h, out.last_hidden_state, **TOL)
            torch.testing.assert_close(ours.pooled(h), out.pooler_output, **TOL)
        else:
            torch.testing.assert_close(ours.mlm(h), out.logits, **TOL)


def test_from_hf_rejects_unsupported_models():
    cfg = transformers.BertConfig(vocab_size=20, hidden_act="relu", **{
        k: v for k, v in CONFIGS[0].items()})  # fmt: skip
    with pytest.raises(ValueError, match="hidden_act"):
        BERT.from_hf(transformers.BertModel(cfg))
    rcfg = transformers.RobertaConfig(vocab_size=20, **CONFIGS[0])
    with pytest.raises(ValueError, match="classification head"):
        BERT.from_hf(transformers.RobertaForSequenceClassification(rcfg))
    gcfg = transformers.GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=20)
    with pytest.raises(ValueError, match="model_type"):
        BERT.from_hf(transformers.GPT2Model(gcfg))


def test_hf_key_examples():
    assert hf_key("layers.2.ff1.weight", family="bert", prefix="bert.") == (
        "bert.encoder.layer.2.intermediate.dense.weight"
    )
    assert hf_key("mlm_norm.bias", family="roberta", prefix="roberta.") == "lm_head.layer_norm.bias"
    assert hf_key("layer.o.weight", family="albert", prefix="albert.") == (
        "albert.encoder.albert_layer_groups.0.albert_layers.0.attention.dense.weight"
    )
    # the fused projection: query, key, value rows in this order
    assert hf_key("layers.1.qkv.bias", family="bert", prefix="") == tuple(
        f"encoder.layer.1.attention.self.{n}.bias" for n in ("query", "key", "value")
    )
    assert hf_key("layer.qkv.weight", family="albert", prefix="albert.") == tuple(
        f"albert.encoder.albert_layer_groups.0.albert_layers.0.attention.{n}.weight"
        for n in ("query", "key", "value")
    )
