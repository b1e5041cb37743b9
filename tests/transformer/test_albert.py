"""ALBERT: from_hf vs transformers, one shared layer used N times, parameter count formula."""

from __future__ import annotations

import pytest
import torch

from replearn.transformer.bert.albert import ALBERT, albert_num_parameters
from replearn.transformer.bert.model import BERT, bert_num_parameters

transformers = pytest.importorskip("transformers")

TOL = {"rtol": 0.0, "atol": 1e-5}
SIZES = dict(vocab_size=40, embedding=8, hidden=16, heads=2, intermediate=24, max_len=16)


def randomize_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.3 if p.ndim > 1 else 0.5, generator=g)
    return model


@pytest.mark.parametrize("head", ["AlbertModel", "AlbertForMaskedLM", "AlbertForPreTraining"])
def test_albert_from_hf_matches_transformers(head):
    cfg = transformers.AlbertConfig(
        vocab_size=50, embedding_size=8, hidden_size=16, num_hidden_layers=3,
        num_attention_heads=2, intermediate_size=32, max_position_embeddings=20,
    )  # fmt: skip
    theirs = randomize_(getattr(transformers, head)(cfg)).eval()
    ours = ALBERT.from_hf(theirs)
    g = torch.Generator().manual_seed(1)
    x, tt = torch.randint(0, 50, (3, 9), generator=g), torch.randint(0, 2, (3, 9), generator=g)
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[1, 5:] = 0
    with torch.no_grad():
        out = theirs(input_ids=x, token_type_ids=tt, attention_mask=mask)
        h = ours(x, tt, mask)
        if head == "AlbertModel":
            torch.testing.assert_close(h, out.last_hidden_state, **TOL)
            torch.testing.assert_close(ours.pooled(h), out.pooler_output, **TOL)
        elif head == "AlbertForMaskedLM":
            torch.testing.assert_close(ours.mlm(h), out.logits, **TOL)
        else:
            mlm, sop = ours.pretraining_logits(x, tt, mask)
            torch.testing.assert_close(mlm, out.prediction_logits, **TOL)
            torch.testing.assert_close(sop, out.sop_logits, **TOL)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())


def test_from_hf_rejects_unshared_groups():
    cfg = transformers.AlbertConfig(
        vocab_size=20, embedding_size=8, hidden_size=16, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=16, num_hidden_groups=2,
    )  # fmt: skip
    with pytest.raises(ValueError, match="shared layer group"):
        ALBERT.from_hf(transformers.AlbertModel(cfg))


def test_one_layer_is_applied_n_times():
    torch.manual_seed(0)
    model = ALBERT(**SIZES, layers=4).double().eval()
    calls = []
    model.layer.register_forward_hook(lambda *_: calls.append(1))
    x = torch.randint(1, 40, (2, 6))
    h = model(x)
    assert len(calls) == 4
    # the same thing written out: project, then the same layer four times
    e = model.emb_norm(model.tok_emb(x) + model.pos_emb.weight[:6] + model.seg_emb.weight[0])
    want = model.emb_proj(e)
    for _ in range(4):
        want = model.layer(want)
    torch.testing.assert_close(h, want, rtol=0, atol=1e-12)
    # the shared layer's gradient is the sum of its gradients at the four depths
    h.sum().backward()
    grad = model.layer.ff1.weight.grad.clone()
    per_depth = torch.zeros_like(grad)
    for depth in range(4):
        model.zero_grad()
        hh = model.emb_proj(e.detach())
        for d in range(4):
            if d == depth:
                hh = model.layer(hh)
            else:  # the same layer with frozen copies of its parameters
                with torch.no_grad():
                    frozen = {n: p.clone() for n, p in model.layer.named_parameters()}
                hh = torch.func.functional_call(model.layer, frozen, (hh,))
        hh.sum().backward()
        per_depth += model.layer.ff1.weight.grad
    torch.testing.assert_close(grad, per_depth, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("layers", [1, 6])
def test_parameter_count_formula_and_independent_of_depth(layers):
    model = ALBERT(**SIZES, layers=layers)
    n = sum(p.numel() for p in model.parameters())
    assert n == albert_num_parameters(
        vocab_size=40, embedding=8, hidden=16, intermediate=24, max_len=16
    )


def test_albert_base_is_much_smaller_than_bert_base():
    # Table 1 of the paper: BERT-base 108M, ALBERT-base 12M (V = 30000, E = 128).
    kw = dict(vocab_size=30000, hidden=768, intermediate=3072, max_len=512, heads=False)
    bert = bert_num_parameters(layers=12, **kw)
    albert = albert_num_parameters(embedding=128, **kw)
    assert round(bert / 1e6) == 109 and round(albert / 1e6) == 12
    assert bert / albert > 9


def test_albert_and_bert_share_the_head_code():
    model = ALBERT(**SIZES, layers=2, num_labels=3)
    x = torch.randint(1, 40, (2, 5))
    mlm, sop = model.pretraining_logits(x)
    assert mlm.shape == (2, 5, 40) and sop.shape == (2, 2)
    assert model.classify(x).shape == (2, 3)
    assert ALBERT.mlm is BERT.mlm


@pytest.mark.parametrize("kw", [{"embedding": 0}, {"hidden": 15}, {"dropout": -0.1}])
def test_invalid_arguments(kw):
    with pytest.raises(ValueError):
        ALBERT(**{**SIZES, "layers": 2, **kw})
