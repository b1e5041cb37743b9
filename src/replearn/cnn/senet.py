r"""Squeeze-and-excitation (SE) blocks and SE-ResNet.

Paper: J. Hu, L. Shen, S. Albanie, G. Sun & E. Wu, "Squeeze-and-Excitation Networks",
CVPR 2018 / TPAMI 2019, arXiv:1709.01507.

An SE block recalibrates the channels of a feature map :math:`U \in \mathbb R^{C \times H
\times W}` with weights computed from the map itself:

.. math::

    z_c = \frac{1}{H W} \sum_{i=1}^{H} \sum_{j=1}^{W} u_c(i, j)
                                            \qquad (2)\ \text{squeeze: global average pooling}

    s = \sigma\big(W_2\, \delta(W_1 z)\big),
    \quad W_1 \in \mathbb R^{\frac{C}{r} \times C},\ W_2 \in \mathbb R^{C \times \frac{C}{r}}
                                            \qquad (3)\ \text{excitation}

    \tilde x_c = s_c\, u_c                  \qquad (4)\ \text{scale}

with :math:`\delta` the ReLU, :math:`\sigma` the logistic sigmoid and :math:`r` the reduction
ratio (16 in the paper; Table 10 varies it). The fully connected layers carry biases. In
SE-ResNet (Fig. 3) the block acts on the residual branch, after its last BN and before the sum
with the shortcut: :math:`y = \mathrm{SE}(\mathcal F(x)) + x`. SE-ResNet-50 has "~2.5 million
additional parameters beyond the ~25 million" of ResNet-50 (Sec. 4, model complexity).

Deviations: none in the block; the fully connected layers are 1×1 convolutions on the pooled
``(B, C, 1, 1)`` map (the same maps, and the layout timm and Hugging Face's EfficientNet use),
the bottleneck width is ``max(1, C // r)``. SE-ResNet here is the torchvision-style ResNet of
:mod:`replearn.cnn.resnet` (stride in the 3×3 convolution) with SE blocks.

Tests: Eqs. (2)-(4) against a hand-written float64 reference with ``nn.Linear`` layers and
copied weights; SE-ResNet with the excitation saturated at 1 equals ResNet with the same weights;
SE-ResNet-50's parameter count (28,088,024 at 1000 classes, that of timm's
``legacy_seresnet50``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.cnn.resnet import IMAGENET_CONFIGS, ResNet, cifar_blocks_per_stage
from replearn.registry import Example, register

__all__ = [
    "SEResNet", "SqueezeExcite", "excitation", "scale", "se_resnet18", "se_resnet34",
    "se_resnet50", "se_resnet101", "se_resnet152", "se_resnet_cifar", "squeeze",
]  # fmt: skip


def squeeze(u: Tensor) -> Tensor:
    r"""Eq. (2): :math:`z_c = \frac{1}{HW}\sum_{i,j} u_c(i, j)`, kept as a 1×1 map.

    Shape:
        (B, C, H, W) -> (B, C, 1, 1).
    """
    return u.mean(dim=(2, 3), keepdim=True)


def excitation(
    z: Tensor,
    fc1: Callable[[Tensor], Tensor],
    fc2: Callable[[Tensor], Tensor],
    act: Callable[[Tensor], Tensor] = F.relu,
) -> Tensor:
    r"""Eq. (3): :math:`s = \sigma(W_2\, \delta(W_1 z + b_1) + b_2)`.

    Args:
        z: the squeezed descriptor.
        fc1: :math:`z \mapsto W_1 z + b_1`, from C to C/r channels (a 1×1 convolution here).
        fc2: :math:`h \mapsto W_2 h + b_2`, from C/r back to C channels.
        act: :math:`\delta` (ReLU in the paper, SiLU in EfficientNet).

    Shape:
        z: (B, C, 1, 1) -> s: (B, C, 1, 1), in (0, 1).
    """
    return torch.sigmoid(fc2(act(fc1(z))))


def scale(u: Tensor, s: Tensor) -> Tensor:
    r"""Eq. (4): :math:`\tilde x_c = s_c u_c`.

    Shape:
        u: (B, C, H, W), s: (B, C, 1, 1) -> (B, C, H, W).
    """
    return u * s


class SqueezeExcite(nn.Module):
    """The squeeze-and-excitation block (Fig. 1), Eqs. (2)-(4).

    Args:
        channels: :math:`C`.
        reduction: :math:`r`; the bottleneck has ``max(1, C // r)`` units.
        rd_channels: the bottleneck width directly (overrides ``reduction``).
        act_layer: :math:`\\delta` as a module class (``nn.ReLU``).

    Shape:
        (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(
        self,
        channels: int,
        *,
        reduction: int = 16,
        rd_channels: int | None = None,
        act_layer: Callable[[], nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        if channels < 1 or reduction < 1 or (rd_channels is not None and rd_channels < 1):
            raise ValueError(f"need channels, reduction, rd_channels >= 1: {channels}, {reduction}")
        self.channels = channels
        self.rd_channels = rd_channels or max(1, channels // reduction)
        self.fc1 = nn.Conv2d(channels, self.rd_channels, 1)  # W_1, b_1
        self.act = act_layer()
        self.fc2 = nn.Conv2d(self.rd_channels, channels, 1)  # W_2, b_2

    def forward(self, u: Tensor) -> Tensor:
        z = squeeze(u)  # (B, C, 1, 1), Eq. (2)
        s = excitation(z, self.fc1, self.fc2, self.act)  # (B, C, 1, 1), Eq. (3)
        return scale(u, s)  # (B, C, H, W), Eq. (4)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, rd_channels={self.rd_channels}"


def _example() -> Example:
    kwargs: dict[str, Any] = {"stem": "cifar", "stem_width": 8, "num_classes": 3, "in_chans": 1}
    model = SEResNet((1, 1), (8, 16), reduction=4, **kwargs)
    return Example(model, (torch.randn(2, 1, 12, 12),), (2, 3))


@register(
    "cnn.se_resnet",
    paper="Hu, Shen, Albanie, Sun & Wu 2017, arXiv:1709.01507 (squeeze-and-excitation)",
    reference="float64 reference of Eqs. (2)-(4); ResNet with saturated gates; parameter count",
    example=_example,
)
class SEResNet(ResNet):
    """SE-ResNet: a :class:`~replearn.cnn.resnet.ResNet` with an SE block on every residual branch.

    Args:
        depths: blocks per stage.
        widths: stage output widths.
        reduction: the SE reduction ratio :math:`r` (16 in the paper).
        **kwargs: the other keyword arguments of :class:`~replearn.cnn.resnet.ResNet`
            (``block``, ``num_classes``, ``in_chans``, ``stem``, ...), except ``attn_layer``.

    Shape:
        (B, in_chans, H, W) -> (B, num_classes).
    """

    def __init__(
        self,
        depths: Sequence[int] = (2, 2, 2, 2),
        widths: Sequence[int] = (64, 128, 256, 512),
        *,
        reduction: int = 16,
        **kwargs: Any,
    ) -> None:
        if "attn_layer" in kwargs:
            raise TypeError("SEResNet sets attn_layer itself; use ResNet(attn_layer=...)")
        if isinstance(reduction, bool) or not isinstance(reduction, int) or reduction < 1:
            raise ValueError(f"reduction must be a positive int, got {reduction!r}")
        super().__init__(
            depths, widths, attn_layer=partial(SqueezeExcite, reduction=reduction), **kwargs
        )
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, reduction={self.reduction}"


def _imagenet(depth: int, num_classes: int, in_chans: int, **kwargs: Any) -> SEResNet:
    block, depths, widths = IMAGENET_CONFIGS[depth]
    return SEResNet(
        depths, widths, block=block, num_classes=num_classes, in_chans=in_chans, **kwargs
    )


def se_resnet18(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> SEResNet:
    """SE-ResNet-18: ResNet-18 with SE blocks (r = 16)."""
    return _imagenet(18, num_classes, in_chans, **kwargs)


def se_resnet34(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> SEResNet:
    """SE-ResNet-34: ResNet-34 with SE blocks (r = 16)."""
    return _imagenet(34, num_classes, in_chans, **kwargs)


def se_resnet50(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> SEResNet:
    """SE-ResNet-50: ResNet-50 with SE blocks (r = 16); 28.1M parameters at 1000 classes."""
    return _imagenet(50, num_classes, in_chans, **kwargs)


def se_resnet101(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> SEResNet:
    """SE-ResNet-101: ResNet-101 with SE blocks (r = 16); 49.3M parameters."""
    return _imagenet(101, num_classes, in_chans, **kwargs)


def se_resnet152(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> SEResNet:
    """SE-ResNet-152: ResNet-152 with SE blocks (r = 16); 66.8M parameters."""
    return _imagenet(152, num_classes, in_chans, **kwargs)


def se_resnet_cifar(
    depth: int = 20, num_classes: int = 10, in_chans: int = 3, *, reduction: int = 4, **kwargs: Any
) -> SEResNet:
    """The CIFAR ResNet (6n+2 layers, widths 16/32/64, option A) with SE blocks.

    ``reduction`` defaults to 4 rather than the paper's 16, which would leave a single unit
    in the 16-channel stage. Works on 28×28 Fashion-MNIST with ``in_chans=1``.
    """
    n = cifar_blocks_per_stage(depth)
    kwargs = {"stem": "cifar", "stem_width": 16, "shortcut": "A", **kwargs}
    kwargs |= {"num_classes": num_classes, "in_chans": in_chans, "reduction": reduction}
    return SEResNet((n, n, n), (16, 32, 64), **kwargs)
