r"""Evaluating representations: linear probe, weighted k-NN, label subsets, collapse monitor.

* **Linear probe** (Zhang et al. 2016; the standard SSL protocol, e.g. SimCLR Sec. 4): a
  multinomial logistic regression on frozen, standardized features (scikit-learn's L-BFGS).
* **Weighted k-NN** (Wu et al. 2018, arXiv:1805.01978, Eq. 10; used by DINO): with cosine
  similarities :math:`s_i = \hat f \cdot \hat f_i` of the k nearest training features,

  .. math:: \hat y = \arg\max_c \sum_{i \in \mathrm{top}_k} e^{s_i/\tau}\, [y_i = c]   \qquad (1)

* **Collapse monitor**: the per-dimension standard deviation of the L2-normalized embeddings
  (SimSiam, Chen & He 2021, arXiv:2011.10566, Sec. 4.1: :math:`\approx 1/\sqrt d` when spread,
  0 when collapsed; reported times :math:`\sqrt d`, so 1 is healthy) and the effective rank
  (Roy & Vetterli 2007) of the centred embeddings with singular values :math:`\sigma_k`,

  .. math:: \mathrm{erank}(Z) = \exp\Big(-\sum_k p_k \log p_k\Big),\quad
            p_k = \sigma_k / \textstyle\sum_j \sigma_j                                   \qquad (2)

  which is 1 for a rank-one ("dimensionally collapsed") set and d for isotropic embeddings.

Tests: k-NN against a brute-force loop; effective rank of isotropic, rank-one and rank-r
data; the probe separates separable data.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "collapse_monitor",
    "effective_rank",
    "embedding_std",
    "extract_features",
    "knn_accuracy",
    "knn_predict",
    "label_subset",
    "linear_probe_accuracy",
]


def knn_predict(
    train_feats: Tensor,
    train_labels: Tensor,
    query: Tensor,
    *,
    num_classes: int,
    k: int = 20,
    temperature: float = 0.07,
    chunk: int = 1024,
) -> Tensor:
    """Eq. (1): temperature-weighted vote of the k most cosine-similar training examples.

    Shape:
        train_feats: (N, D); train_labels: (N,); query: (M, D) -> (M,) predicted labels.
    """
    bank = F.normalize(train_feats.float(), dim=1)  # (N, D)
    k = min(k, len(bank))
    preds = []
    for start in range(0, len(query), chunk):
        q = F.normalize(query[start : start + chunk].float(), dim=1)  # (m, D)
        sim, idx = (q @ bank.T).topk(k, dim=1)  # (m, k)
        votes = torch.zeros(len(q), num_classes, dtype=sim.dtype, device=sim.device)
        votes.scatter_add_(1, train_labels[idx], (sim / temperature).exp())
        preds.append(votes.argmax(1))
    return torch.cat(preds)


def knn_accuracy(
    train_feats: Tensor,
    train_labels: Tensor,
    test_feats: Tensor,
    test_labels: Tensor,
    *,
    num_classes: int,
    k: int = 20,
    temperature: float = 0.07,
) -> float:
    """Accuracy of :func:`knn_predict` on ``test_feats``."""
    pred = knn_predict(
        train_feats, train_labels, test_feats, num_classes=num_classes, k=k, temperature=temperature
    )
    return float((pred == test_labels).double().mean())


def linear_probe_accuracy(
    train_feats: Tensor,
    train_labels: Tensor,
    test_feats: Tensor,
    test_labels: Tensor,
    *,
    c: float = 1.0,
    max_iter: int = 1000,
) -> float:
    """Test accuracy of an L2-regularized logistic regression on standardized frozen features."""
    from sklearn.linear_model import LogisticRegression  # slow import, only when needed
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    xtr, xte = train_feats.double().cpu().numpy(), test_feats.double().cpu().numpy()
    with threadpool_limits(1):  # one BLAS thread: many threads on a busy CPU are far slower
        scaler = StandardScaler().fit(xtr)
        clf = LogisticRegression(C=c, max_iter=max_iter)
        clf.fit(scaler.transform(xtr), train_labels.cpu().numpy())
        pred = clf.predict(scaler.transform(xte))
    return float(np.mean(pred == test_labels.cpu().numpy()))


@torch.no_grad()
def extract_features(model: nn.Module, x: Tensor, *, batch: int = 1024) -> Tensor:
    """``model(x)`` in evaluation mode, in chunks (mode restored afterwards).

    Shape:
        x: (N, ...) -> (N, D) on the CPU.
    """
    was = model.training
    model.eval()
    device = next(model.parameters(), torch.empty(0)).device
    out = torch.cat(
        [model(x[i : i + batch].to(device)).float().cpu() for i in range(0, len(x), batch)]
    )
    model.train(was)
    return out


def label_subset(labels: Tensor, fraction: float, *, seed: int, min_per_class: int = 1) -> Tensor:
    """Indices of a class-balanced ``fraction`` of the examples (at least ``min_per_class``).

    Shape:
        labels: (N,) -> (n,) sorted indices.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    gen = torch.Generator().manual_seed(seed)
    picked = []
    for c in labels.unique():
        idx = (labels == c).nonzero().flatten()
        n = max(min_per_class, round(fraction * len(idx)))
        picked.append(idx[torch.randperm(len(idx), generator=gen)[:n]])
    return torch.cat(picked).sort().values


def embedding_std(z: Tensor) -> Tensor:
    """Per-dimension standard deviation of the L2-normalized embeddings, times sqrt(d).

    Shape:
        z: (N, d) -> (d,); about 1 for spread-out embeddings, 0 for collapsed ones.
    """
    zn = F.normalize(z.float(), dim=1)
    return zn.std(0) * zn.shape[1] ** 0.5


def effective_rank(z: Tensor, eps: float = 1e-12) -> float:
    """Eq. (2): exp of the entropy of the normalized singular values of the centred embeddings.

    Shape:
        z: (N, d) -> a float in [1, min(N, d)].
    """
    zc = z.double() - z.double().mean(0)
    s = torch.linalg.svdvals(zc)  # (min(N, d),)
    if float(s.sum()) <= eps:
        return 1.0
    p = s / s.sum()
    p = p[p > eps]
    return float(torch.exp(-(p * p.log()).sum()))


def collapse_monitor(z: Tensor) -> dict[str, float]:
    """``embedding_std`` (mean and min over dimensions) and ``effective_rank`` of a batch."""
    std = embedding_std(z)
    return {
        "embedding_std": float(std.mean()),
        "embedding_std_min": float(std.min()),
        "effective_rank": effective_rank(z),
        "embedding_dim": float(z.shape[1]),
    }
