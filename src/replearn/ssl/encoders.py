"""Backbones and heads shared by the self-supervised methods.

* :class:`ConvEncoder`: a small convolutional backbone for 1-D signals (B, 1, L) -- the
  three-layer ``ConvBase`` of the MNIST-1D paper (Greydanus 2020, arXiv:2011.14439), kernel 5,
  stride 2 -- or for images (B, C, H, W) with 2-D convolutions; it ends on a ReLU feature
  layer, the representation that probes read.
* :func:`projection_mlp`: SimCLR's / BYOL's / Barlow Twins' projection head (Linear, BatchNorm,
  ReLU, ..., Linear), with :class:`replearn.norm.BatchNorm1d`.

Tests: output shapes for signals and images; a gradient reaches every parameter (registry).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from replearn.norm import BatchNorm1d
from replearn.registry import Example, register

__all__ = ["ConvEncoder", "projection_mlp"]


def _example() -> Example:
    return Example(ConvEncoder((1, 40), width=8, features=16), (torch.randn(3, 1, 40),), (3, 16))


@register(
    "ssl.conv_encoder",
    paper="Greydanus 2020, arXiv:2011.14439 (MNIST-1D ConvBase)",
    reference="shapes for 1-D and 2-D inputs; gradients (registry tests)",
    example=_example,
)
class ConvEncoder(nn.Module):
    """Three stride-2 convolutions (kernel 5 for signals, 3 for images), ReLU, a linear layer.

    Args:
        input_shape: (C, L) for signals or (C, H, W) for images.
        width: channels of every convolution.
        features: size of the output representation (after a final ReLU).

    Shape:
        (B, C, L) or (B, C, H, W) (a (B, L) signal is given a channel) -> (B, features).
    """

    def __init__(self, input_shape: Sequence[int], *, width: int = 32, features: int = 128) -> None:
        super().__init__()
        if len(input_shape) not in (2, 3) or min(input_shape) < 1 or min(width, features) < 1:
            raise ValueError(f"input_shape must be (C, L) or (C, H, W), got {tuple(input_shape)}")
        self.input_shape, self.width, self.features = tuple(input_shape), width, features
        two_d = len(input_shape) == 3
        conv = nn.Conv2d if two_d else nn.Conv1d
        k = 3 if two_d else 5
        c, sizes = input_shape[0], list(input_shape[1:])
        layers: list[nn.Module] = []
        for i in range(3):
            layers += [conv(c if i == 0 else width, width, k, stride=2, padding=k // 2), nn.ReLU()]
            sizes = [(s + 2 * (k // 2) - k) // 2 + 1 for s in sizes]
        self.convs = nn.Sequential(*layers)
        self.fc = nn.Linear(width * math.prod(sizes), features)
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        if len(self.input_shape) == 2 and x.ndim == 2:
            x = x[:, None]  # (B, 1, L)
        return self.act(self.fc(self.convs(x).flatten(1)))  # (B, features)

    def extra_repr(self) -> str:
        return f"input_shape={self.input_shape}, width={self.width}, features={self.features}"


def projection_mlp(
    in_dim: int, hidden: int, out_dim: int, *, layers: int = 2, last_bn: bool = False
) -> nn.Sequential:
    """``layers`` linear layers with BatchNorm + ReLU between them (SimCLR / BYOL heads).

    ``last_bn`` adds an affine-free BatchNorm after the last layer (SimCLR v2, Barlow Twins'
    standardization lives in the loss instead).

    Shape:
        (B, in_dim) -> (B, out_dim).
    """
    if layers < 1:
        raise ValueError(f"layers must be >= 1, got {layers}")
    mods: list[nn.Module] = []
    width = in_dim
    for _ in range(layers - 1):
        mods += [nn.Linear(width, hidden), BatchNorm1d(hidden, fast=True), nn.ReLU()]
        width = hidden
    mods.append(nn.Linear(width, out_dim))
    if last_bn:
        mods.append(BatchNorm1d(out_dim, affine=False, fast=True))
    return nn.Sequential(*mods)
