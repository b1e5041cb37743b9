r"""A linear-Gaussian VAE (probabilistic PCA): the oracle whose log p(x) is exact.

Model: M. E. Tipping & C. M. Bishop, "Probabilistic principal component analysis", JRSS-B
61, 1999; used as a VAE oracle by Lucas, Tucker, Grosse & Norouzi, "Don't blame the ELBO!",
NeurIPS 2019, arXiv:1911.02469.

With prior :math:`p(z) = \mathcal N(0, I_D)`, decoder :math:`p(x|z) = \mathcal N(Wz + b,
\sigma^2 I_P)` and a linear encoder :math:`q(z|x) = \mathcal N(A x + c,
\operatorname{diag} e^{v})`:

.. math::

    p(x) = \mathcal N(b,\ W W^\top + \sigma^2 I)        \qquad (1)\ \text{marginal}

    p(z|x) = \mathcal N\!\left(M^{-1} W^\top (x - b)/\sigma^2,\ M^{-1}\right),\quad
    M = I + W^\top W / \sigma^2                          \qquad (2)\ \text{posterior}

    \log p(x) - \mathcal L_1(x) = \mathrm{KL}(q(z|x)\,\|\,p(z|x))
                                                         \qquad (3)\ \text{ELBO gap}

    \mathrm{KL}(\mathcal N(m_0, S_0)\|\mathcal N(m_1, S_1)) = \tfrac12\left(
    \operatorname{tr}(S_1^{-1}S_0) + (m_1-m_0)^\top S_1^{-1}(m_1-m_0) - D
    + \log\tfrac{|S_1|}{|S_0|}\right)                    \qquad (4)

The model inherits ELBO, IWAE and the importance-sampled log-likelihood from
:class:`~replearn.vae.model.LatentVariableModel`, so the oracle tests check exactly the
code the VAEs train with. :meth:`optimal_encoder` sets :math:`q` to the diagonal Gaussian
that minimizes (3) (the mean-field solution: the posterior mean, variances :math:`1/M_{jj}`);
its gap is still non-zero unless :math:`M` is diagonal.

Tests: ELBO <= IWAE_k <= log p(x), IWAE_k non-decreasing in k and converging to (1); the
gap (3) against the closed form (4); (1) against ``MultivariateNormal``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.distributions import MultivariateNormal

from replearn.registry import Example, register
from replearn.vae.model import LatentVariableModel
from replearn.vae.objectives import gaussian_log_likelihood

__all__ = ["LinearGaussianVAE", "gaussian_kl_full"]


def gaussian_kl_full(m0: Tensor, s0: Tensor, m1: Tensor, s1: Tensor) -> Tensor:
    r"""Eq. (4): KL between two full-covariance Gaussians.

    Shape:
        m0, m1: (B, D); s0, s1: (B, D, D) or (D, D) -> (B,).
    """
    d = m0.shape[-1]
    s1_inv = torch.linalg.inv(s1)
    diff = (m1 - m0).unsqueeze(-1)  # (B, D, 1)
    trace = torch.diagonal(s1_inv @ s0, dim1=-2, dim2=-1).sum(-1)
    maha = (diff.transpose(-1, -2) @ s1_inv @ diff).squeeze(-1).squeeze(-1)
    logdet = torch.logdet(s1) - torch.logdet(s0)
    return 0.5 * (trace + maha - d + logdet)


@register(
    "vae.linear_gaussian",
    paper="Tipping & Bishop 1999, JRSS-B 61 (probabilistic PCA); Lucas et al. 2019, "
    "arXiv:1911.02469",
    reference="closed-form log p(x), p(z|x) and KL(q||p(z|x)); torch MultivariateNormal",
    example=lambda: Example(LinearGaussianVAE(6, 2), (torch.randn(4, 6),), (4,)),
)
class LinearGaussianVAE(LatentVariableModel):
    """Linear decoder with isotropic Gaussian noise and a linear diagonal-Gaussian encoder.

    Args:
        x_dim: data dimension P.
        z_dim: latent dimension D.
        noise_std: the decoder's :math:`\\sigma` (fixed).

    Shape:
        x: (B, P) -> forward: ELBO per example (B,).
    """

    def __init__(self, x_dim: int, z_dim: int, *, noise_std: float = 0.5) -> None:
        super().__init__()
        for name, value in (("x_dim", x_dim), ("z_dim", z_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if noise_std <= 0:
            raise ValueError(f"noise_std must be > 0, got {noise_std}")
        self.x_dim, self.z_dim, self.noise_std = x_dim, z_dim, float(noise_std)
        self.W = nn.Parameter(torch.randn(x_dim, z_dim) / math.sqrt(z_dim))
        self.b = nn.Parameter(torch.zeros(x_dim))
        self.A = nn.Parameter(torch.randn(z_dim, x_dim) / math.sqrt(x_dim))
        self.c = nn.Parameter(torch.zeros(z_dim))
        self.log_var = nn.Parameter(torch.zeros(z_dim))

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu = x @ self.A.T + self.c  # (B, D)
        return mu, self.log_var.expand_as(mu)

    def log_px_given_z(self, x: Tensor, z: Tensor) -> Tensor:
        mean = z @ self.W.T + self.b  # (k, B, P)
        log_var = torch.full_like(mean, 2.0 * math.log(self.noise_std))
        return gaussian_log_likelihood(x, mean, log_var)

    # -- the exact quantities ---------------------------------------------------------
    def marginal(self) -> MultivariateNormal:
        """Eq. (1): :math:`p(x) = \\mathcal N(b, WW^\\top + \\sigma^2 I)`."""
        cov = self.W @ self.W.T + self.noise_std**2 * torch.eye(self.x_dim, dtype=self.W.dtype)
        return MultivariateNormal(self.b, covariance_matrix=cov)

    def exact_log_likelihood(self, x: Tensor) -> Tensor:
        """Eq. (1) at x (B, P) -> (B,)."""
        return self.marginal().log_prob(x)

    def exact_posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Eq. (2): mean (B, D) and covariance (D, D) of :math:`p(z|x)`."""
        s2 = self.noise_std**2
        m = torch.eye(self.z_dim, dtype=self.W.dtype) + self.W.T @ self.W / s2
        cov = torch.linalg.inv(m)
        mean = (x - self.b) @ self.W @ cov.T / s2
        return mean, cov

    def elbo_gap(self, x: Tensor) -> Tensor:
        """Eq. (3)-(4): :math:`\\mathrm{KL}(q(z|x)\\,\\|\\,p(z|x))` in closed form, (B,)."""
        mu, log_var = self.encode(x)
        mean, cov = self.exact_posterior(x)
        return gaussian_kl_full(mu, torch.diag_embed(torch.exp(log_var)), mean, cov)

    @torch.no_grad()
    def optimal_encoder(self) -> None:
        """Set q's mean to the exact posterior mean and its variances to :math:`1/M_{jj}`."""
        s2 = self.noise_std**2
        m = torch.eye(self.z_dim, dtype=self.W.dtype) + self.W.T @ self.W / s2
        self.A.copy_(torch.linalg.inv(m) @ self.W.T / s2)
        self.c.copy_(-self.A @ self.b)
        self.log_var.copy_(-torch.log(torch.diagonal(m)))

    def extra_repr(self) -> str:
        return f"x_dim={self.x_dim}, z_dim={self.z_dim}, noise_std={self.noise_std}"
