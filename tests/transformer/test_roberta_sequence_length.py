"""The ``roberta-sequence-length`` experiment: config checks, data, held-out loss, verdicts, run."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from replearn.experiments.runner import run_experiment
from replearn.experiments.transformer import bert_sst2 as B
from replearn.experiments.transformer import roberta_sequence_length as R
from replearn.transformer.bert import BERT


@pytest.mark.parametrize(
    "bad",
    [
        {"seeds": (0, 1)},
        {"long_len": 40, "short_len": 32},
        {"long_len": 32, "short_len": 32},
        {"long_fraction": 0.0},
        {"long_fraction": 1.0},
        {"topic_weight": 1.5},
        {"hidden": 30, "heads": 4},
        {"vocab_size": 5},
        {"steps": 1},
    ],
)
def test_config_rejects_bad_settings(bad: dict) -> None:
    with pytest.raises(ValueError):
        R.Config(**bad)


def test_presets_are_valid_and_small() -> None:
    t, q, d = R.tiny(), R.quick(), R.Config()
    assert t.steps < q.steps < d.steps
    assert d.long_len // d.short_len == 4  # 512 / 128 in the papers


def test_documents_follow_the_bigram_when_the_topic_weight_is_zero() -> None:
    cfg = R.Config(vocab_size=9, topics=3, topic_weight=0.0, short_len=50, long_len=400)
    gen = torch.Generator().manual_seed(0)
    theta = torch.softmax(torch.randn(3, 4, generator=gen), 1)
    bigram = torch.tensor([[0.7, 0.1, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1],
                           [0.1, 0.1, 0.7, 0.1], [0.25, 0.25, 0.25, 0.25]])  # fmt: skip
    docs = R.documents(cfg, 200, gen, (theta, bigram)) - R.SPECIAL
    assert docs.shape == (200, 400) and int(docs.min()) >= 0 and int(docs.max()) <= 3
    prev, nxt = docs[:, :-1].reshape(-1), docs[:, 1:].reshape(-1)
    counts = torch.zeros(4, 4).index_put_((prev, nxt), torch.ones(len(prev)), accumulate=True)
    freq = counts / counts.sum(1, keepdim=True)
    torch.testing.assert_close(freq, bigram, atol=0.02, rtol=0)


def test_documents_follow_the_topic_when_the_topic_weight_is_one() -> None:
    cfg = R.Config(vocab_size=9, topics=1, topic_weight=1.0, short_len=50, long_len=400)
    gen = torch.Generator().manual_seed(1)
    theta = torch.tensor([[0.4, 0.3, 0.2, 0.1]])
    bigram = torch.full((4, 4), 0.25)
    docs = R.documents(cfg, 100, gen, (theta, bigram)) - R.SPECIAL
    freq = torch.bincount(docs.reshape(-1), minlength=4).double() / docs.numel()
    torch.testing.assert_close(freq, theta[0].double(), atol=0.01, rtol=0)


def test_data_mask_and_windows() -> None:
    cfg = R.tiny()
    data = R.make_data(cfg, 0)
    assert data["train"].shape == (cfg.n_train, cfg.long_len)
    labels, inputs = data["eval_labels"], data["eval_inputs"]
    sel = labels != B.IGNORE_INDEX
    assert 0.05 < float(sel.double().mean()) < 0.3  # p = 0.15
    assert bool((inputs[~sel] >= R.SPECIAL).all())  # unmasked positions keep their word ids
    assert bool((labels[sel] >= R.SPECIAL).all()) and int(labels.max()) < cfg.vocab_size
    assert torch.equal(R.make_data(cfg, 0)["train"], data["train"])  # seeded
    ds = R.mlm_set(data["train"], cfg.short_len)
    x = ds.tensors[0]
    assert x.shape == (cfg.n_train * cfg.long_len // cfg.short_len, cfg.short_len)
    assert torch.equal(x.reshape(cfg.n_train, cfg.long_len), data["train"])


def test_heldout_loss_is_the_masked_cross_entropy_per_window() -> None:
    torch.manual_seed(0)
    model = BERT(vocab_size=20, hidden=16, layers=1, heads=2, intermediate=32, max_len=8,
                 pad_id=B.PAD, nsp_head=False)  # fmt: skip
    x = torch.randint(5, 20, (3, 8))
    inputs, labels = R.mask_tokens(x, x >= 5, mask_id=B.MASK, vocab_size=20,
                                   generator=torch.Generator().manual_seed(0))  # fmt: skip
    labels[0, 0] = x[0, 0]  # at least one masked token in each half
    labels[0, 4] = x[0, 4]
    model.train()
    for length in (8, 4):
        got = R.heldout_loss(model, inputs, labels, length)
        assert model.training
        model.eval()
        with torch.no_grad():
            xi, yi = inputs.reshape(-1, length), labels.reshape(-1, length)
            logits = model.mlm(model(xi, None, torch.ones_like(xi)))
            want = F.cross_entropy(logits.reshape(-1, 20).double(), yi.reshape(-1))
        model.train()
        assert got == pytest.approx(float(want), rel=1e-6)
    # a window of 4 cannot see the other half: the two readings differ
    assert R.heldout_loss(model, inputs, labels, 8) != pytest.approx(
        R.heldout_loss(model, inputs, labels, 4), rel=1e-9
    )


def _metrics(full: list[float], recipe: list[float], short: list[float]) -> dict:
    return {"full-length_loss_long": full, "bert-recipe_loss_long": recipe,
            "short_loss_short": short}  # fmt: skip


def test_verdicts_both_ways() -> None:
    claims = {c.id: c.verdict for c in R.CLAIMS}
    good = _metrics([2.0, 2.01, 2.02], [2.10, 2.12, 2.11], [2.30, 2.31, 2.29])
    bad = _metrics([2.0, 2.01, 2.02], [1.95, 2.05, 1.96], [2.0, 2.02, 2.01])
    for cid in ("full-length-beats-bert-recipe", "longer-context-helps"):
        holds, evidence = claims[cid](good)
        assert holds, evidence
        assert "3 seeds" in evidence
        assert not claims[cid](bad)[0]


def test_tiny_run_writes_every_loss_and_the_phases(tmp_path) -> None:
    summary = run_experiment("roberta-sequence-length", out=tmp_path, preset="tiny",
                             progress=False, report=False)  # fmt: skip
    m = summary.metrics
    for v in R.VARIANTS:
        for k in ("long", "short"):
            assert len(m[f"{v}_loss_{k}"]) == 3
            assert all(math.isfinite(x) and x > 0 for x in m[f"{v}_loss_{k}"])
    assert {c["id"] for c in summary.claims} == {c.id for c in R.CLAIMS}
    runs = {p.name for p in tmp_path.iterdir() if p.is_dir()}
    assert {"short-short-seed0", "bert-recipe-short-seed0", "bert-recipe-long-seed0",
            "full-length-long-seed0"} <= runs  # fmt: skip
    assert "short-long-seed0" not in runs and "full-length-short-seed0" not in runs
    assert (tmp_path / "sequence_length.png").exists()
