"""Variational autoencoders (course chapter 8): VAE, IWAE, IAF posterior, VRNN.

Modules: ``objectives`` (reparameterization, Gaussian KL, likelihoods, ELBO), ``iwae``
(importance-weighted bound and log-likelihood estimator), ``model`` (the shared latent-variable
base and the MLP ``VAE``), ``linear_gaussian`` (the exact oracle), ``made`` and ``iaf``
(inverse autoregressive flow posterior), ``vrnn`` (variational RNN and the RNN baseline),
``gradients`` (reparameterization vs score-function estimators) and ``diagnostics`` (active
units, intrinsic dimension, sharpness).
"""

from replearn.vae.diagnostics import active_units, image_sharpness, pca_dimension, twonn_dimension
from replearn.vae.gradients import reparameterization_gradient, score_function_gradient
from replearn.vae.iaf import IAFVAE, IAFPosterior, iaf_step
from replearn.vae.iwae import importance_log_likelihood, iwae_bound, log_mean_exp
from replearn.vae.linear_gaussian import LinearGaussianVAE
from replearn.vae.made import MADE
from replearn.vae.model import VAE, ElboTerms, LatentVariableModel
from replearn.vae.objectives import (
    bernoulli_log_likelihood,
    elbo,
    gaussian_kl,
    gaussian_kl_mc,
    gaussian_log_likelihood,
    reparameterize,
)
from replearn.vae.vrnn import VRNN, GaussianRNN, gaussian_kl_diag

__all__ = [
    "IAFVAE",
    "MADE",
    "VAE",
    "VRNN",
    "ElboTerms",
    "GaussianRNN",
    "IAFPosterior",
    "LatentVariableModel",
    "LinearGaussianVAE",
    "active_units",
    "bernoulli_log_likelihood",
    "elbo",
    "gaussian_kl",
    "gaussian_kl_diag",
    "gaussian_kl_mc",
    "gaussian_log_likelihood",
    "iaf_step",
    "image_sharpness",
    "importance_log_likelihood",
    "iwae_bound",
    "log_mean_exp",
    "pca_dimension",
    "reparameterization_gradient",
    "reparameterize",
    "score_function_gradient",
    "twonn_dimension",
]
