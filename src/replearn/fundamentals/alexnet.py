r"""An AlexNet-style network for small images: ReLU, local response normalization,
overlapping max pooling and dropout, scaled down to 32x32 inputs.

Paper: A. Krizhevsky, I. Sutskever & G. E. Hinton, "ImageNet classification with deep
convolutional neural networks", *NeurIPS* 2012 (AlexNet).

Five convolutions and three fully connected layers, ReLU after each (§3.1), local
response normalization after the first two convolutions (§3.3), overlapping max
pooling (3x3 windows, stride 2, §3.4) after conv1, conv2 and conv5, dropout 0.5 before
the two hidden fully connected layers (§4.2). Local response normalization, with the
sum over the :math:`n` adjacent channels :math:`j \in [i - n/2, i + n/2]` (clipped):

.. math::

    b^i_{x,y} = a^i_{x,y} \Big/ \Big(k + \alpha \sum_j (a^j_{x,y})^2\Big)^\beta,
    \quad k = 2,\ n = 5,\ \alpha = 10^{-4},\ \beta = 0.75          \qquad (1)\ \text{LRN}

Overlapping pooling with window :math:`z = 3` and stride :math:`s = 2` maps a side
:math:`H` to :math:`\lfloor (H - 3)/2 \rfloor + 1`.                \qquad (2)

Deviations (small-image version): 32x32 inputs (the paper: 224x224, conv1 11x11 stride 4);
conv1 is 5x5 stride 1 with padding 2; channel widths are ``width * (1, 3, 6, 4, 4)``
(the paper: 96, 256, 384, 384, 256 = 96 * (1, 2.7, 4, 4, 2.7)) and the fully connected
layers ``fc`` wide (the paper: 4096); one tower, no split over two GPUs.

Tests check :func:`local_response_norm` against ``torch.nn.functional.local_response_norm``
(which divides :math:`\alpha` by :math:`n`) in float64, the stage shapes of Eq. (2), and
the output shape.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.registry import Example, register

__all__ = ["AlexNetSmall", "local_response_norm", "overlap_pool_size"]


def local_response_norm(
    a: Tensor, *, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0
) -> Tensor:
    r"""Eq. (1): divide each activation by a power of the summed squares of nearby channels.

    Shape:
        (B, C, H, W) -> (B, C, H, W).
    """
    if a.ndim != 4:
        raise ValueError(f"expected (B, C, H, W), got {tuple(a.shape)}")
    sq = a.pow(2).unsqueeze(1)  # (B, 1, C, H, W)
    before, after = size // 2, (size - 1) // 2
    sq = F.pad(sq, (0, 0, 0, 0, before, after))  # pad the channel axis with zeros
    window_sum = F.avg_pool3d(sq, (size, 1, 1), stride=1).squeeze(1) * size  # (B, C, H, W)
    return a / (k + alpha * window_sum).pow(beta)


def overlap_pool_size(h: int, window: int = 3, stride: int = 2) -> int:
    """Eq. (2): output side of overlapping max pooling without padding."""
    if h < window:
        raise ValueError(f"input side {h} is smaller than the window {window}")
    return (h - window) // stride + 1


def _example() -> Example:
    return Example(
        AlexNetSmall(num_classes=10, width=4, fc=32), (torch.randn(2, 3, 32, 32),), (2, 10)
    )


@register(
    "fundamentals.alexnet_small",
    paper="Krizhevsky, Sutskever & Hinton 2012, NeurIPS (AlexNet)",
    reference="F.local_response_norm (alpha scaled by n), float64; stage shapes of Eq. (2)",
    example=_example,
)
class AlexNetSmall(nn.Module):
    """AlexNet's design (ReLU, LRN, overlapping pooling, dropout) for 32x32 images.

    Args:
        num_classes: outputs K.
        in_channels: input channels.
        image_size: side of the square input (>= 16; 32 for CIFAR-sized images).
        width: base channel count; the convolutions have ``width * (1, 3, 6, 4, 4)``.
        fc: width of the two hidden fully connected layers.
        dropout: drop probability before each hidden fully connected layer.
        lrn: use local response normalization (Eq. 1) after conv1 and conv2.

    Shape:
        (B, C, S, S) -> (B, num_classes).
    """

    def __init__(
        self,
        *,
        num_classes: int = 10,
        in_channels: int = 3,
        image_size: int = 32,
        width: int = 16,
        fc: int = 256,
        dropout: float = 0.5,
        lrn: bool = True,
    ) -> None:
        super().__init__()
        if min(num_classes, in_channels, width, fc) < 1:
            raise ValueError("num_classes, in_channels, width and fc must be >= 1")
        if image_size < 16:
            raise ValueError(f"image_size must be >= 16, got {image_size}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.num_classes, self.image_size, self.width, self.fc_width = (
            num_classes, image_size, width, fc,
        )  # fmt: skip
        self.dropout, self.lrn = dropout, lrn
        c1, c2, c3, c4, c5 = (width * m for m in (1, 3, 6, 4, 4))
        self.conv1 = nn.Conv2d(in_channels, c1, 5, padding=2)
        self.conv2 = nn.Conv2d(c1, c2, 5, padding=2)
        self.conv3 = nn.Conv2d(c2, c3, 3, padding=1)
        self.conv4 = nn.Conv2d(c3, c4, 3, padding=1)
        self.conv5 = nn.Conv2d(c4, c5, 3, padding=1)
        side = overlap_pool_size(overlap_pool_size(overlap_pool_size(image_size)))
        self.fc1 = nn.Linear(c5 * side * side, fc)
        self.fc2 = nn.Linear(fc, fc)
        self.fc3 = nn.Linear(fc, num_classes)

    def _norm(self, h: Tensor) -> Tensor:
        return local_response_norm(h) if self.lrn else h

    def forward(self, x: Tensor) -> Tensor:
        """Logits (B, K)."""
        if x.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(f"expected {self.image_size}x{self.image_size} images, got {x.shape}")
        h = F.max_pool2d(self._norm(F.relu(self.conv1(x))), 3, 2)  # (B, c1, 15, 15)
        h = F.max_pool2d(self._norm(F.relu(self.conv2(h))), 3, 2)  # (B, c2, 7, 7)
        h = F.relu(self.conv3(h))
        h = F.relu(self.conv4(h))
        h = F.max_pool2d(F.relu(self.conv5(h)), 3, 2).flatten(1)  # (B, c5 * 3 * 3)
        h = F.relu(self.fc1(F.dropout(h, self.dropout, self.training)))
        h = F.relu(self.fc2(F.dropout(h, self.dropout, self.training)))
        return self.fc3(h)

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, image_size={self.image_size}, width={self.width}, "
            f"fc={self.fc_width}, dropout={self.dropout}, lrn={self.lrn}"
        )
