r"""LeNet-5: the convolutional network of LeCun et al. for 32x32 (or 28x28) digit images.

Paper: Y. LeCun, L. Bottou, Y. Bengio & P. Haffner, "Gradient-based learning applied to
document recognition", *Proc. IEEE* 86(11), 1998, §II.B (LeNet-5).

Layers (32x32 input; a 28x28 input is zero-padded by 2 in C1, as is usual for MNIST):

.. math::

    \text{C1: } 6 @ 5{\times}5 \to 6{\times}28{\times}28, \quad
    \text{S2: } 2{\times}2 \text{ average} \to 6{\times}14{\times}14

    \text{C3: } 16 @ 5{\times}5 \to 16{\times}10{\times}10, \quad
    \text{S4: } 2{\times}2 \text{ average} \to 16{\times}5{\times}5

    \text{C5: } 120 @ 5{\times}5 \to 120, \quad \text{F6: } 84, \quad \text{output: } K
                                                                    \qquad (1)\ \text{layers}

with the paper's squashing function after C1, S2's output, C3, C5 and F6:

.. math::

    f(a) = A \tanh(S a), \quad A = 1.7159,\ S = 2/3                  \qquad (2)\ \text{squash}

Parameters (full C3 connectivity, K = 10):
:math:`156 + 2416 + 48120 + 10164 + 850 = 61{,}706`.                \qquad (3)

Deviations (the modern reading, as in most re-implementations): C3 connects to all six
S2 maps (the paper's sparse connection table, its Table I, gives 1,516 weights, not 2,416);
S2/S4 are plain 2x2 averages (the paper multiplies by a trainable coefficient and adds a
trainable bias per map); the output layer is linear with a softmax cross-entropy (the paper
uses Euclidean RBF units on fixed 7x12 bitmaps). ``activation="relu"`` swaps Eq. (2) for
ReLU (used by the ReLU-vs-tanh comparison).

Tests check output shapes for 28x28 and 32x32 inputs, the parameter count (3) in closed
form, Eq. (2) at its fixed points (:math:`f(\pm 1) = \pm 1` to 4 decimals, the paper's
reason for the constants), and each stage's shape.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.registry import Example, register

__all__ = ["LENET_A", "LENET_S", "LeNet5", "lenet5_param_count", "scaled_tanh"]

LENET_A = 1.7159
LENET_S = 2.0 / 3.0


def scaled_tanh(a: Tensor) -> Tensor:
    r"""Eq. (2): :math:`1.7159 \tanh(2a/3)`, chosen so that :math:`f(\pm 1) \approx \pm 1`.

    Shape:
        any -> same.
    """
    return LENET_A * torch.tanh(LENET_S * a)


def lenet5_param_count(num_classes: int = 10, in_channels: int = 1) -> int:
    """Eq. (3): weights and biases of LeNet-5 with full C3 connectivity."""
    c1 = 6 * in_channels * 25 + 6
    c3 = 16 * 6 * 25 + 16
    c5 = 120 * 16 * 25 + 120
    f6 = 84 * 120 + 84
    return c1 + c3 + c5 + f6 + num_classes * 84 + num_classes


def _example() -> Example:
    return Example(LeNet5(num_classes=10, image_size=28), (torch.randn(2, 1, 28, 28),), (2, 10))


@register(
    "fundamentals.lenet5",
    paper="LeCun, Bottou, Bengio & Haffner 1998, Proc. IEEE 86(11)",
    reference="closed-form parameter count (61,706) and stage shapes; f(±1) = ±1",
    example=_example,
)
class LeNet5(nn.Module):
    """LeNet-5 (Eq. 1) for ``image_size`` 28 or 32 and any number of classes.

    Args:
        num_classes: outputs K (logits).
        in_channels: input channels (1 for digits).
        image_size: 32 (the paper) or 28 (padded by 2 in C1).
        activation: ``"scaled_tanh"`` (the paper, Eq. 2), ``"tanh"`` or ``"relu"``.

    Shape:
        (B, C, image_size, image_size) -> (B, num_classes).
    """

    def __init__(
        self,
        *,
        num_classes: int = 10,
        in_channels: int = 1,
        image_size: int = 32,
        activation: str = "scaled_tanh",
    ) -> None:
        super().__init__()
        if num_classes < 1 or in_channels < 1:
            raise ValueError("num_classes and in_channels must be >= 1")
        if image_size not in (28, 32):
            raise ValueError(f"image_size must be 28 or 32, got {image_size}")
        acts = {"scaled_tanh": scaled_tanh, "tanh": torch.tanh, "relu": F.relu}
        if activation not in acts:
            raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(acts)}")
        self.num_classes, self.image_size, self.activation = num_classes, image_size, activation
        self.in_channels = in_channels
        self._act = acts[activation]
        self.c1 = nn.Conv2d(in_channels, 6, 5, padding=2 if image_size == 28 else 0)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.f6 = nn.Linear(120, 84)
        self.out = nn.Linear(84, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """C1 to F6: the 84 features before the output layer.

        Shape:
            (B, C, S, S) -> (B, 84).
        """
        if x.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(f"expected {self.image_size}x{self.image_size} images, got {x.shape}")
        act = self._act
        h = F.avg_pool2d(act(self.c1(x)), 2)  # (B, 6, 14, 14): C1, S2
        h = F.avg_pool2d(act(self.c3(h)), 2)  # (B, 16, 5, 5): C3, S4
        h = act(self.c5(h)).flatten(1)  # (B, 120): C5
        return act(self.f6(h))  # (B, 84): F6

    def forward(self, x: Tensor) -> Tensor:
        """Logits (B, K)."""
        return self.out(self.features(x))

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, image_size={self.image_size}, "
            f"activation={self.activation!r}, "
            f"params={lenet5_param_count(self.num_classes, self.in_channels)}"
        )
