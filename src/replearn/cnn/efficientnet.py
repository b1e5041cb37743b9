r"""EfficientNet: MBConv blocks and compound scaling of depth, width and resolution.

Paper: M. Tan & Q. V. Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks", ICML 2019, arXiv:1905.11946. Block: MobileNetV2's inverted residual (Sandler et al.
2018, arXiv:1801.04381) with squeeze-and-excitation (Hu et al. 2017, arXiv:1709.01507).

*MBConv* (inverted residual): a 1×1 convolution expands :math:`C_{in}` to :math:`t C_{in}`
channels, a :math:`k \times k` depthwise convolution (stride :math:`s`) filters each channel, an
SE block recalibrates them (bottleneck :math:`\max(1, \lfloor C_{in} / 4 \rfloor)`, SiLU), and a
linear 1×1 convolution projects to :math:`C_{out}`; every convolution is followed by BN, the
first two by SiLU (swish). When :math:`s = 1` and :math:`C_{in} = C_{out}` the input is added
back through stochastic depth (drop rate growing linearly to 0.2 over the blocks).

EfficientNet-B0 (Table 1): a 3×3/2 stem with 32 channels, seven stages
``(t, k, s, C, L)`` = (1,3,1,16,1) (6,3,2,24,2) (6,5,2,40,2) (6,3,2,80,3) (6,5,1,112,3)
(6,5,2,192,4) (6,3,1,320,1), a 1×1 convolution to 1280, pooling, dropout and a linear layer.
*Compound scaling* (Eq. 3) grows depth, width and resolution together with one coefficient
:math:`\phi`:

.. math::

    d = \alpha^\phi, \quad w = \beta^\phi, \quad r = \gamma^\phi,
    \quad \text{s.t. } \alpha \beta^2 \gamma^2 \approx 2, \quad \alpha, \beta, \gamma \ge 1
    \qquad (3)

with :math:`\alpha = 1.2,\ \beta = 1.1,\ \gamma = 1.15` found by grid search on B0, so FLOPs
grow by about :math:`2^\phi`. A stage of :math:`L` blocks gets :math:`\lceil d L \rceil`; a
width :math:`C` becomes :math:`w C` rounded to a multiple of 8 (never 10% below).

Deviations: B1-B7 use the coefficients of the official code (width, depth, resolution, dropout),
which follow Eq. (3) only roughly for large :math:`\phi` (B7: :math:`w = 2.0, d = 3.1, r = 600`
against :math:`\beta^6 = 1.77,\ \alpha^6 = 2.99,\ 224 \gamma^6 = 518`). Convolutions pad
symmetrically; ``tf_padding=True`` reproduces TensorFlow's "SAME" padding of the released
checkpoints at even input sizes (one more pixel bottom-right before each strided convolution).
BN momentum is PyTorch's default.

Tests: :meth:`EfficientNet.from_hf` against ``transformers`` ``EfficientNetModel`` /
``EfficientNetForImageClassification`` with copied weights (several configurations, atol 1e-5);
the published parameter count of B0 (5,288,548); rounding rules; Eq. (3).

See docs/corrections.md#cnns (SE in MBConv came with MnasNet/EfficientNet, not MobileNetV2).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from replearn.cnn.senet import SqueezeExcite
from replearn.registry import Example, register
from replearn.regularize.dropout import DropPath

__all__ = [
    "EFFICIENTNET_B0", "EFFICIENTNET_PARAMS", "EfficientNet", "MBConv", "StageSpec",
    "compound_scaling", "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
    "efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7",
    "efficientnet_cifar", "round_filters", "round_repeats",
]  # fmt: skip


class StageSpec(NamedTuple):
    """One row of Table 1: MBConv expansion ``t``, kernel ``k``, stride, channels, layers."""

    expand_ratio: int
    kernel_size: int
    stride: int
    channels: int
    repeats: int


EFFICIENTNET_B0 = tuple(
    StageSpec(*row)
    for row in [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]
)  # fmt: skip
"""Table 1: the stages of EfficientNet-B0."""

EFFICIENTNET_PARAMS: dict[str, tuple[float, float, int, float]] = {
    "b0": (1.0, 1.0, 224, 0.2),
    "b1": (1.0, 1.1, 240, 0.2),
    "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3),
    "b4": (1.4, 1.8, 380, 0.4),
    "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5),
    "b7": (2.0, 3.1, 600, 0.5),
}
"""Released variants: (width multiplier, depth multiplier, resolution, dropout)."""


def compound_scaling(
    phi: float, alpha: float = 1.2, beta: float = 1.1, gamma: float = 1.15
) -> tuple[float, float, float]:
    r"""Eq. (3): the depth, width and resolution multipliers :math:`(\alpha^\phi, \beta^\phi,
    \gamma^\phi)`."""
    return alpha**phi, beta**phi, gamma**phi


def round_filters(channels: int, width_mult: float, divisor: int = 8) -> int:
    """Width scaling: ``width_mult * channels`` to the nearest multiple of ``divisor``, at least
    ``divisor`` and never more than 10% below the exact value."""
    exact = channels * width_mult
    rounded = max(divisor, int(exact + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * exact else rounded)


def round_repeats(repeats: int, depth_mult: float) -> int:
    r"""Depth scaling: :math:`\lceil d L \rceil` blocks for a stage of :math:`L`."""
    return math.ceil(depth_mult * repeats)


def _conv_bn(
    in_chs: int,
    out_chs: int,
    kernel_size: int = 1,
    stride: int = 1,
    *,
    bn_eps: float,
    act_layer: Callable[[], nn.Module] | None = None,
    groups: int = 1,
    pad: tuple[int, int, int, int] | None = None,
) -> nn.Sequential:
    """Convolution (no bias) -> BN (-> activation); explicit ``pad`` (l, r, t, b) or ``k // 2``."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    if pad is not None:
        layers["pad"] = nn.ZeroPad2d(pad)
    padding = 0 if pad is not None else kernel_size // 2
    layers["conv"] = nn.Conv2d(
        in_chs, out_chs, kernel_size, stride, padding, groups=groups, bias=False
    )
    layers["bn"] = nn.BatchNorm2d(out_chs, eps=bn_eps)
    if act_layer is not None:
        layers["act"] = act_layer()
    return nn.Sequential(layers)


class MBConv(nn.Module):
    """Inverted residual: 1×1 expand -> k×k depthwise -> SE -> 1×1 project (+ input).

    Args:
        in_chs: input channels :math:`C_{in}`.
        out_chs: output channels :math:`C_{out}`.
        kernel_size: depthwise kernel :math:`k` (odd).
        stride: depthwise stride.
        expand_ratio: :math:`t` (1: no expansion convolution).
        se_ratio: SE bottleneck as a fraction of :math:`C_{in}` (0: no SE).
        drop_path: stochastic-depth rate of the residual branch.
        act_layer: activation class (``nn.SiLU``).
        bn_eps: BatchNorm epsilon (1e-3, as TensorFlow).
        tf_padding: pad ``(k//2 - 1, k//2)`` before a strided depthwise convolution
            (TensorFlow "SAME" at even sizes) instead of ``k//2`` on both sides.

    Shape:
        (B, in_chs, H, W) -> (B, out_chs, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        kernel_size: int = 3,
        stride: int = 1,
        expand_ratio: int = 6,
        se_ratio: float = 0.25,
        drop_path: float = 0.0,
        act_layer: Callable[[], nn.Module] = nn.SiLU,
        bn_eps: float = 1e-3,
        tf_padding: bool = False,
    ) -> None:
        super().__init__()
        if kernel_size % 2 == 0 or expand_ratio < 1 or stride < 1 or se_ratio < 0:
            raise ValueError("need an odd kernel_size, expand_ratio, stride >= 1, se_ratio >= 0")
        mid, k = in_chs * expand_ratio, kernel_size
        self.kernel_size, self.stride = k, stride
        kw = {"bn_eps": bn_eps, "act_layer": act_layer}
        self.expand = _conv_bn(in_chs, mid, **kw) if expand_ratio != 1 else nn.Identity()
        pad = (max(k // 2 - 1, 0), k // 2) * 2 if tf_padding and stride == 2 else None
        self.depthwise = _conv_bn(mid, mid, k, stride, groups=mid, pad=pad, **kw)
        rd = max(1, int(in_chs * se_ratio))
        self.se = (
            SqueezeExcite(mid, rd_channels=rd, act_layer=act_layer) if se_ratio else nn.Identity()
        )
        self.project = _conv_bn(mid, out_chs, bn_eps=bn_eps)  # linear: no activation
        self.has_skip = stride == 1 and in_chs == out_chs
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        out = self.expand(x)  # (B, t C_in, H, W)
        out = self.depthwise(out)  # (B, t C_in, H / s, W / s)
        out = self.project(self.se(out))  # (B, C_out, H / s, W / s)
        return x + self.drop_path(out) if self.has_skip else out

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, has_skip={self.has_skip}"


def _example() -> Example:
    stages = [StageSpec(1, 3, 1, 8, 1), StageSpec(4, 5, 2, 16, 2)]
    model = EfficientNet(stages, stem_width=8, head_width=32, num_classes=3, in_chans=1)
    return Example(model, (torch.randn(2, 1, 12, 12),), (2, 3))


@register(
    "cnn.efficientnet",
    paper="Tan & Le 2019, arXiv:1905.11946 (EfficientNet, compound scaling)",
    reference="transformers EfficientNetModel/EfficientNetForImageClassification (from_hf); "
    "timm parameter counts",
    example=_example,
)
class EfficientNet(nn.Module):
    """EfficientNet: stem, stages of MBConv blocks, 1×1 head convolution, pool, dropout, linear.

    Args:
        stages: the B0-style rows ``(expand_ratio, kernel_size, stride, channels, repeats)``
            before scaling (default: Table 1).
        width_mult: :math:`w`, applied to every width (stem, stages, head).
        depth_mult: :math:`d`, applied to every stage's number of blocks.
        num_classes: classifier outputs; 0 gives the pooled features.
        in_chans: input channels.
        stem_width: stem channels before scaling (32).
        stem_stride: stem stride (2; 1 keeps small images at full resolution).
        head_width: channels of the final 1×1 convolution before scaling (1280).
        se_ratio: SE bottleneck as a fraction of a block's input channels (0.25).
        drop_rate: dropout before the classifier (0.2 for B0).
        drop_path_rate: stochastic depth, ``drop_path_rate * i / n`` for block ``i`` of ``n``.
        act_layer: activation class (``nn.SiLU``).
        bn_eps: BatchNorm epsilon (1e-3).
        tf_padding: TensorFlow "SAME" padding at even sizes for the strided convolutions.
        global_pool: ``"avg"`` or ``"max"``.
        divisor: widths are rounded to multiples of it (8).
        default_resolution: the input size the (scaled) network is meant for; metadata only,
            any size works.

    Shape:
        (B, in_chans, H, W) -> (B, num_classes), or (B, num_features) when ``num_classes == 0``.
    """

    def __init__(
        self,
        stages: Sequence[StageSpec | tuple[int, int, int, int, int]] = EFFICIENTNET_B0,
        *,
        width_mult: float = 1.0,
        depth_mult: float = 1.0,
        num_classes: int = 1000,
        in_chans: int = 3,
        stem_width: int = 32,
        stem_stride: int = 2,
        head_width: int = 1280,
        se_ratio: float = 0.25,
        drop_rate: float = 0.2,
        drop_path_rate: float = 0.2,
        act_layer: Callable[[], nn.Module] = nn.SiLU,
        bn_eps: float = 1e-3,
        tf_padding: bool = False,
        global_pool: str = "avg",
        divisor: int = 8,
        default_resolution: int = 224,
    ) -> None:
        super().__init__()
        stages = tuple(StageSpec(*row) for row in stages)
        if not stages or width_mult <= 0 or depth_mult <= 0 or stem_stride not in (1, 2):
            raise ValueError("need stages, width_mult, depth_mult > 0 and stem_stride 1 or 2")
        if num_classes < 0 or in_chans < 1 or global_pool not in ("avg", "max"):
            raise ValueError("need num_classes >= 0, in_chans >= 1, global_pool 'avg' or 'max'")
        if not (0.0 <= drop_rate < 1.0 and 0.0 <= drop_path_rate < 1.0):
            raise ValueError("drop_rate and drop_path_rate must be in [0, 1)")
        self.stage_specs, self.width_mult, self.depth_mult = stages, width_mult, depth_mult
        self.in_chans, self.num_classes, self.global_pool = in_chans, num_classes, global_pool
        self.default_resolution = default_resolution

        stem_chs = round_filters(stem_width, width_mult, divisor)
        pad = (0, 1, 0, 1) if tf_padding and stem_stride == 2 else None
        kw = {"bn_eps": bn_eps, "act_layer": act_layer}
        self.stem = _conv_bn(in_chans, stem_chs, 3, stem_stride, pad=pad, **kw)

        repeats = [round_repeats(spec.repeats, depth_mult) for spec in stages]
        num_blocks, idx, in_chs, blocks = sum(repeats), 0, stem_chs, []
        for spec, n in zip(stages, repeats, strict=True):
            out_chs, stage = round_filters(spec.channels, width_mult, divisor), []
            for j in range(n):
                stride, rate = (spec.stride if j == 0 else 1), drop_path_rate * idx / num_blocks
                block = MBConv(
                    in_chs, out_chs, kernel_size=spec.kernel_size, stride=stride,
                    expand_ratio=spec.expand_ratio, se_ratio=se_ratio, drop_path=rate,
                    act_layer=act_layer, bn_eps=bn_eps, tf_padding=tf_padding,
                )  # fmt: skip
                stage.append(block)
                in_chs, idx = out_chs, idx + 1
            blocks.append(nn.Sequential(*stage))
        self.stages = nn.Sequential(*blocks)
        self.num_features = round_filters(head_width, width_mult, divisor)
        self.head = _conv_bn(in_chs, self.num_features, **kw)
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, x: Tensor) -> Tensor:
        """Stem, MBConv stages and head convolution: (B, in_chans, H, W) -> (B, F, H', W')."""
        if x.ndim != 4 or x.shape[1] != self.in_chans:
            raise ValueError(f"expected (B, {self.in_chans}, H, W) images, got {tuple(x.shape)}")
        return self.head(self.stages(self.stem(x)))

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Global pool, dropout, classifier: (B, F, H', W') -> (B, num_classes) (or (B, F))."""
        x = x.mean(dim=(2, 3)) if self.global_pool == "avg" else x.amax(dim=(2, 3))  # (B, F)
        x = self.drop(x)
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
            f"width_mult={self.width_mult}, depth_mult={self.depth_mult}, "
            f"default_resolution={self.default_resolution}, num_classes={self.num_classes}"
        )

    @classmethod
    def from_hf(cls, hf_model: nn.Module) -> EfficientNet:
        """The network of a ``transformers`` ``EfficientNetModel`` / ``...ForImageClassification``.

        Same config, every tensor copied, same train/eval mode (see :mod:`replearn.cnn.hf`,
        which also mirrors two quirks of that implementation: no skip on the first block of a
        stage, and symmetric padding for the blocks listed in ``depthwise_padding``).
        """
        from replearn.cnn.hf import efficientnet_from_hf  # (hf imports this module)

        return efficientnet_from_hf(hf_model)


def _variant(name: str, num_classes: int, in_chans: int, **kwargs: Any) -> EfficientNet:
    width, depth, resolution, dropout = EFFICIENTNET_PARAMS[name]
    kwargs = {"drop_rate": dropout, "default_resolution": resolution, **kwargs}
    return EfficientNet(
        width_mult=width, depth_mult=depth, num_classes=num_classes, in_chans=in_chans, **kwargs
    )


def efficientnet_b0(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> EfficientNet:
    """EfficientNet-B0 (Table 1), 224×224, 5.3M parameters."""
    return _variant("b0", num_classes, in_chans, **kwargs)


def efficientnet_b1(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> EfficientNet:
    """EfficientNet-B1: w = 1.0, d = 1.1, 240×240, 7.8M parameters."""
    return _variant("b1", num_classes, in_chans, **kwargs)


def efficientnet_b2(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> EfficientNet:
    """EfficientNet-B2: w = 1.1, d = 1.2, 260×260, 9.1M parameters."""
    return _variant("b2", num_classes, in_chans, **kwargs)


def efficientnet_b3(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> EfficientNet:
    """EfficientNet-B3: w = 1.2, d = 1.4, 300×300, 12.2M parameters."""
    return _variant("b3", num_classes, in_chans, **kwargs)


def efficientnet_b4(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> EfficientNet:
    """EfficientNet-B4: w = 1.4, d = 1.8, 380×380, 19.3M parameters."""
    return _variant("b4", num_classes, in_chans, **kwargs)


def efficientnet_b5(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> EfficientNet:
    """EfficientNet-B5: w = 1.6, d = 2.2, 456×456, 30.4M parameters."""
    return _variant("b5", num_classes, in_chans, **kwargs)


def efficientnet_b6(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> EfficientNet:
    """EfficientNet-B6: w = 1.8, d = 2.6, 528×528, 43.0M parameters."""
    return _variant("b6", num_classes, in_chans, **kwargs)


def efficientnet_b7(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> EfficientNet:
    """EfficientNet-B7: w = 2.0, d = 3.1, 600×600, 66.3M parameters."""
    return _variant("b7", num_classes, in_chans, **kwargs)


def efficientnet_cifar(num_classes: int = 10, in_chans: int = 3, **kwargs: Any) -> EfficientNet:
    """A small EfficientNet for 28×28 / 32×32 images: the first four B0 stages (two blocks in
    the last), stride-1 stem, 512-channel head; feature maps 28, 14, 7, 4 on Fashion-MNIST.

    ``width_mult`` / ``depth_mult`` (e.g. from :func:`compound_scaling`) scale it like B0.
    """
    stages = (*EFFICIENTNET_B0[:3], StageSpec(6, 3, 2, 80, 2))
    kwargs = {"stem_stride": 1, "head_width": 512, "default_resolution": 32, **kwargs}
    return EfficientNet(stages, num_classes=num_classes, in_chans=in_chans, **kwargs)
