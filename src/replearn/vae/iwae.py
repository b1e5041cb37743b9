r"""The importance-weighted autoencoder (IWAE) bound and the importance-sampled log-likelihood.

Paper: Y. Burda, R. Grosse & R. Salakhutdinov, "Importance weighted autoencoders", ICLR
2016, arXiv:1509.00519 (Eqs. 8-9 and Theorem 1). IWAE is the *importance-weighted
autoencoder* (same network as a VAE, a different objective); the evaluation estimator is
the one of Section 5 (k = 5000 samples).

With :math:`z_1, \dots, z_k \sim q(z|x)` i.i.d. and importance weights
:math:`w_i = p(x, z_i) / q(z_i|x)`:

.. math::

    \log w_i = \log p(x|z_i) + \log p(z) - \log q(z_i|x)
                                                    \qquad (1)\ \text{log importance weight}

    \mathcal L_k(x) = \mathbb E\left[\log \frac1k \sum_{i=1}^k w_i\right]
                                                    \qquad (2)\ \text{IWAE bound (Eq. 8)}

    \mathcal L_1 \le \mathcal L_k \le \mathcal L_{m} \le \log p(x)\ (k \le m), \quad
    \mathcal L_k \to \log p(x)\ (k\to\infty)        \qquad (3)\ \text{Theorem 1}

    \log \frac1k\sum_i e^{a_i} = a^* + \log\frac1k\sum_i e^{a_i - a^*},\ a^* = \max_i a_i
                                                    \qquad (4)\ \text{log-mean-exp}

:math:`\mathcal L_1` is the ELBO (with the KL estimated by Monte Carlo). One draw of the
inner expression of (2) is both the training objective (reparameterized, its gradient is
the paper's Eq. 14) and, with large k, the evaluation estimate of :math:`\log p(x)`;
:func:`importance_log_likelihood` accumulates k in chunks (Eq. 4 across chunks), so k =
5000 needs memory for one chunk only. No deviation from the paper.

Tests: Eq. (4) against ``torch.logsumexp`` and on weights of 1e4 nats (no overflow); the
chunked estimator equals the one-shot one; Eq. (3) in the linear-Gaussian oracle, where
:math:`\log p(x)` is exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from replearn.registry import register

__all__ = ["importance_log_likelihood", "iwae_bound", "log_importance_weights", "log_mean_exp"]


def log_mean_exp(a: Tensor, dim: int = 0) -> Tensor:
    r"""Eq. (4): :math:`\log \frac1k \sum_i e^{a_i}` along ``dim``, without overflow.

    Shape:
        a: (*, k, *) -> the shape without ``dim``.
    """
    a_max = a.amax(dim, keepdim=True).detach()
    a_max = torch.where(torch.isfinite(a_max), a_max, torch.zeros_like(a_max))
    out = torch.log(torch.exp(a - a_max).mean(dim, keepdim=True)) + a_max
    return out.squeeze(dim)


def log_importance_weights(log_px_z: Tensor, log_pz: Tensor, log_qz: Tensor) -> Tensor:
    r"""Eq. (1): :math:`\log w = \log p(x|z) + \log p(z) - \log q(z|x)`.

    Shape:
        all (k, B) -> (k, B).
    """
    return log_px_z + log_pz - log_qz


@register(
    "vae.iwae_bound",
    paper="Burda, Grosse & Salakhutdinov 2016, arXiv:1509.00519 (Eq. 8)",
    reference="torch.logsumexp; exact log p(x) of a linear-Gaussian model (Theorem 1)",
)
def iwae_bound(log_w: Tensor) -> Tensor:
    r"""Eq. (2), one draw: :math:`\log \frac1k \sum_{i=1}^k w_i` over the leading sample dim.

    Differentiable; its negative mean over the batch is the IWAE training loss.

    Shape:
        log_w: (k, B) -> (B,).
    """
    if log_w.dim() < 1 or log_w.shape[0] < 1:
        raise ValueError(f"log_w needs a leading sample dimension k >= 1, got {tuple(log_w.shape)}")
    return log_mean_exp(log_w, dim=0)


@torch.no_grad()
def importance_log_likelihood(
    log_weights: Callable[[int], Tensor], k: int, *, chunk: int = 500
) -> Tensor:
    r"""Eq. (2) with large k, accumulated over chunks: the importance-sampled :math:`\log p(x)`.

    Args:
        log_weights: ``n -> (n, B)`` log importance weights of ``n`` fresh samples (Eq. 1).
        k: total number of samples (5000 in the paper's evaluation).
        chunk: samples drawn per call (memory ~ chunk x B x model width).

    Shape:
        returns (B,).
    """
    if k < 1 or chunk < 1:
        raise ValueError(f"k and chunk must be >= 1, got k={k}, chunk={chunk}")
    total: Tensor | None = None  # running log sum_i w_i, (B,)
    done = 0
    while done < k:
        n = min(chunk, k - done)
        lse = torch.logsumexp(log_weights(n), dim=0)  # (B,)
        total = lse if total is None else torch.logaddexp(total, lse)
        done += n
    assert total is not None
    return total - math.log(k)
