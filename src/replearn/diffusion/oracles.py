r"""Closed forms for Gaussian data: the optimal noise predictor and the exact score.

For data :math:`x_0 \sim \mathcal N(\mu, \Sigma)` the noisy marginal of Eq. (4) of DDPM is
Gaussian, :math:`x_t \sim \mathcal N(\sqrt{\bar\alpha_t}\mu, C_t)` with
:math:`C_t = \bar\alpha_t \Sigma + (1 - \bar\alpha_t) I`, and the minimiser of
:math:`L_{simple}` (the posterior mean of the noise) is linear in :math:`x_t`:

.. math::

    \epsilon^*(x_t, t) = \mathbb E[\epsilon \mid x_t]
      = \sqrt{1 - \bar\alpha_t}\; C_t^{-1} (x_t - \sqrt{\bar\alpha_t}\,\mu)
      = -\sqrt{1 - \bar\alpha_t}\;\nabla_{x_t} \log q(x_t)                      \qquad (1)

These are the oracles of the tests (a trained linear predictor converges to Eq. 1;
samplers driven by Eq. 1 reproduce :math:`\mu, \Sigma`) and of classifier guidance on a
Gaussian mixture (:func:`gaussian_log_prob`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from replearn.diffusion.schedules import extract

__all__ = ["gaussian_eps_matrices", "gaussian_log_prob", "gaussian_optimal_eps"]


def gaussian_eps_matrices(alpha_bar: Tensor, mean: Tensor, cov: Tensor) -> tuple[Tensor, Tensor]:
    r"""Eq. (1) as :math:`\epsilon^* = A_t x_t + b_t` for every step.

    Shape:
        alpha_bar: (T,); mean: (D,); cov: (D, D) -> A: (T, D, D), b: (T, D).
    """
    d = mean.shape[0]
    eye = torch.eye(d, dtype=cov.dtype)
    ab = alpha_bar.to(cov.dtype)[:, None, None]  # (T, 1, 1)
    c = ab * cov + (1 - ab) * eye  # (T, D, D)
    a = (1 - ab).sqrt() * torch.linalg.inv(c)  # (T, D, D)
    b = -(a @ (ab.sqrt() * mean[None, :, None])).squeeze(-1)  # (T, D)
    return a, b


def gaussian_optimal_eps(
    x_t: Tensor, t: Tensor, alpha_bar: Tensor, mean: Tensor, cov: Tensor
) -> Tensor:
    r"""Eq. (1): the optimal :math:`\epsilon` predictor for Gaussian data.

    Shape:
        x_t: (B, D); t: (B,) int -> (B, D).
    """
    a, b = gaussian_eps_matrices(alpha_bar, mean.to(x_t.dtype), cov.to(x_t.dtype))
    return (a[t] @ x_t[:, :, None]).squeeze(-1) + b[t]


def gaussian_log_prob(
    x_t: Tensor, t: Tensor, alpha_bar: Tensor, mean: Tensor, cov: Tensor
) -> Tensor:
    r""":math:`\log q(x_t)` for :math:`x_0 \sim \mathcal N(\mu, \Sigma)` (the noisy marginal).

    Shape:
        x_t: (B, D); t: (B,) int -> (B,).
    """
    d = x_t.shape[1]
    ab = extract(alpha_bar, t, 3).to(x_t.dtype)  # (B, 1, 1)
    c = ab * cov.to(x_t.dtype) + (1 - ab) * torch.eye(d, dtype=x_t.dtype)  # (B, D, D)
    diff = x_t - ab[:, 0].sqrt() * mean.to(x_t.dtype)  # (B, D)
    sol = torch.linalg.solve(c, diff[:, :, None]).squeeze(-1)
    return -0.5 * ((diff * sol).sum(-1) + torch.logdet(c) + d * math.log(2 * math.pi))
