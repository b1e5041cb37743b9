r"""Diagnostics of latent-variable models: active units, intrinsic dimension, image sharpness.

Papers: Y. Burda, R. Grosse & R. Salakhutdinov, "Importance weighted autoencoders", ICLR
2016, arXiv:1509.00519 (Section 5.2, active units); E. Facco, M. d'Errico, A. Rodriguez &
A. Laio, "Estimating the intrinsic dimension of datasets by a minimal neighborhood
information", Scientific Reports 7, 2017, arXiv:1803.06992 (TwoNN); PCA: I. T. Jolliffe,
Principal Component Analysis, 2002.

.. math::

    A_u = \operatorname{Cov}_x\!\left(\mathbb E_{q(z|x)}[z_u]\right),\ u \text{ active iff }
    A_u > 10^{-2}                                     \qquad (1)\ \text{active units}

    \mu_i = r_2(i) / r_1(i),\quad \hat d = \frac{N}{\sum_i \log \mu_i}
                                                      \qquad (2)\ \text{TwoNN (MLE)}

    d_{PCA}(p) = \min\{k : \textstyle\sum_{j\le k}\lambda_j \ge p \sum_j \lambda_j\}
                                                      \qquad (3)\ \text{PCA dimension}

    S(I) = \frac{1}{|\Omega|}\sum_{(r,c)} (I_{r,c+1} - I_{r,c})^2 + (I_{r+1,c} -
    I_{r,c})^2                                        \qquad (4)\ \text{sharpness}

:math:`r_1, r_2` are the distances to the first and second nearest neighbours (duplicates,
:math:`r_1 = 0`, are dropped). Deviation: TwoNN is the maximum-likelihood form (the paper
fits a line to the empirical CDF and discards the top 10%). (4) is the mean *squared*
gradient magnitude (the gradient energy) by forward differences over the pixels
:math:`\Omega` where both exist: the mean gradient magnitude itself is the total variation,
which a monotone blur of an edge leaves unchanged (a unit step and a three-pixel ramp both
give 1 per row), so it cannot tell blurred images from sharp ones; the squared magnitude
can (1 vs 1/3).

Tests: TwoNN on points filling a d-dimensional linear subspace and a curved 2-manifold in
higher dimension; (3) on a known spectrum; (1) on constructed encoder means; (4) on a step
edge and a blurred copy.
"""

from __future__ import annotations

import torch
from torch import Tensor

from replearn.registry import register

__all__ = ["active_units", "image_sharpness", "pca_dimension", "twonn_dimension"]


def active_units(means: Tensor, *, threshold: float = 1e-2) -> tuple[int, Tensor]:
    """Eq. (1): the number of active latent units and the activity :math:`A_u` of each.

    Args:
        means: encoder means :math:`\\mathbb E_q[z|x]` of N data points.
        threshold: activity above which a unit counts as active.

    Shape:
        means: (N, D) -> (int, (D,)).
    """
    activity = means.var(0, unbiased=True)
    return int((activity > threshold).sum()), activity


@register(
    "vae.twonn_dimension",
    paper="Facco et al. 2017, Scientific Reports 7, arXiv:1803.06992",
    reference="points on d-dimensional linear and curved manifolds (d known)",
)
def twonn_dimension(x: Tensor, *, chunk: int = 2048) -> float:
    """Eq. (2): the TwoNN maximum-likelihood intrinsic dimension of a point cloud.

    Shape:
        x: (N, P) -> float.
    """
    x = x.flatten(1).to(torch.float64)
    n = x.shape[0]
    if n < 3:
        raise ValueError(f"need at least 3 points, got {n}")
    ratios = []
    for start in range(0, n, chunk):
        d = torch.cdist(x[start : start + chunk], x)  # (c, N)
        idx = torch.arange(start, min(start + chunk, n))
        d[torch.arange(len(idx)), idx] = float("inf")  # not its own neighbour
        r = d.topk(2, dim=1, largest=False).values  # (c, 2): r_1, r_2
        keep = r[:, 0] > 0
        ratios.append(r[keep, 1] / r[keep, 0])
    mu = torch.cat(ratios)
    return float(len(mu) / torch.log(mu).sum())


def pca_dimension(x: Tensor, *, variance: float = 0.9) -> int:
    """Eq. (3): principal components needed to explain ``variance`` of the total variance.

    Shape:
        x: (N, P) -> int.
    """
    if not 0.0 < variance <= 1.0:
        raise ValueError(f"variance must be in (0, 1], got {variance}")
    x = x.flatten(1).to(torch.float64)
    s = torch.linalg.svdvals(x - x.mean(0))
    frac = torch.cumsum(s**2, 0) / (s**2).sum()
    return int((frac < variance - 1e-12).sum()) + 1


def image_sharpness(images: Tensor) -> Tensor:
    """Eq. (4): the mean squared gradient magnitude (gradient energy) of each image.

    Shape:
        images: (N, H, W) or (N, 1, H, W) -> (N,).
    """
    if images.dim() == 4:
        images = images.squeeze(1)
    if images.dim() != 3:
        raise ValueError(f"expected images (N, H, W), got {tuple(images.shape)}")
    dx = images[:, :-1, 1:] - images[:, :-1, :-1]  # forward differences on a common grid
    dy = images[:, 1:, :-1] - images[:, :-1, :-1]
    return (dx**2 + dy**2).mean((1, 2))
