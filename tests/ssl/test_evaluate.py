"""replearn.ssl.evaluate: k-NN vs a loop, effective rank, collapse monitor, probe, subsets."""

from __future__ import annotations

import math

import torch

from replearn.ssl.evaluate import (
    collapse_monitor,
    effective_rank,
    embedding_std,
    extract_features,
    knn_accuracy,
    knn_predict,
    label_subset,
    linear_probe_accuracy,
)


def _knn_loop(bank, labels, query, num_classes, k, temperature):
    preds = []
    for q in query.double():
        sims = []
        for f, y in zip(bank.double(), labels.tolist(), strict=True):
            sims.append((float(q @ f / (q.norm() * f.norm())), y))
        sims.sort(key=lambda t: -t[0])
        votes = [0.0] * num_classes
        for s, y in sims[:k]:
            votes[y] += math.exp(s / temperature)
        preds.append(max(range(num_classes), key=lambda c: votes[c]))
    return torch.tensor(preds)


def test_knn_matches_loop() -> None:
    g = torch.Generator().manual_seed(0)
    bank, labels = torch.randn(60, 5, generator=g), torch.randint(0, 4, (60,), generator=g)
    query = torch.randn(25, 5, generator=g)
    for k, t in [(1, 0.07), (7, 0.1), (20, 1.0)]:
        got = knn_predict(bank, labels, query, num_classes=4, k=k, temperature=t, chunk=8)
        assert torch.equal(got, _knn_loop(bank, labels, query, 4, k, t))


def test_knn_is_perfect_on_the_training_set_with_k1() -> None:
    g = torch.Generator().manual_seed(1)
    bank, labels = torch.randn(30, 8, generator=g), torch.randint(0, 3, (30,), generator=g)
    assert knn_accuracy(bank, labels, bank, labels, num_classes=3, k=1) == 1.0


def test_effective_rank_of_isotropic_rank_one_and_rank_r() -> None:
    g = torch.Generator().manual_seed(2)
    iso = torch.linalg.qr(torch.randn(64, 64, generator=g, dtype=torch.float64))[0][:, :16] * 8
    assert math.isclose(effective_rank(iso - iso.mean(0) + iso.mean(0)), 16.0, rel_tol=0.05)
    one = torch.randn(100, 1, generator=g) * torch.randn(1, 12, generator=g)
    assert math.isclose(effective_rank(one), 1.0, rel_tol=1e-4)
    basis = torch.randn(3, 12, generator=g)
    r3 = torch.randn(500, 3, generator=g) @ basis
    assert 1.5 < effective_rank(r3) <= 3.0 + 1e-6
    assert effective_rank(torch.ones(10, 4)) == 1.0


def test_embedding_std_collapsed_vs_spread() -> None:
    g = torch.Generator().manual_seed(3)
    spread = torch.randn(4000, 32, generator=g)
    assert math.isclose(float(embedding_std(spread).mean()), 1.0, rel_tol=0.05)
    collapsed = torch.randn(1, 32, generator=g).expand(50, 32) + 1e-6 * torch.randn(50, 32)
    assert float(embedding_std(collapsed).max()) < 1e-4
    m = collapse_monitor(spread)
    assert m["embedding_dim"] == 32 and m["effective_rank"] > 28


def test_linear_probe_separates_separable_data() -> None:
    g = torch.Generator().manual_seed(4)
    y = torch.randint(0, 3, (300,), generator=g)
    x = torch.randn(300, 6, generator=g) * 0.1 + torch.nn.functional.one_hot(y, 6).float() * 3
    assert linear_probe_accuracy(x[:200], y[:200], x[200:], y[200:]) == 1.0
    noise = torch.randn(300, 6, generator=g)
    assert linear_probe_accuracy(noise[:200], y[:200], noise[200:], y[200:]) < 0.6


def test_label_subset_is_balanced_and_seeded() -> None:
    y = torch.arange(10).repeat_interleave(100)
    idx = label_subset(y, 0.01, seed=0)
    assert len(idx) == 10 and set(y[idx].tolist()) == set(range(10))
    assert torch.equal(idx, label_subset(y, 0.01, seed=0))
    assert not torch.equal(idx, label_subset(y, 0.01, seed=1))
    assert len(label_subset(y, 0.1, seed=0)) == 100


def test_extract_features_restores_the_mode() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Dropout(0.5))
    model.train()
    x = torch.randn(10, 3)
    a, b = extract_features(model, x, batch=3), extract_features(model, x)
    assert model.training and torch.equal(a, b) and a.shape == (10, 2)
