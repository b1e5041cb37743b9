"""Convolutions from scratch (the verified reference of the course), as functions and modules.

- :mod:`~replearn.cnn.layers.functional`: im2col, ``conv1d``, ``conv2d``, ``conv_transpose2d``,
  ``depthwise_separable_conv2d``, ``causal_conv1d`` (the equations, in the module docstring).
- :mod:`~replearn.cnn.layers.modules`: ``Conv1d``, ``Conv2d``, ``ConvTranspose2d``,
  ``DepthwiseSeparableConv2d``, ``CausalConv1d`` (drop-ins for ``torch.nn``).
"""

from replearn.cnn.layers.functional import (
    IntOrTuple,
    Padding,
    causal_conv1d,
    conv1d,
    conv2d,
    conv_transpose2d,
    depthwise_separable_conv2d,
    im2col,
    pad,
    to_tuple,
)
from replearn.cnn.layers.modules import (
    CausalConv1d,
    Conv1d,
    Conv2d,
    ConvTranspose2d,
    DepthwiseSeparableConv2d,
)

__all__ = [
    "CausalConv1d",
    "Conv1d",
    "Conv2d",
    "ConvTranspose2d",
    "DepthwiseSeparableConv2d",
    "IntOrTuple",
    "Padding",
    "causal_conv1d",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "depthwise_separable_conv2d",
    "im2col",
    "pad",
    "to_tuple",
]
