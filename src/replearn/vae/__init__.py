"""Variational autoencoders (course chapter 8): VAE, IWAE, IAF posterior, VRNN.

Modules: ``objectives`` (reparameterization, Gaussian KL, likelihoods, ELBO), ``iwae``
(importance-weighted bound and log-likelihood estimator), ``model`` (the shared latent-variable
base and the MLP ``VAE``), ``linear_gaussian`` (the exact oracle), ``made`` and ``iaf``
(inverse autoregressive flow posterior), ``vrnn`` (variational RNN and the RNN baseline),
``gradients`` (reparameterization vs score-function estimators) and ``diagnostics`` (active
units, intrinsic dimension, sharpness).
"""

from replearn.vae.iwae import importance_log_likelihood, iwae_bound, log_mean_exp
from replearn.vae.linear_gaussian import LinearGaussianVAE
from replearn.vae.model import VAE, ElboTerms, LatentVariableModel
from replearn.vae.objectives import (
    bernoulli_log_likelihood,
    elbo,
    gaussian_kl,
    gaussian_kl_mc,
    gaussian_log_likelihood,
    reparameterize,
)

__all__ = [
    "VAE",
    "ElboTerms",
    "LatentVariableModel",
    "LinearGaussianVAE",
    "bernoulli_log_likelihood",
    "elbo",
    "gaussian_kl",
    "gaussian_kl_mc",
    "gaussian_log_likelihood",
    "importance_log_likelihood",
    "iwae_bound",
    "log_mean_exp",
    "reparameterize",
]
