r"""ConvNeXt: a ResNet modernized step by step toward the design of vision transformers.

Paper: Z. Liu, H. Mao, C.-Y. Wu, C. Feichtenhofer, T. Darrell & S. Xie, "A ConvNet for the
2020s", CVPR 2022, arXiv:2201.03545.

The network (Fig. 2 and 4, Sec. 2): a "patchify" stem (a :math:`p \times p` convolution with
stride :math:`p = 4`, then LayerNorm), four stages of widths :math:`C_1..C_4` separated by
downsampling layers (LayerNorm, then a 2×2 convolution with stride 2), global average pooling,
LayerNorm and a linear classifier. Each block is an *inverted bottleneck* with a large
depthwise kernel, one normalization and one activation:

.. math::

    h = \mathrm{LN}(\mathrm{DWConv}_{7 \times 7}(x))     \qquad \text{channels-last LayerNorm}

    y = x + \mathrm{DropPath}\big(\gamma \odot W_2\, \mathrm{GELU}(W_1 h + b_1) + b_2\big)

with :math:`W_1 \in \mathbb R^{4C \times C}` and :math:`W_2 \in \mathbb R^{C \times 4C}` the
pointwise (1×1) convolutions, applied as ``nn.Linear`` on the channels-last ``(B, H, W, C)``
tensor, :math:`\gamma \in \mathbb R^C` the *layer scale* (Touvron et al. 2021, initialized to
:math:`10^{-6}`) and DropPath the stochastic depth of Huang et al. 2016, its rate growing
linearly from 0 to ``drop_path_rate`` over all blocks. Variants (Sec. 3): T = (3,3,9,3) at
(96,192,384,768); S = (3,3,27,3) at the same widths; B = (3,3,27,3) at (128,256,512,1024);
L = (3,3,27,3) at (192,384,768,1536). Paper ImageNet-1K stochastic-depth rates: 0.1 / 0.4 / 0.5
/ 0.5 (off by default here).

Deviations: none in the architecture; the classifier-head initialization scaling of the
paper's fine-tuning recipe is not applied. The head LayerNorm's epsilon is a parameter
(``head_norm_eps``) because Hugging Face's checkpoints use 1e-12 there, the paper 1e-6.

Tests: :meth:`ConvNeXt.from_hf` against ``transformers`` ``ConvNextModel`` /
``ConvNextForImageClassification`` with copied weights (several configurations, atol 1e-5);
the channels-first LayerNorm against ``nn.LayerNorm`` on a permuted tensor; the published
parameter count of ConvNeXt-T (28,589,128).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.norm.layernorm import LayerNorm
from replearn.registry import Example, register
from replearn.regularize.dropout import DropPath

__all__ = [
    "ConvNeXt", "ConvNeXtBlock", "LayerNorm2d", "convnext_base", "convnext_cifar",
    "convnext_large", "convnext_small", "convnext_tiny", "drop_path_rates", "layer_norm_2d",
]  # fmt: skip


def layer_norm_2d(x: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-6) -> Tensor:
    r"""LayerNorm over the channels of a channels-first map, at every position.

    .. math:: y_{:,i,j} = \gamma \odot \frac{x_{:,i,j} - \mu_{ij}}{\sqrt{\sigma^2_{ij} + \epsilon}}
        + \beta

    Shape:
        x: (B, C, H, W) -> (B, C, H, W); weight, bias: (C,).
    """
    x = x.permute(0, 2, 3, 1)  # (B, H, W, C)
    x = F.layer_norm(x, x.shape[-1:], weight, bias, eps)
    return x.permute(0, 3, 1, 2)  # (B, C, H, W)


def drop_path_rates(depths: Sequence[int], drop_path_rate: float) -> list[list[float]]:
    """Stochastic-depth rates growing linearly from 0 (first block) to ``drop_path_rate`` (last).

    Returns:
        one list of rates per stage.
    """
    n = sum(depths)
    rates = [drop_path_rate * i / max(n - 1, 1) for i in range(n)]  # linspace(0, rate, n)
    starts = [sum(depths[:i]) for i in range(len(depths))]
    return [rates[s : s + d] for s, d in zip(starts, depths, strict=True)]


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a (B, C, H, W) map (stem and downsampling layers).

    Shape:
        (B, C, H, W) -> (B, C, H, W).
    """

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm_2d(x, self.weight, self.bias, self.eps)


class ConvNeXtBlock(nn.Module):
    """7×7 depthwise conv -> LayerNorm -> Linear(C, 4C) -> GELU -> Linear(4C, C) -> γ, + input.

    Args:
        dim: channels :math:`C`.
        drop_path: stochastic-depth rate of this block.
        layer_scale_init: initial :math:`\\gamma` (0: no layer scale).
        kernel_size: the depthwise kernel (7 in the paper).
        act_layer: the activation class (``nn.GELU``).

    Shape:
        (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(
        self,
        dim: int,
        *,
        drop_path: float = 0.0,
        layer_scale_init: float = 1e-6,
        kernel_size: int = 7,
        act_layer: Callable[[], nn.Module] = nn.GELU,
    ) -> None:
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = LayerNorm(dim, eps=1e-6, fast=True)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = act_layer()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = (
            nn.Parameter(torch.full((dim,), layer_scale_init)) if layer_scale_init > 0 else None
        )
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv_dw(x).permute(0, 2, 3, 1)  # (B, H, W, C): channels last
        h = self.pwconv2(self.act(self.pwconv1(self.norm(h))))  # (B, H, W, C), via (B, H, W, 4C)
        if self.gamma is not None:
            h = self.gamma * h  # layer scale
        return x + self.drop_path(h.permute(0, 3, 1, 2))  # (B, C, H, W)


class ConvNeXtStage(nn.Module):
    """A downsampling layer (LayerNorm, 2×2 convolution with stride 2; not in stage 1), blocks.

    Shape:
        (B, in_chs, H, W) -> (B, out_chs, H / 2, W / 2) (or (B, out_chs, H, W) without
        downsampling, where in_chs must equal out_chs).
    """

    def __init__(
        self, in_chs: int, out_chs: int, *, downsample: bool, rates: Sequence[float], **kw: Any
    ) -> None:
        super().__init__()
        self.downsample = (
            nn.Sequential(
                OrderedDict(
                    norm=LayerNorm2d(in_chs, eps=1e-6), conv=nn.Conv2d(in_chs, out_chs, 2, 2)
                )
            )
            if downsample
            else nn.Identity()
        )
        self.blocks = nn.Sequential(*(ConvNeXtBlock(out_chs, drop_path=r, **kw) for r in rates))

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(self.downsample(x))


def _example() -> Example:
    model = ConvNeXt((1, 1), (8, 16), patch_size=2, num_classes=3, in_chans=1, drop_path_rate=0.1)
    return Example(model, (torch.randn(2, 1, 8, 8),), (2, 3))


@register(
    "cnn.convnext",
    paper="Liu, Mao, Wu, Feichtenhofer, Darrell & Xie 2022, arXiv:2201.03545 (ConvNeXt)",
    reference="transformers ConvNextModel/ConvNextForImageClassification (from_hf); "
    "timm parameter counts",
    example=_example,
)
class ConvNeXt(nn.Module):
    r"""ConvNeXt: patchify stem, stages of inverted-bottleneck blocks, pool, LayerNorm, linear.

    Args:
        depths: blocks per stage, e.g. ``(3, 3, 9, 3)``.
        dims: channels per stage, e.g. ``(96, 192, 384, 768)``.
        num_classes: classifier outputs; 0 gives the normalized pooled features.
        in_chans: input channels.
        patch_size: stem kernel and stride :math:`p` (4; 2 or 1 for small images).
        kernel_size: depthwise kernel of the blocks (7).
        layer_scale_init: initial layer scale :math:`\gamma` (1e-6; 0 turns it off).
        drop_path_rate: stochastic-depth rate of the last block (linear from 0).
        drop_rate: dropout before the classifier.
        head_norm_eps: epsilon of the LayerNorm after pooling (1e-6).
        act_layer: activation class (``nn.GELU``).

    Shape:
        (B, in_chans, H, W) -> (B, num_classes), or (B, dims[-1]) when ``num_classes == 0``;
        H and W should be multiples of ``patch_size * 2 ** (len(depths) - 1)``.
    """

    def __init__(
        self,
        depths: Sequence[int] = (3, 3, 9, 3),
        dims: Sequence[int] = (96, 192, 384, 768),
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        patch_size: int = 4,
        kernel_size: int = 7,
        layer_scale_init: float = 1e-6,
        drop_path_rate: float = 0.0,
        drop_rate: float = 0.0,
        head_norm_eps: float = 1e-6,
        act_layer: Callable[[], nn.Module] = nn.GELU,
    ) -> None:
        super().__init__()
        depths, dims = tuple(depths), tuple(dims)
        if not depths or len(dims) != len(depths) or min(depths + dims) < 1:
            raise ValueError(f"need as many positive depths as dims, got {depths}, {dims}")
        if num_classes < 0 or in_chans < 1 or patch_size < 1 or kernel_size % 2 == 0:
            raise ValueError("need num_classes >= 0, in_chans, patch_size >= 1, odd kernel_size")
        if not (0.0 <= drop_path_rate < 1.0 and 0.0 <= drop_rate < 1.0 and layer_scale_init >= 0):
            raise ValueError("need drop_path_rate, drop_rate in [0, 1) and layer_scale_init >= 0")
        self.depths, self.dims, self.in_chans = depths, dims, in_chans
        self.num_classes, self.num_features = num_classes, dims[-1]
        self.patch_size, self.drop_path_rate = patch_size, drop_path_rate

        self.stem = nn.Sequential(
            OrderedDict(
                conv=nn.Conv2d(in_chans, dims[0], patch_size, patch_size),  # "patchify"
                norm=LayerNorm2d(dims[0], eps=1e-6),
            )
        )
        kw = {"layer_scale_init": layer_scale_init, "kernel_size": kernel_size}
        self.stages = nn.Sequential(
            *(
                ConvNeXtStage(
                    dims[max(i - 1, 0)],
                    dims[i],
                    downsample=i > 0,
                    rates=rates,
                    act_layer=act_layer,
                    **kw,
                )
                for i, rates in enumerate(drop_path_rates(depths, drop_path_rate))
            )
        )
        self.norm = LayerNorm(dims[-1], eps=head_norm_eps, fast=True)
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(dims[-1], num_classes) if num_classes else nn.Identity()
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):  # Sec. A.1: truncated normal, std 0.02
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: Tensor) -> Tensor:
        """Stem and stages: (B, in_chans, H, W) -> (B, dims[-1], H', W')."""
        if x.ndim != 4 or x.shape[1] != self.in_chans:
            raise ValueError(f"expected (B, {self.in_chans}, H, W) images, got {tuple(x.shape)}")
        return self.stages(self.stem(x))

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Average pool, LayerNorm, dropout, classifier: (B, C, H', W') -> (B, num_classes)."""
        x = self.drop(self.norm(x.mean(dim=(2, 3))))  # (B, C)
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
            f"depths={self.depths}, dims={self.dims}, patch_size={self.patch_size}, "
            f"drop_path_rate={self.drop_path_rate}, num_classes={self.num_classes}"
        )

    @classmethod
    def from_hf(cls, hf_model: nn.Module) -> ConvNeXt:
        """The network of a ``transformers`` ``ConvNextModel`` / ``ConvNextForImageClassification``.

        Same config, every tensor copied, same train/eval mode (see :mod:`replearn.cnn.hf`).
        A bare ``ConvNextModel`` gives ``num_classes=0``: the output is its ``pooler_output``
        and :meth:`forward_features` its ``last_hidden_state``.
        """
        from replearn.cnn.hf import convnext_from_hf  # (hf imports this module)

        return convnext_from_hf(hf_model)


def convnext_tiny(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> ConvNeXt:
    """ConvNeXt-T: (3, 3, 9, 3) blocks at (96, 192, 384, 768); 28.6M parameters."""
    return ConvNeXt(
        (3, 3, 9, 3), (96, 192, 384, 768), num_classes=num_classes, in_chans=in_chans, **kwargs
    )


def convnext_small(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> ConvNeXt:
    """ConvNeXt-S: (3, 3, 27, 3) blocks at (96, 192, 384, 768); 50.2M parameters."""
    return ConvNeXt(
        (3, 3, 27, 3), (96, 192, 384, 768), num_classes=num_classes, in_chans=in_chans, **kwargs
    )


def convnext_base(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> ConvNeXt:
    """ConvNeXt-B: (3, 3, 27, 3) blocks at (128, 256, 512, 1024); 88.6M parameters."""
    return ConvNeXt(
        (3, 3, 27, 3), (128, 256, 512, 1024), num_classes=num_classes, in_chans=in_chans, **kwargs
    )


def convnext_large(num_classes: int = 1000, in_chans: int = 3, **kwargs: Any) -> ConvNeXt:
    """ConvNeXt-L: (3, 3, 27, 3) blocks at (192, 384, 768, 1536); 197.8M parameters."""
    return ConvNeXt(
        (3, 3, 27, 3), (192, 384, 768, 1536), num_classes=num_classes, in_chans=in_chans, **kwargs
    )


def convnext_cifar(num_classes: int = 10, in_chans: int = 3, **kwargs: Any) -> ConvNeXt:
    """A small ConvNeXt for 28×28 / 32×32 images: 2×2 patches, (2, 2, 2) blocks at (32, 64, 128).

    Feature maps 14, 7, 3 on 28×28 Fashion-MNIST (``in_chans=1``); 0.41M parameters.
    """
    kwargs = {"patch_size": 2, **kwargs}
    return ConvNeXt((2, 2, 2), (32, 64, 128), num_classes=num_classes, in_chans=in_chans, **kwargs)
