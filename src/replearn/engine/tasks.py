"""Ready-made tasks for :func:`replearn.engine.trainer.fit`."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from replearn.engine.trainer import Task


class ClassificationTask(Task):
    """Cross-entropy on ``(inputs, labels)`` batches; reports accuracy.

    Args:
        model: maps inputs to logits of shape (B, num_classes).
        label_smoothing: passed to ``F.cross_entropy``.
    """

    def __init__(self, model: nn.Module, *, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.model = model
        self.label_smoothing = label_smoothing

    def training_step(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, y = batch
        logits = self.model(x)  # (B, K)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=self.label_smoothing)
        accuracy = (logits.detach().argmax(dim=-1) == y).float().mean()
        return loss, {"accuracy": accuracy}


class RegressionTask(Task):
    """Mean squared error on ``(inputs, targets)`` batches."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def training_step(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, y = batch
        pred = self.model(x)
        return F.mse_loss(pred.float(), y.float()), {}
