r"""Deep residual networks (ResNet) and the plain networks they are compared with.

Paper: K. He, X. Zhang, S. Ren & J. Sun, "Deep Residual Learning for Image Recognition",
CVPR 2016, arXiv:1512.03385.

A building block learns a residual :math:`\mathcal F` on top of a shortcut, then applies a ReLU:

.. math::

    y = \mathcal F(x, \{W_i\}) + x          \qquad (1)\ \text{identity shortcut}

    y = \mathcal F(x, \{W_i\}) + W_s x      \qquad (2)\ \text{projection shortcut}

The *basic* block is :math:`\mathcal F = \mathrm{BN}(W_2\, \sigma(\mathrm{BN}(W_1 x)))` with two
3×3 convolutions; the *bottleneck* block is 1×1 (reduce to :math:`C/4`) -> 3×3 -> 1×1 (back to
:math:`C`), each convolution followed by batch normalization. Where the shape changes the
shortcut is option A (identity, subsampled, extra channels zero-padded: no parameters), B (the
projection :math:`W_s` of Eq. 2, a strided 1×1 convolution + BN) or C (projections everywhere),
Sec. 3.3 and Table 3.

Table 1 (ImageNet): a 7×7/2 convolution and a 3×3/2 max-pool, then four stages, each after the
first halving the resolution, of widths 64-512 (basic) or 256-2048 (bottleneck): depths
18 = (2,2,2,2), 34 = (3,4,6,3) basic; 50 = (3,4,6,3), 101 = (3,4,23,3), 152 = (3,8,36,3)
bottleneck; global average pooling and a linear classifier.
Sec. 4.2 (CIFAR): a 3×3 convolution with 16 filters, three stages of :math:`n` basic blocks at
widths 16, 32, 64, so :math:`6n + 2` layers (20, 32, 44, 56, 110), option-A shortcuts.
The *plain* networks (Fig. 3, middle) are the same stacks without any shortcut: the degradation
problem is that plain-34 trains to a higher error than plain-18 while ResNet-34 beats ResNet-18.

Deviations: the bottleneck strides in its 3×3 convolution ("ResNet v1.5", as torchvision, timm
and Hugging Face do); ``downsample_in_bottleneck=True`` strides in the first 1×1 as the paper
does. Option-A padding appends the zero channels after the input ones.

Tests: :meth:`ResNet.from_hf` against ``transformers`` ``ResNetModel`` /
``ResNetForImageClassification`` with copied weights (several configurations, atol 1e-5); the
published parameter counts (ResNet-18 11,689,512; ResNet-50 25,557,032; CIFAR ResNet-20 0.27M).

See docs/corrections.md#cnns (ResNet's motivation is the degradation problem).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.norm.batchnorm import BatchNorm2d
from replearn.registry import Example, register

__all__ = [
    "IMAGENET_CONFIGS", "BasicBlock", "Bottleneck", "PlainNet", "ResNet", "cifar_blocks_per_stage",
    "pad_shortcut", "plainnet18", "plainnet34", "plainnet_cifar", "resnet18", "resnet34",
    "resnet50", "resnet101", "resnet152", "resnet_cifar",
]  # fmt: skip

IMAGENET_CONFIGS: dict[int, tuple[str, tuple[int, ...], tuple[int, ...]]] = {
    18: ("basic", (2, 2, 2, 2), (64, 128, 256, 512)),
    34: ("basic", (3, 4, 6, 3), (64, 128, 256, 512)),
    50: ("bottleneck", (3, 4, 6, 3), (256, 512, 1024, 2048)),
    101: ("bottleneck", (3, 4, 23, 3), (256, 512, 1024, 2048)),
    152: ("bottleneck", (3, 8, 36, 3), (256, 512, 1024, 2048)),
}
"""Table 1: depth -> (block, blocks per stage, stage output widths)."""


def pad_shortcut(x: Tensor, out_channels: int, stride: int) -> Tensor:
    r"""Option A: :math:`s(x)_{c,i,j} = x_{c,\,si,\,sj}` for :math:`c < C_{in}`, else 0.

    Shape:
        (B, C_in, H, W) -> (B, out_channels, ceil(H / stride), ceil(W / stride)).
    """
    x = x[:, :, ::stride, ::stride]  # (B, C_in, H', W')
    return F.pad(x, (0, 0, 0, 0, 0, out_channels - x.shape[1]))


def cifar_blocks_per_stage(depth: int) -> int:
    """Sec. 4.2: a CIFAR ResNet of ``depth = 6n + 2`` layers has ``n`` basic blocks per stage."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"a CIFAR ResNet has depth 6n + 2 (20, 32, 44, 56, 110), got {depth!r}")
    return (depth - 2) // 6


class _PadShortcut(nn.Module):
    """Option A shortcut as a module (no parameters)."""

    def __init__(self, out_channels: int, stride: int) -> None:
        super().__init__()
        self.out_channels, self.stride = out_channels, stride

    def forward(self, x: Tensor) -> Tensor:
        return pad_shortcut(x, self.out_channels, self.stride)


def _shortcut(in_chs: int, out_chs: int, stride: int, kind: str | None) -> nn.Module | None:
    """The shortcut of Eq. (1)/(2) for option ``kind``; None for a plain block."""
    if kind is None:
        return None
    if kind != "C" and in_chs == out_chs and stride == 1:
        return nn.Identity()  # Eq. (1)
    if kind == "A":
        if out_chs < in_chs:
            raise ValueError(f"option A cannot reduce channels ({in_chs} -> {out_chs})")
        return _PadShortcut(out_chs, stride)
    conv = nn.Conv2d(in_chs, out_chs, 1, stride, bias=False)  # W_s of Eq. (2)
    return nn.Sequential(OrderedDict(conv=conv, bn=BatchNorm2d(out_chs, fast=True)))


class BasicBlock(nn.Module):
    """Two 3×3 convolution + BN layers and a shortcut (Fig. 2); the ReLU after the sum.

    Args:
        in_chs: input channels.
        out_chs: output channels.
        stride: stride of the first convolution (2 halves the resolution).
        shortcut: ``"A"``, ``"B"``, ``"C"``, or None for a plain block (no shortcut at all).
        act_layer: the non-linearity class.
        attn_layer: optional ``attn_layer(out_chs)`` on the residual branch before the sum
            (squeeze-and-excitation, :mod:`replearn.cnn.senet`).

    Shape:
        (B, in_chs, H, W) -> (B, out_chs, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        stride: int = 1,
        shortcut: str | None = "B",
        act_layer: Callable[[], nn.Module] = nn.ReLU,
        attn_layer: Callable[[int], nn.Module] | None = None,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_chs, out_chs, 3, stride, 1, bias=False)
        self.bn1, self.act1 = BatchNorm2d(out_chs, fast=True), act_layer()
        self.conv2 = nn.Conv2d(out_chs, out_chs, 3, 1, 1, bias=False)
        self.bn2 = BatchNorm2d(out_chs, fast=True)
        self.attn = attn_layer(out_chs) if attn_layer is not None else nn.Identity()
        self.shortcut = _shortcut(in_chs, out_chs, stride, shortcut)
        self.act2 = act_layer()

    def forward(self, x: Tensor) -> Tensor:
        out = self.act1(self.bn1(self.conv1(x)))  # (B, C_out, H', W')
        out = self.attn(self.bn2(self.conv2(out)))  # F(x)
        if self.shortcut is not None:
            out = out + self.shortcut(x)  # Eq. (1) / (2)
        return self.act2(out)


class Bottleneck(nn.Module):
    """1×1 (to out_chs / 4) -> 3×3 -> 1×1 (to out_chs), each with BN, and a shortcut (Fig. 5).

    Args:
        in_chs, out_chs, stride, shortcut, act_layer, attn_layer: as :class:`BasicBlock`; the
            stride is in the 3×3 convolution.
        stride_in_1x1: stride in the first 1×1 convolution instead, as the paper does.

    Shape:
        (B, in_chs, H, W) -> (B, out_chs, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        stride: int = 1,
        stride_in_1x1: bool = False,
        shortcut: str | None = "B",
        act_layer: Callable[[], nn.Module] = nn.ReLU,
        attn_layer: Callable[[int], nn.Module] | None = None,
    ) -> None:
        super().__init__()
        mid = out_chs // 4
        s1, s2 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = nn.Conv2d(in_chs, mid, 1, s1, bias=False)
        self.bn1, self.act1 = BatchNorm2d(mid, fast=True), act_layer()
        self.conv2 = nn.Conv2d(mid, mid, 3, s2, 1, bias=False)
        self.bn2, self.act2 = BatchNorm2d(mid, fast=True), act_layer()
        self.conv3 = nn.Conv2d(mid, out_chs, 1, bias=False)
        self.bn3 = BatchNorm2d(out_chs, fast=True)
        self.attn = attn_layer(out_chs) if attn_layer is not None else nn.Identity()
        self.shortcut = _shortcut(in_chs, out_chs, stride, shortcut)
        self.act3 = act_layer()

    def forward(self, x: Tensor) -> Tensor:
        out = self.act1(self.bn1(self.conv1(x)))  # (B, C_out / 4, ., .)
        out = self.act2(self.bn2(self.conv2(out)))  # (B, C_out / 4, H', W')
        out = self.attn(self.bn3(self.conv3(out)))  # F(x): (B, C_out, H', W')
        if self.shortcut is not None:
            out = out + self.shortcut(x)  # Eq. (1) / (2)
        return self.act3(out)


def _example(cls: type[ResNet]) -> Example:
    model = cls((1, 1), (8, 16), stem="cifar", stem_width=8, num_classes=3, in_chans=1)
    return Example(model, (torch.randn(2, 1, 12, 12),), (2, 3))


@register(
    "cnn.resnet",
    paper="He, Zhang, Ren & Sun 2015, arXiv:1512.03385 (deep residual learning)",
    reference="transformers ResNetModel/ResNetForImageClassification (from_hf); "
    "torchvision parameter counts",
    example=lambda: _example(ResNet),
)
class ResNet(nn.Module):
    """A residual network: stem, stages of basic or bottleneck blocks, average pool, linear.

    Args:
        depths: blocks per stage, e.g. ``(2, 2, 2, 2)``.
        widths: output channels of each stage, e.g. ``(64, 128, 256, 512)``; a bottleneck
            block's inner width is a quarter of it.
        block: ``"basic"`` or ``"bottleneck"``.
        num_classes: classifier outputs; 0 gives the pooled features (no classifier).
        in_chans: input channels.
        stem: ``"imagenet"`` (7×7/2 convolution, BN, ReLU, 3×3/2 max-pool: 1/4 resolution) or
            ``"cifar"`` (3×3/1 convolution, BN, ReLU: full resolution).
        stem_width: stem output channels.
        shortcut: ``"A"``, ``"B"`` or ``"C"`` (Sec. 3.3), or None for the plain network.
        downsample_in_first_stage: stride 2 in the first stage too.
        downsample_in_bottleneck: a bottleneck strides in its first 1×1 (the paper) rather than
            in its 3×3 (v1.5, the default).
        act_layer: non-linearity class (``nn.ReLU``).
        attn_layer: optional module ``attn_layer(channels)`` on every residual branch.
        drop_rate: dropout before the classifier.

    Shape:
        (B, in_chans, H, W) -> (B, num_classes), or (B, widths[-1]) when ``num_classes == 0``.
    """

    def __init__(
        self,
        depths: Sequence[int] = (2, 2, 2, 2),
        widths: Sequence[int] = (64, 128, 256, 512),
        *,
        block: str = "basic",
        num_classes: int = 1000,
        in_chans: int = 3,
        stem: str = "imagenet",
        stem_width: int = 64,
        shortcut: str | None = "B",
        downsample_in_first_stage: bool = False,
        downsample_in_bottleneck: bool = False,
        act_layer: Callable[[], nn.Module] = nn.ReLU,
        attn_layer: Callable[[int], nn.Module] | None = None,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        depths, widths = tuple(depths), tuple(widths)
        if not depths or len(widths) != len(depths) or min(depths + widths) < 1:
            raise ValueError(f"need as many positive depths as widths, got {depths}, {widths}")
        if block not in ("basic", "bottleneck") or (block == "bottleneck" and min(widths) < 4):
            raise ValueError(f"block must be 'basic' or 'bottleneck' (widths >= 4), got {block!r}")
        if stem not in ("imagenet", "cifar") or shortcut not in ("A", "B", "C", None):
            raise ValueError(f"bad stem {stem!r} or shortcut {shortcut!r}")
        if num_classes < 0 or in_chans < 1 or stem_width < 1 or not 0.0 <= drop_rate < 1.0:
            raise ValueError("need num_classes >= 0, in_chans, stem_width >= 1, drop in [0, 1)")
        self.depths, self.widths, self.block = depths, widths, block
        self.in_chans, self.stem_type, self.shortcut = in_chans, stem, shortcut
        self.num_classes, self.num_features = num_classes, widths[-1]

        k, s = (7, 2) if stem == "imagenet" else (3, 1)
        self.stem = nn.Sequential(
            OrderedDict(
                conv=nn.Conv2d(in_chans, stem_width, k, s, k // 2, bias=False),
                bn=BatchNorm2d(stem_width, fast=True),
                act=act_layer(),
                pool=nn.MaxPool2d(3, 2, 1) if stem == "imagenet" else nn.Identity(),
            )
        )
        make_block = (
            BasicBlock if block == "basic"
            else partial(Bottleneck, stride_in_1x1=downsample_in_bottleneck)
        )  # fmt: skip
        stages, in_chs = [], stem_width
        for i, (depth, out_chs) in enumerate(zip(depths, widths, strict=True)):
            blocks = []
            for j in range(depth):
                stride = 2 if j == 0 and (i > 0 or downsample_in_first_stage) else 1
                kw = {"shortcut": shortcut, "act_layer": act_layer, "attn_layer": attn_layer}
                blocks.append(make_block(in_chs, out_chs, stride=stride, **kw))
                in_chs = out_chs
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(in_chs, num_classes) if num_classes else nn.Identity()
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # He et al. 2015 (arXiv:1502.01852) initialization
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, x: Tensor) -> Tensor:
        """Stem and stages: (B, in_chans, H, W) -> (B, widths[-1], H', W')."""
        if x.ndim != 4 or x.shape[1] != self.in_chans:
            raise ValueError(f"expected (B, {self.in_chans}, H, W) images, got {tuple(x.shape)}")
        return self.stages(self.stem(x))

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Average pool, dropout, classifier: (B, C, H', W') -> (B, num_classes) (or (B, C))."""
        x = self.drop(self.global_pool(x).flatten(1))  # (B, C)
        return x if pre_logits else self.fc(x)

    def forward(self, x: Tensor) -> Tensor:
        """The logits (B, num_classes)."""
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier by a fresh one with ``num_classes`` outputs (0: none)."""
        self.num_classes = num_classes
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()

    def extra_repr(self) -> str:
        return (
            f"depths={self.depths}, widths={self.widths}, block={self.block!r}, "
            f"stem={self.stem_type!r}, shortcut={self.shortcut!r}, num_classes={self.num_classes}"
        )

    @classmethod
    def from_hf(cls, hf_model: nn.Module) -> ResNet:
        """The network of a ``transformers`` ``ResNetModel`` / ``ResNetForImageClassification``.

        Same config, every tensor copied, same train/eval mode (see :mod:`replearn.cnn.hf`).
        A bare ``ResNetModel`` gives ``num_classes=0``: the output is its flattened
        ``pooler_output`` and :meth:`forward_features` its ``last_hidden_state``.
        """
        if cls is not ResNet:
            raise TypeError(f"{cls.__name__} has no Hugging Face counterpart; use ResNet.from_hf")
        from replearn.cnn.hf import resnet_from_hf  # (hf imports this module)

        return resnet_from_hf(hf_model)


@register(
    "cnn.plain_net",
    paper="He, Zhang, Ren & Sun 2015, arXiv:1512.03385 (plain baselines, Fig. 3 and 4)",
    reference="float64 block formula ReLU(branch(x)); ResNet's tensors minus the shortcuts; "
    "Table 1 layer counts",
    example=lambda: _example(PlainNet),
)
class PlainNet(ResNet):
    """The plain network of the degradation experiment: a ResNet without any shortcut.

    Same arguments as :class:`ResNet` except ``shortcut`` (always None): every block is its
    residual branch followed by the ReLU, so plain-18/34 have the layers of ResNet-18/34 minus
    the projection shortcuts.
    """

    def __init__(self, depths: Sequence[int] = (2, 2, 2, 2), *args: Any, **kwargs: Any) -> None:
        if "shortcut" in kwargs:
            raise TypeError("PlainNet has no shortcuts; use ResNet(shortcut=...)")
        super().__init__(depths, *args, shortcut=None, **kwargs)


def _imagenet(cls: type[ResNet], depth: int, num_classes: int, in_chans: int, **kw: Any):
    block, depths, widths = IMAGENET_CONFIGS[depth]
    return cls(depths, widths, block=block, num_classes=num_classes, in_chans=in_chans, **kw)


def resnet18(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> ResNet:
    """ResNet-18 (Table 1): basic blocks (2, 2, 2, 2), 11.7M parameters at 1000 classes."""
    return _imagenet(ResNet, 18, num_classes, in_chans, **kwargs)


def resnet34(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> ResNet:
    """ResNet-34 (Table 1): basic blocks (3, 4, 6, 3), 21.8M parameters."""
    return _imagenet(ResNet, 34, num_classes, in_chans, **kwargs)


def resnet50(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> ResNet:
    """ResNet-50 (Table 1): bottleneck blocks (3, 4, 6, 3), 25.6M parameters."""
    return _imagenet(ResNet, 50, num_classes, in_chans, **kwargs)


def resnet101(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> ResNet:
    """ResNet-101 (Table 1): bottleneck blocks (3, 4, 23, 3), 44.5M parameters."""
    return _imagenet(ResNet, 101, num_classes, in_chans, **kwargs)


def resnet152(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> ResNet:
    """ResNet-152 (Table 1): bottleneck blocks (3, 8, 36, 3), 60.2M parameters."""
    return _imagenet(ResNet, 152, num_classes, in_chans, **kwargs)


def resnet_cifar(
    depth: int = 20, num_classes: int = 10, in_chans: int = 3, **kwargs: Any
) -> ResNet:
    """CIFAR ResNet of Sec. 4.2: 6n+2 layers, widths 16/32/64, option A (ResNet-20: 0.27M).

    Works on 28×28 Fashion-MNIST with ``in_chans=1`` (feature maps 28, 14, 7).
    """
    n = cifar_blocks_per_stage(depth)
    kwargs = {"stem": "cifar", "stem_width": 16, "shortcut": "A", **kwargs}
    return ResNet((n, n, n), (16, 32, 64), num_classes=num_classes, in_chans=in_chans, **kwargs)


def plainnet18(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> PlainNet:
    """Plain-18: ResNet-18 without shortcuts (Fig. 4 left)."""
    return _imagenet(PlainNet, 18, num_classes, in_chans, **kwargs)


def plainnet34(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> PlainNet:
    """Plain-34: ResNet-34 without shortcuts (Fig. 3 middle, Fig. 4 left)."""
    return _imagenet(PlainNet, 34, num_classes, in_chans, **kwargs)


def plainnet_cifar(
    depth: int = 20, num_classes: int = 10, in_chans: int = 3, **kwargs: Any
) -> PlainNet:
    """The plain CIFAR network of Sec. 4.2 / Fig. 6 left (6n+2 layers, widths 16/32/64)."""
    n = cifar_blocks_per_stage(depth)
    kwargs = {"stem": "cifar", "stem_width": 16, **kwargs}
    return PlainNet((n, n, n), (16, 32, 64), num_classes=num_classes, in_chans=in_chans, **kwargs)
