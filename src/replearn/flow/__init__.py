r"""Normalizing flows: exact likelihoods by the change of variables.

:math:`\log p_X(x) = \log p_Z(f(x)) + \log|\det \partial f(x)/\partial x|` with
:math:`f` the invertible map from data to latent (:mod:`replearn.flow.base`).
``Flow.forward(x)`` returns ``(z, log_det)``, ``Flow.inverse(z)`` returns ``x``,
``log_prob(x)`` and ``sample(n)`` follow; :class:`FlowChain` composes flows (their
log-determinants add).

- :class:`PlanarFlow` (Rezende & Mohamed 2015): closed-form log-determinant.
- :class:`RealNVP` (Dinh et al. 2017): affine couplings, checkerboard / channel masks,
  squeeze, multi-scale.
- :class:`Glow` (Kingma & Dhariwal 2018): ActNorm, invertible 1x1 convolution (LU),
  affine coupling, multi-scale.
- :class:`IResNet` (Behrmann et al. 2019): spectrally normalized residual blocks,
  fixed-point inverse, power-series log-determinant with Hutchinson's estimator.
"""

from replearn.flow.base import (
    Flow,
    FlowChain,
    chain_log_det,
    change_of_variables_log_prob,
    standard_normal_log_prob,
)
from replearn.flow.coupling import AffineCoupling, channel_mask, checkerboard_mask, half_mask
from replearn.flow.dequantize import LogitTransform, bits_per_dim, uniform_dequantize
from replearn.flow.glow import Glow
from replearn.flow.glow_layers import ActNorm, InvConv1x1, Permutation
from replearn.flow.iresnet import (
    IResNet,
    IResNetBlock,
    exact_residual_log_det,
    fixed_point_inverse,
    power_series_log_det,
)
from replearn.flow.multiscale import MultiScale, Squeeze, squeeze, unsqueeze
from replearn.flow.planar import PlanarFlow, PlanarLayer
from replearn.flow.realnvp import RealNVP

__all__ = [
    "ActNorm",
    "AffineCoupling",
    "Flow",
    "FlowChain",
    "Glow",
    "IResNet",
    "IResNetBlock",
    "InvConv1x1",
    "LogitTransform",
    "MultiScale",
    "Permutation",
    "PlanarFlow",
    "PlanarLayer",
    "RealNVP",
    "Squeeze",
    "bits_per_dim",
    "chain_log_det",
    "change_of_variables_log_prob",
    "channel_mask",
    "checkerboard_mask",
    "exact_residual_log_det",
    "fixed_point_inverse",
    "half_mask",
    "power_series_log_det",
    "squeeze",
    "standard_normal_log_prob",
    "uniform_dequantize",
    "unsqueeze",
]
