r"""ConvNeXt with one design choice undone: the block of the paper's ablations.

Paper: Z. Liu, H. Mao, C.-Y. Wu, C. Feichtenhofer, T. Darrell & S. Xie, "A ConvNet for the
2020s", CVPR 2022, arXiv:2201.03545, §2.3-2.6 (Fig. 2: the "modernization" steps).

The ConvNeXt block (:class:`replearn.cnn.convnext.ConvNeXtBlock`) is

.. math::

    y = x + \gamma \odot W_2\, \phi(W_1\, \mathrm{Norm}(\mathrm{DWConv}_{k \times k}(x))) \qquad (1)

with :math:`k = 7`, Norm = LayerNorm over channels, :math:`\phi` = GELU and
:math:`W_1 \in \mathbb R^{eC \times C}` an *inverted bottleneck* (expansion :math:`e = 4`).
:class:`AblatedConvNeXtBlock` computes (1) with each of the four choices as an argument, so
that each can be undone alone, as the paper's steps added them one at a time:
``kernel_size`` (3 instead of 7, §2.4 "large kernel sizes"), ``norm="batch"`` (BatchNorm
over channels instead of LayerNorm, §2.5), ``act="relu"`` (instead of GELU, §2.5) and
``expansion=1`` (no inverted bottleneck, §2.3). :func:`ablated_convnext` builds a
:class:`~replearn.cnn.convnext.ConvNeXt` and replaces every block by the ablated one.

Deviations: none in (1); the paper's ablations change one step of a longer path (from a
ResNet-50) at ImageNet scale, here one choice is undone from the finished design. Tests:
with the paper's choices the block equals :class:`~replearn.cnn.convnext.ConvNeXtBlock`
with copied weights (float64); each option changes what the docstring says (parameter
counts, module types).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

from replearn.cnn.convnext import ConvNeXt
from replearn.registry import Example, register

__all__ = ["AblatedConvNeXtBlock", "ablated_convnext"]

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


def _example() -> Example:
    block = AblatedConvNeXtBlock(8, kernel_size=3, norm="batch", act="relu", expansion=1)
    return Example(block, (torch.randn(2, 8, 6, 6),), (2, 8, 6, 6))


@register(
    "cnn.convnext_ablated_block",
    paper="Liu et al. 2022, arXiv:2201.03545 §2.3-2.6 (ablations of the ConvNeXt block)",
    reference="equals cnn.convnext's ConvNeXtBlock with copied weights at the paper's choices "
    "(float64)",
    example=_example,
)
class AblatedConvNeXtBlock(nn.Module):
    """Eq. (1) with the kernel size, normalization, activation and expansion as arguments.

    Args:
        dim: channels :math:`C`.
        kernel_size: depthwise kernel :math:`k` (odd; 7 in ConvNeXt).
        norm: ``"layer"`` (ConvNeXt, channels-last LayerNorm) or ``"batch"`` (BatchNorm2d).
        act: ``"gelu"`` (ConvNeXt) or ``"relu"``.
        expansion: :math:`e`, hidden width :math:`eC` of the pointwise MLP (4 in ConvNeXt).
        layer_scale_init: initial :math:`\\gamma` (0: no layer scale).

    Shape:
        (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(
        self,
        dim: int,
        *,
        kernel_size: int = 7,
        norm: Literal["layer", "batch"] = "layer",
        act: Literal["gelu", "relu"] = "gelu",
        expansion: int = 4,
        layer_scale_init: float = 1e-6,
    ) -> None:
        super().__init__()
        if dim < 1 or expansion < 1 or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(
                f"need dim, expansion >= 1 and an odd kernel, got {dim, expansion, kernel_size}"
            )
        if norm not in ("layer", "batch") or act not in ACTIVATIONS:
            raise ValueError(
                f"norm must be 'layer' or 'batch', act 'gelu' or 'relu'; got {norm}, {act}"
            )
        self.dim, self.kernel_size, self.norm_kind, self.act_kind = dim, kernel_size, norm, act
        self.expansion = expansion
        self.conv_dw = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6) if norm == "layer" else nn.BatchNorm2d(dim)
        self.pwconv1 = nn.Linear(dim, expansion * dim)
        self.act = ACTIVATIONS[act]()
        self.pwconv2 = nn.Linear(expansion * dim, dim)
        self.gamma = (
            nn.Parameter(torch.full((dim,), layer_scale_init)) if layer_scale_init > 0 else None
        )

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv_dw(x)  # (B, C, H, W)
        if self.norm_kind == "batch":
            h = self.norm(h).permute(0, 2, 3, 1)  # BatchNorm2d channels-first, then (B, H, W, C)
        else:
            h = self.norm(h.permute(0, 2, 3, 1))  # (B, H, W, C), LayerNorm over C
        h = self.pwconv2(self.act(self.pwconv1(h)))  # (B, H, W, C) via (B, H, W, eC)
        if self.gamma is not None:
            h = self.gamma * h
        return x + h.permute(0, 3, 1, 2)  # Eq. (1)

    def extra_repr(self) -> str:
        return (
            f"{self.dim}, kernel_size={self.kernel_size}, norm={self.norm_kind!r}, "
            f"act={self.act_kind!r}, expansion={self.expansion}"
        )


def ablated_convnext(
    depths: Sequence[int], dims: Sequence[int], *, block: dict[str, Any] | None = None, **kw: Any
) -> ConvNeXt:
    """A :class:`ConvNeXt` whose blocks are :class:`AblatedConvNeXtBlock` (``block`` options).

    ``kw`` goes to :class:`ConvNeXt` (``num_classes``, ``in_chans``, ``patch_size``, ...).
    Stochastic depth is not supported here (``drop_path_rate`` must be 0).
    """
    if kw.get("drop_path_rate", 0.0):
        raise ValueError("ablated_convnext has no stochastic depth (drop_path_rate must be 0)")
    model = ConvNeXt(depths, dims, **kw)
    opts = dict(block or {})
    for stage, dim in zip(model.stages, dims, strict=True):
        stage.blocks = nn.Sequential(
            *(AblatedConvNeXtBlock(dim, **opts) for _ in range(len(stage.blocks)))
        )
    for m in model.stages.modules():  # the paper's init (Sec. A.1), as ConvNeXt applies it
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
    return model
