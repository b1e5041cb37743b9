r"""Fréchet distance between Gaussians and the Fréchet Inception Distance (FID).

Paper: M. Heusel, H. Ramsauer, T. Unterthiner, B. Nessler & S. Hochreiter, "GANs
Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium",
NeurIPS 2017, arXiv:1706.08500 (Eq. 6). The distance itself is the 2-Wasserstein
distance between Gaussians (D. C. Dowson & B. V. Landau, 1982).

Fit a Gaussian to the features of real and of generated samples,
:math:`\mathcal{N}(\mu_1, \Sigma_1)` and :math:`\mathcal{N}(\mu_2, \Sigma_2)`:

.. math::

    \mu = \frac{1}{n}\sum_i f_i, \qquad
    \Sigma = \frac{1}{n - 1}\sum_i (f_i - \mu)(f_i - \mu)^\top              \qquad (1)

    d^2 = \|\mu_1 - \mu_2\|_2^2
          + \operatorname{tr}\bigl(\Sigma_1 + \Sigma_2
          - 2 (\Sigma_1 \Sigma_2)^{1/2}\bigr)                                   \qquad (2)

    \operatorname{tr}(\Sigma_1 \Sigma_2)^{1/2}
        = \operatorname{tr}\bigl(\Sigma_1^{1/2} \Sigma_2 \Sigma_1^{1/2}\bigr)^{1/2}
        = \sum_k \sqrt{\lambda_k\bigl(\Sigma_1^{1/2} \Sigma_2 \Sigma_1^{1/2}\bigr)}
                                                                                \qquad (3)

Eq. (3) holds because :math:`\Sigma_1 \Sigma_2` is similar to the symmetric PSD
matrix :math:`\Sigma_1^{1/2} \Sigma_2 \Sigma_1^{1/2}`, so its square root has the
same (real, non-negative) eigenvalues. Both square roots are computed with a
symmetric eigendecomposition (``eigh``), which is real and stable where
``scipy.linalg.sqrtm`` of the non-symmetric product can return small imaginary
parts (pytorch-fid discards them and adds :math:`\epsilon I` when the product is
singular). Eigenvalues that round to slightly negative values are clamped to 0.

"FID" is Eq. (2) on the pool features of InceptionV3; replearn computes it in any
feature space (:mod:`replearn.metrics.features`): numbers are comparable only
within one feature extractor. Everything runs in float64.

Tests: two Gaussians in closed form (diagonal / commuting covariances, where
:math:`d^2 = \|\Delta\mu\|^2 + \|\Sigma_1^{1/2} - \Sigma_2^{1/2}\|_F^2`), the
pytorch-fid formula with ``scipy.linalg.sqrtm`` on random covariances, symmetry,
:math:`d(P, P) = 0`, and ``fid_from_features`` against numpy's ``mean``/``cov``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from replearn.registry import register

__all__ = [
    "fid_from_features",
    "frechet_distance",
    "gaussian_statistics",
    "sqrtm_psd",
    "trace_sqrt_product",
]

ArrayLike = Tensor | np.ndarray


def _as64(x: ArrayLike) -> Tensor:
    """A float64 CPU tensor view of an array or tensor (no gradient)."""
    if isinstance(x, Tensor):
        return x.detach().to("cpu", torch.float64)
    return torch.as_tensor(np.asarray(x), dtype=torch.float64)


def sqrtm_psd(a: ArrayLike) -> Tensor:
    r"""Square root of a symmetric PSD matrix: :math:`A^{1/2} = U \Lambda^{1/2} U^\top`.

    The input is symmetrized, :math:`(A + A^\top)/2`, and negative eigenvalues
    (round-off) are clamped to zero.

    Shape:
        a: (d, d) -> (d, d), float64.
    """
    a = _as64(a)
    a = 0.5 * (a + a.T)
    lam, u = torch.linalg.eigh(a)
    return (u * lam.clamp_min(0.0).sqrt()) @ u.T


def trace_sqrt_product(sigma1: ArrayLike, sigma2: ArrayLike) -> float:
    r""":math:`\operatorname{tr}(\Sigma_1 \Sigma_2)^{1/2}` by Eq. (3).

    Shape:
        sigma1, sigma2: (d, d) -> scalar.
    """
    root1 = sqrtm_psd(sigma1)
    m = root1 @ _as64(sigma2) @ root1  # (d, d), symmetric PSD
    lam = torch.linalg.eigvalsh(0.5 * (m + m.T))
    return float(lam.clamp_min(0.0).sqrt().sum())


@register(
    "metrics.frechet_distance",
    paper="Heusel et al. 2017, arXiv:1706.08500 (Eq. 6); Dowson & Landau 1982",
    reference="closed form for commuting covariances; pytorch-fid formula with scipy.linalg.sqrtm",
)
def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> float:
    r"""Squared Fréchet (2-Wasserstein) distance between two Gaussians, Eq. (2).

    .. math::

        d^2 = \|\mu_1 - \mu_2\|^2 + \operatorname{tr}\Sigma_1 + \operatorname{tr}\Sigma_2
              - 2 \operatorname{tr}(\Sigma_1 \Sigma_2)^{1/2}

    Shape:
        mu1, mu2: (d,); sigma1, sigma2: (d, d) -> float (>= 0 up to round-off).
    """
    mu1, mu2 = _as64(mu1).reshape(-1), _as64(mu2).reshape(-1)
    s1, s2 = _as64(sigma1), _as64(sigma2)
    d = mu1.numel()
    if mu2.numel() != d or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(
            f"shapes do not match: mu1 {tuple(mu1.shape)}, mu2 {tuple(mu2.shape)}, "
            f"sigma1 {tuple(s1.shape)}, sigma2 {tuple(s2.shape)}"
        )
    diff = mu1 - mu2
    value = diff @ diff + torch.trace(s1) + torch.trace(s2) - 2.0 * trace_sqrt_product(s1, s2)
    return float(value)


def gaussian_statistics(feats: ArrayLike) -> tuple[Tensor, Tensor]:
    r"""Mean and unbiased covariance of features, Eq. (1) (``np.cov`` with ``rowvar=False``).

    Shape:
        feats: (n, d) with n >= 2 -> mu (d,), sigma (d, d), float64.
    """
    f = _as64(feats)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"features must be (n >= 2, d), got {tuple(f.shape)}")
    mu = f.mean(0)
    centred = f - mu
    sigma = centred.T @ centred / (f.shape[0] - 1)
    return mu, sigma


@register(
    "metrics.fid",
    paper="Heusel et al. 2017, arXiv:1706.08500",
    reference="numpy mean/cov + pytorch-fid's scipy formula",
)
def fid_from_features(feats_a: ArrayLike, feats_b: ArrayLike) -> float:
    r"""FID between two sets of features: Eq. (1) on each, then Eq. (2).

    Shape:
        feats_a: (n_a, d), feats_b: (n_b, d) -> float.
    """
    mu1, s1 = gaussian_statistics(feats_a)
    mu2, s2 = gaussian_statistics(feats_b)
    return frechet_distance(mu1, s1, mu2, s2)
