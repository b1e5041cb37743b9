r"""Normalization layers and weight reparametrizations, drop-in for their ``torch.nn`` twins.

Which axes the statistics are taken over, for an input :math:`x \in
\mathbb{R}^{B \times C \times F}` (batch, channels, features: :math:`F = HW`
for images; a (B, T, D) sequence is normalized over D per (b, t)):

==============  =========================  ============================  ============
layer           statistics over            one statistic per             parameters
==============  =========================  ============================  ============
BatchNorm       (B, F)                     channel c                     2C
LayerNorm       (C, F)                     example b                     2D (D=CF)
RMSNorm         (C, F), no mean            example b                     D
InstanceNorm    (F)                        (b, c)                        2C (affine)
GroupNorm       (C/G, F)                   (b, group g)                  2C
==============  =========================  ============================  ============

Only BatchNorm mixes examples (and so needs running statistics for eval);
the others give the same output for an example alone or inside a batch.
:func:`weight_norm` and :func:`spectral_norm` normalize *weights* instead of
activations: :math:`w = g v / \|v\|` and :math:`W / \sigma(W)`.

Every layer has a readable reference path (explicit moments) and, with
``fast=True``, a fused path of the same signature tested equal to it (see each
module's docstring for what the fast path is and what it gains).
"""

from replearn.norm.batchnorm import BatchNorm1d, BatchNorm2d, batch_norm, batch_norm_fast
from replearn.norm.groupnorm import GroupNorm, group_norm, group_norm_fast
from replearn.norm.instancenorm import (
    InstanceNorm1d,
    InstanceNorm2d,
    instance_norm,
    instance_norm_fast,
)
from replearn.norm.layernorm import (
    LayerNorm,
    RMSNorm,
    layer_norm,
    layer_norm_fast,
    rms_norm,
    rms_norm_fast,
)
from replearn.norm.spectral_norm import SpectralNorm, spectral_norm
from replearn.norm.standardize import Standardize, standardize
from replearn.norm.weight_norm import WeightNorm, weight_norm

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "LayerNorm",
    "RMSNorm",
    "SpectralNorm",
    "Standardize",
    "WeightNorm",
    "batch_norm",
    "batch_norm_fast",
    "group_norm",
    "group_norm_fast",
    "instance_norm",
    "instance_norm_fast",
    "layer_norm",
    "layer_norm_fast",
    "rms_norm",
    "rms_norm_fast",
    "spectral_norm",
    "standardize",
    "weight_norm",
]
