"""Diffusion models (course chapter 11): DDPM, DDIM, guidance, networks and discrete diffusion.

Modules: ``schedules`` (linear and cosine noise schedules), ``ddpm`` (forward process,
posterior, L_simple, ancestral sampling, variational bound), ``ddim`` (DDIM sampling and
inversion), ``guidance`` (classifier-free and classifier guidance), ``denoisers`` (time
embedding, MLP denoiser), ``unet`` (a small U-Net), ``gaussian_diffusion`` (the module
tying them together) and ``d3pm`` (discrete diffusion with uniform and absorbing
transitions).
"""

from replearn.diffusion.ddim import ddim_invert, ddim_sample, ddim_step, ddim_timesteps
from replearn.diffusion.ddpm import (
    ancestral_sample,
    ancestral_step,
    l_simple,
    q_posterior,
    q_sample,
    vlb_bits_per_dim,
    vlb_terms,
)
from replearn.diffusion.denoisers import MLPDenoiser, timestep_embedding
from replearn.diffusion.gaussian_diffusion import GaussianDiffusion
from replearn.diffusion.guidance import NoisyClassifier, cfg_eps, classifier_guided_eps
from replearn.diffusion.schedules import NoiseSchedule, alpha_bar, cosine_betas, linear_betas
from replearn.diffusion.unet import UNet

__all__ = [
    "GaussianDiffusion",
    "MLPDenoiser",
    "NoiseSchedule",
    "NoisyClassifier",
    "UNet",
    "alpha_bar",
    "ancestral_sample",
    "ancestral_step",
    "cfg_eps",
    "classifier_guided_eps",
    "cosine_betas",
    "ddim_invert",
    "ddim_sample",
    "ddim_step",
    "ddim_timesteps",
    "l_simple",
    "linear_betas",
    "q_posterior",
    "q_sample",
    "timestep_embedding",
    "vlb_bits_per_dim",
    "vlb_terms",
]
