r"""Exponential moving average of a model's weights, as a module the task owns.

.. math::

    \bar\theta \leftarrow \tau\,\bar\theta + (1 - \tau)\,\theta

Used for the EMA weights of diffusion models and GAN generators and for the target
networks of BYOL, MoCo, DINO and I-JEPA (where :math:`\bar\theta` is the "teacher").
The averaged copy lives in :attr:`EMA.module` (parameters frozen), so it is part of the
task's ``state_dict`` and travels in checkpoints: a resumed run continues bitwise.
Buffers (BatchNorm statistics) are copied, not averaged, as timm's ``ModelEmaV2`` does.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class EMA(nn.Module):
    """An averaged copy of ``model``; call :meth:`update` after each optimizer step.

    Args:
        model: the online model (its current weights start the average).
        decay: :math:`\\tau` in [0, 1]; 0 copies the model, 1 freezes the average.
    """

    def __init__(self, model: nn.Module, *, decay: float = 0.999) -> None:
        super().__init__()
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA decay must be in [0, 1], got {decay}")
        self.decay = decay
        self.module = copy.deepcopy(model)
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, *, decay: float | None = None) -> None:
        """Average ``model`` into the copy with decay ``decay`` (default: the module's)."""
        tau = self.decay if decay is None else decay
        if not 0.0 <= tau <= 1.0:
            raise ValueError(f"EMA decay must be in [0, 1], got {tau}")
        avg = list(self.module.parameters())
        cur = list(model.parameters())
        if len(avg) != len(cur):
            raise ValueError("EMA.update: the model does not match the averaged copy")
        if avg:
            torch._foreach_lerp_(avg, [c.detach() for c in cur], 1.0 - tau)
        for b_avg, b_cur in zip(self.module.buffers(), model.buffers(), strict=True):
            b_avg.copy_(b_cur)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run the averaged model."""
        return self.module(*args, **kwargs)

    def extra_repr(self) -> str:
        return f"decay={self.decay}"
