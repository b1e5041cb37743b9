r"""Improved precision and recall (k-NN manifolds), with density and coverage.

Papers: T. Kynkäänniemi, T. Karras, S. Laine, J. Lehtinen & T. Aila, "Improved
Precision and Recall Metric for Assessing Generative Models", NeurIPS 2019,
arXiv:1904.06991 (Eq. 1-2); M. F. Naeem, S. J. Oh, Y. Uh, Y. Choi & J. Yoo,
"Reliable Fidelity and Diversity Metrics for Generative Models", ICML 2020,
arXiv:2002.09797 (Eq. 3-4: density and coverage).

With real features :math:`\Phi_r` and generated features :math:`\Phi_g`, let
:math:`\mathrm{NN}_k(\phi, \Phi)` be the distance from :math:`\phi` to its k-th
nearest neighbour in :math:`\Phi` (itself excluded). The manifold of a set is the
union of balls reaching each point's k-th neighbour:

.. math::

    f(\phi, \Phi) = \mathbb{1}\bigl[\exists \phi' \in \Phi:
        \|\phi - \phi'\| \le \mathrm{NN}_k(\phi', \Phi)\bigr]                            \qquad (1)

    \mathrm{precision} = \frac{1}{|\Phi_g|}\sum_{\phi_g} f(\phi_g, \Phi_r), \quad
    \mathrm{recall} = \frac{1}{|\Phi_r|}\sum_{\phi_r} f(\phi_r, \Phi_g)              \qquad (2)

    \mathrm{density} = \frac{1}{k\,|\Phi_g|}\sum_{\phi_g}\sum_{\phi_r}
        \mathbb{1}\bigl[\|\phi_g - \phi_r\| \le \mathrm{NN}_k(\phi_r, \Phi_r)\bigr]  \qquad (3)

    \mathrm{coverage} = \frac{1}{|\Phi_r|}\sum_{\phi_r}
        \mathbb{1}\bigl[\exists \phi_g: \|\phi_g - \phi_r\| \le \mathrm{NN}_k(\phi_r, \Phi_r)\bigr]
                                                                                         \qquad (4)

Precision measures fidelity (generated samples inside the real manifold), recall
diversity (real samples inside the generated manifold). Default :math:`k = 3` as
in the paper. Distances are exact (``torch.cdist`` in float64, computed in
blocks), so the cost is :math:`O(|\Phi_r||\Phi_g|)`.

Tests: brute-force loops over every pair; scikit-learn's ``NearestNeighbors`` radii;
identical sets give precision = recall = coverage = 1; a collapsed generator keeps
high precision and loses recall.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from replearn.metrics.fid import _as64
from replearn.registry import register

__all__ = ["knn_radii", "manifold_membership", "precision_recall"]

ArrayLike = Tensor | np.ndarray
_BLOCK = 4096


def knn_radii(feats: Tensor, k: int) -> Tensor:
    r""":math:`\mathrm{NN}_k(\phi, \Phi)` for every :math:`\phi \in \Phi` (itself excluded).

    Shape:
        feats: (n, d) with n > k -> (n,).
    """
    n = len(feats)
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, {n - 1}], got {k}")
    out = torch.empty(n, dtype=feats.dtype)
    for start in range(0, n, _BLOCK):
        d = torch.cdist(feats[start : start + _BLOCK], feats)  # (b, n)
        # the (k+1)-th smallest includes the zero distance to itself
        out[start : start + _BLOCK] = d.kthvalue(k + 1, dim=1).values
    return out


def manifold_membership(query: Tensor, ref: Tensor, radii: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    r"""Eq. (1) for each query, and how many reference balls contain it (for Eq. 3).

    Shape:
        query: (m, d), ref: (n, d), radii: (n,) -> inside (m,) bool, counts (m,) and
        covered (n,) bool (reference balls that hold at least one query).
    """
    inside = torch.empty(len(query), dtype=torch.bool)
    counts = torch.empty(len(query), dtype=torch.float64)
    covered = torch.zeros(len(ref), dtype=torch.bool)
    for start in range(0, len(query), _BLOCK):
        within = torch.cdist(query[start : start + _BLOCK], ref) <= radii[None]  # (b, n)
        inside[start : start + _BLOCK] = within.any(1)
        counts[start : start + _BLOCK] = within.sum(1).double()
        covered |= within.any(0)
    return inside, counts, covered


@register(
    "metrics.precision_recall",
    paper="Kynkäänniemi et al. 2019, arXiv:1904.06991; Naeem et al. 2020, arXiv:2002.09797",
    reference="brute-force loops; sklearn NearestNeighbors radii",
)
def precision_recall(real: ArrayLike, fake: ArrayLike, *, k: int = 3) -> dict[str, float]:
    """Improved precision and recall, Eq. (2), with density and coverage, Eq. (3)-(4).

    Shape:
        real: (n_r, d), fake: (n_g, d) -> {"precision", "recall", "density", "coverage"}.
    """
    r, g = _as64(real), _as64(fake)
    if r.ndim != 2 or g.ndim != 2 or r.shape[1] != g.shape[1]:
        raise ValueError(f"real and fake must be (n, d), got {tuple(r.shape)}, {tuple(g.shape)}")
    radii_r, radii_g = knn_radii(r, k), knn_radii(g, k)
    in_real, counts, covered = manifold_membership(g, r, radii_r)
    in_fake, _, _ = manifold_membership(r, g, radii_g)
    return {
        "precision": float(in_real.double().mean()),
        "recall": float(in_fake.double().mean()),
        "density": float(counts.sum() / (k * len(g))),
        "coverage": float(covered.double().mean()),
    }
