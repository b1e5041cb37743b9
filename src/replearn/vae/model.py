r"""The variational autoencoder: a Gaussian encoder, a Bernoulli or Gaussian decoder, N(0, I) prior.

Paper: D. P. Kingma & M. Welling, "Auto-encoding variational Bayes", ICLR 2014,
arXiv:1312.6114 (Appendix C: MLP encoder and decoder); IWAE objective and evaluation:
Burda, Grosse & Salakhutdinov 2016, arXiv:1509.00519.

:class:`LatentVariableModel` holds what every model of this package shares, written once
over three pieces a subclass supplies: the posterior sampler :math:`z \sim q(z|x)` with
:math:`\log q(z|x)`, the decoder's :math:`\log p(x|z)` and the prior :math:`p(z) =
\mathcal N(0, I)`:

.. math::

    \mathcal L_\beta(x) = \mathbb E_q[\log p(x|z)] - \beta\,\mathrm{KL}(q(z|x)\,\|\,p(z))
                                                    \qquad (1)\ \text{ELBO (objectives Eq. 6)}

    \mathcal L_k(x) = \log \tfrac1k \textstyle\sum_i p(x|z_i)p(z_i)/q(z_i|x)
                                                    \qquad (2)\ \text{IWAE (iwae Eq. 2)}

    \log p(x) \approx \mathcal L_{5000}(x)          \qquad (3)\ \text{evaluation}

:class:`VAE` is the model of the paper: encoder MLP :math:`x \mapsto (\mu, \log\sigma^2)`,
decoder MLP :math:`z \mapsto` Bernoulli logits (binary data) or a Gaussian mean and
:math:`\log s^2` (real data). Deviation: ReLU hidden units by default (the paper used tanh);
``activation="tanh"`` restores it.

Tests: the ELBO with the analytic and the Monte-Carlo KL agree; ELBO <= IWAE_k and the
chunked estimator in the linear-Gaussian oracle (same base class), gradients reach every
parameter, validation errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from replearn.fundamentals.mlp import MLP
from replearn.registry import Example, register
from replearn.vae.iwae import importance_log_likelihood, iwae_bound, log_importance_weights
from replearn.vae.objectives import (
    bernoulli_log_likelihood,
    elbo,
    gaussian_kl,
    gaussian_log_likelihood,
    log_normal_diag,
    log_standard_normal,
    reparameterize,
)

__all__ = ["VAE", "ElboTerms", "LatentVariableModel"]


class ElboTerms(NamedTuple):
    """Per-example terms of Eq. (1): ``elbo = log_px_z - beta * kl`` (each (B,))."""

    elbo: Tensor
    log_px_z: Tensor
    kl: Tensor


class LatentVariableModel(nn.Module):
    """Shared ELBO / IWAE / log-likelihood over ``sample_posterior`` and ``log_px_given_z``.

    Subclasses define :meth:`sample_posterior` and :meth:`log_px_given_z`; a subclass with a
    diagonal Gaussian posterior defines :meth:`encode` and inherits the rest.
    ``forward(x)`` returns the per-example ELBO (B,).
    """

    z_dim: int

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu, log_var)`` of a diagonal Gaussian :math:`q(z|x)`, each (B, D)."""
        raise NotImplementedError(f"{type(self).__name__} has no diagonal Gaussian encoder")

    def sample_posterior(self, x: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """``(z, log_q)``: k reparameterized samples (k, B, D) and :math:`\\log q(z|x)` (k, B)."""
        mu, log_var = self.encode(x)  # (B, D) each
        eps = torch.randn((k, *mu.shape), dtype=mu.dtype, device=mu.device)
        z = reparameterize(mu, log_var, eps=eps)  # (k, B, D)
        return z, log_normal_diag(z, mu, log_var)

    def log_px_given_z(self, x: Tensor, z: Tensor) -> Tensor:
        """:math:`\\log p(x|z)` for x (B, ...) and z (k, B, D) -> (k, B)."""
        raise NotImplementedError(f"{type(self).__name__} must define log_px_given_z")

    def log_prior(self, z: Tensor) -> Tensor:
        """:math:`\\log p(z)` with the standard normal prior, (k, B, D) -> (k, B)."""
        return log_standard_normal(z)

    def log_weights(self, x: Tensor, k: int) -> Tensor:
        """Log importance weights of k posterior samples, (k, B)."""
        z, log_q = self.sample_posterior(x, k)
        return log_importance_weights(self.log_px_given_z(x, z), self.log_prior(z), log_q)

    def elbo(
        self, x: Tensor, *, beta: float = 1.0, kl: Literal["analytic", "mc"] = "analytic"
    ) -> ElboTerms:
        """Eq. (1) with one posterior sample; ``kl`` picks the analytic (Gaussian q only) or
        Monte-Carlo KL (the same sample)."""
        if kl == "analytic":
            mu, log_var = self.encode(x)
            z = reparameterize(mu, log_var).unsqueeze(0)  # (1, B, D)
            kl_term = gaussian_kl(mu, log_var)  # (B,)
        elif kl == "mc":
            z, log_q = self.sample_posterior(x, 1)
            kl_term = (log_q - self.log_prior(z)).squeeze(0)
        else:
            raise ValueError(f"kl must be 'analytic' or 'mc', got {kl!r}")
        log_px_z = self.log_px_given_z(x, z).squeeze(0)  # (B,)
        return ElboTerms(elbo(log_px_z, kl_term, beta=beta), log_px_z, kl_term)

    def iwae(self, x: Tensor, k: int) -> Tensor:
        """Eq. (2), one draw per example (B,); differentiable (the IWAE training objective)."""
        return iwae_bound(self.log_weights(x, k))

    @torch.no_grad()
    def log_likelihood(self, x: Tensor, k: int = 5000, *, chunk: int = 500) -> Tensor:
        """Eq. (3): importance-sampled :math:`\\log p(x)` with k samples in chunks (B,)."""
        return importance_log_likelihood(lambda n: self.log_weights(x, n), k, chunk=chunk)

    def forward(self, x: Tensor) -> Tensor:
        return self.elbo(x).elbo


def _check_dims(**dims: int) -> None:
    for name, value in dims.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


@register(
    "vae.vae",
    paper="Kingma & Welling 2014, arXiv:1312.6114",
    reference="analytic vs Monte-Carlo KL; linear-Gaussian oracle (exact log p(x))",
    example=lambda: Example(VAE(12, 3, hidden=(16,)), (torch.rand(5, 12).round(),), (5,)),
)
class VAE(LatentVariableModel):
    """MLP encoder and decoder, standard normal prior (see the module docstring).

    Args:
        x_dim: data dimension (inputs are flattened to (B, x_dim)).
        z_dim: latent dimension.
        hidden: hidden widths of the encoder; the decoder mirrors them.
        likelihood: ``"bernoulli"`` (binary data, decoder gives logits) or ``"gaussian"``
            (decoder gives a mean and a per-pixel :math:`\\log s^2`).
        activation: hidden non-linearity of both MLPs.

    Shape:
        x: (B, *) with prod(*) = x_dim -> forward: ELBO per example (B,).
    """

    def __init__(
        self,
        x_dim: int,
        z_dim: int,
        *,
        hidden: Sequence[int] = (200, 200),
        likelihood: Literal["bernoulli", "gaussian"] = "bernoulli",
        activation: str = "relu",
    ) -> None:
        super().__init__()
        _check_dims(x_dim=x_dim, z_dim=z_dim)
        if likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}")
        self.x_dim, self.z_dim, self.likelihood = x_dim, z_dim, likelihood
        self.hidden = tuple(hidden)
        out = x_dim if likelihood == "bernoulli" else 2 * x_dim
        self.encoder = MLP(x_dim, self.hidden, 2 * z_dim, activation=activation, flatten=False)
        self.decoder = MLP(z_dim, self.hidden[::-1], out, activation=activation, flatten=False)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, log_var = self.encoder(x.flatten(1)).chunk(2, dim=-1)  # (B, D) each
        return mu, log_var

    def decoder_params(self, z: Tensor) -> tuple[Tensor, Tensor | None]:
        """Bernoulli logits (and None) or the Gaussian (mean, log s^2), each (*, x_dim)."""
        out = self.decoder(z)
        if self.likelihood == "bernoulli":
            return out, None
        mean, log_var = out.chunk(2, dim=-1)
        return mean, log_var

    def log_px_given_z(self, x: Tensor, z: Tensor) -> Tensor:
        x = x.flatten(1)  # (B, x_dim), broadcast against (k, B, x_dim)
        a, b = self.decoder_params(z)
        if b is None:
            return bernoulli_log_likelihood(x, a)
        return gaussian_log_likelihood(x, a, b)

    def decode_mean(self, z: Tensor) -> Tensor:
        """The decoder's mean :math:`\\mathbb E[x|z]` (Bernoulli: sigmoid of the logits)."""
        a, _ = self.decoder_params(z)
        return torch.sigmoid(a) if self.likelihood == "bernoulli" else a

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """Decoder means of n draws of the prior, (n, x_dim)."""
        p = next(self.parameters())
        z = torch.randn(n, self.z_dim, generator=generator, dtype=p.dtype).to(p.device)
        return self.decode_mean(z)

    def extra_repr(self) -> str:
        return (
            f"x_dim={self.x_dim}, z_dim={self.z_dim}, hidden={self.hidden}, "
            f"likelihood={self.likelihood!r}"
        )
