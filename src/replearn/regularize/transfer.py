r"""Transfer learning: reuse a pretrained feature extractor, frozen or fine-tuned, with a new head.

Papers: J. Yosinski, J. Clune, Y. Bengio & H. Lipson, "How transferable are
features in deep neural networks?", NeurIPS 2014, arXiv:1411.1792;
Goodfellow, Bengio & Courville, *Deep Learning*, 2016, §15.2; J. Howard & S.
Ruder, "Universal Language Model Fine-tuning for Text Classification", ACL 2018,
arXiv:1801.06146 (discriminative learning rates).

A network :math:`f = h \circ g` is trained on a source task; on the target task
the backbone :math:`g` is kept and a new head :math:`h'` is trained on
:math:`g(x)`:

.. math::

    \text{freeze:}\quad \min_{\psi'} \mathcal L(h'_{\psi'}(g_{\phi^*}(x)), y)    \qquad (1)

    \text{fine-tune:}\quad \min_{\phi, \psi'} \mathcal L(h'_{\psi'}(g_\phi(x)), y),
    \quad \phi \text{ initialised at } \phi^*,\ \eta_\phi = \kappa\, \eta_{\psi'}  \qquad (2)

Freezing (1) is a linear probe when :math:`h'` is linear; fine-tuning (2) often uses
a smaller step :math:`\kappa < 1` for the pretrained layers.

When frozen, the backbone is also kept in evaluation mode, so its dropout is
off and any normalisation statistics stay those of the source task.

Tests: frozen parameters get no gradient and do not move under an optimizer
step; fine-tuning moves both; the parameter groups carry the two learning rates;
a frozen backbone stays in eval mode after ``train()``.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from replearn.registry import Example, register

__all__ = [
    "TransferModel",
    "count_parameters",
    "finetune_param_groups",
    "freeze",
    "unfreeze",
]


def freeze(module: nn.Module) -> nn.Module:
    """Stop gradients to every parameter of ``module`` (``requires_grad = False``); returns it."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def unfreeze(module: nn.Module) -> nn.Module:
    """Let gradients reach every parameter of ``module`` again; returns it."""
    for p in module.parameters():
        p.requires_grad_(True)
    return module


def count_parameters(module: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of (trainable) scalar parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def finetune_param_groups(
    backbone: nn.Module, head: nn.Module, *, lr: float, backbone_lr_factor: float = 0.1
) -> list[dict[str, Any]]:
    r"""Eq. (2)'s optimizer groups: the head at ``lr``, the backbone at :math:`\kappa \cdot` ``lr``.

    Frozen parameters are left out; a group with no parameter is dropped.

    Shape:
        -> a list of ``{"params": [...], "lr": float, "name": str}`` for torch optimizers.
    """
    if lr <= 0 or backbone_lr_factor < 0:
        raise ValueError(f"need lr > 0 and backbone_lr_factor >= 0, got {lr}, {backbone_lr_factor}")
    groups = [
        {
            "params": [p for p in backbone.parameters() if p.requires_grad],
            "lr": lr * backbone_lr_factor,
            "name": "backbone",
        },
        {"params": [p for p in head.parameters() if p.requires_grad], "lr": lr, "name": "head"},
    ]
    return [g for g in groups if g["params"]]


def _example() -> Example:
    backbone = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU())
    return Example(
        TransferModel(backbone, nn.Linear(8, 3), mode="freeze"), (torch.randn(4, 1, 4, 4),), (4, 3)
    )


@register(
    "regularize.transfer",
    paper="Yosinski, Clune, Bengio & Lipson 2014, arXiv:1411.1792",
    reference="frozen parameters get no gradient and do not move; two learning-rate groups",
    example=_example,
)
class TransferModel(nn.Module):
    """A pretrained backbone and a new head, trained as Eq. (1) (``freeze``) or (2) (``finetune``).

    Args:
        backbone: the pretrained :math:`g` (its weights are used as they are).
        head: the new :math:`h'`, taking the backbone's output.
        mode: ``"freeze"`` (backbone frozen and kept in eval mode) or ``"finetune"``.

    Shape:
        (B, *) -> head's output.
    """

    def __init__(
        self, backbone: nn.Module, head: nn.Module, *, mode: Literal["freeze", "finetune"]
    ) -> None:
        super().__init__()
        if mode not in ("freeze", "finetune"):
            raise ValueError(f"mode must be 'freeze' or 'finetune', got {mode!r}")
        self.backbone, self.head, self.mode = backbone, head, mode
        if mode == "freeze":
            freeze(backbone)
            backbone.eval()
        else:
            unfreeze(backbone)

    def train(self, mode: bool = True) -> TransferModel:
        super().train(mode)
        if self.mode == "freeze":
            self.backbone.eval()
        return self

    def features(self, x: Tensor) -> Tensor:
        """The backbone's representation :math:`g(x)`."""
        if self.mode == "freeze":
            with torch.no_grad():
                return self.backbone(x)
        return self.backbone(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"
