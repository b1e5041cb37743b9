"""The checker of ``diffusion-text-shapes``: a CNN that reads which coloured shape is on each
side of a captioned-shapes image, and the scene / attribute / relation scores built on it.

Scores of predicted vs wanted (left shape, left colour, right shape, right colour) rows:
*scene* (all four right), *attributes* (the unordered pair of (shape, colour) objects right,
chance 1/36 for a random ordered pair of distinct objects) and *relation* given the
attributes (both on their sides, chance 1/2), each also chance-normalised,
:math:`\\kappa = (a - a_0) / (1 - a_0)`.

Tests: ``tests/diffusion/test_text_shapes_experiment.py`` (scores on hand-made predictions).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.engine import Task

__all__ = ["ATTR_CHANCE", "REL_CHANCE", "CheckerTask", "read_objects", "scores"]

ATTR_CHANCE = 1 / 36  # a random ordered pair of distinct objects has the caption's two objects
REL_CHANCE = 1 / 2  # two objects, two sides


class CheckerTask(Task):
    """A small CNN reading (left shape, left colour, right shape, right colour): 4 x 3 logits."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 12),
        )  # fmt: skip

    def logits(self, x: Tensor) -> Tensor:
        """(B, 3, 16, 16) images in [0, 1] -> (B, 4, 3) logits."""
        return self.net(x).view(-1, 4, 3)

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x, objects = batch
        logits = self.logits(x)
        loss = F.cross_entropy(logits.reshape(-1, 3), objects.reshape(-1))
        return loss, {"loss": loss.detach()}


@torch.no_grad()
def read_objects(checker: CheckerTask, images: Tensor) -> Tensor:
    """The checker's (left shape, left colour, right shape, right colour) of images in [0, 1]."""
    checker.eval()
    dev = next(checker.parameters()).device
    out = torch.cat([checker.logits(images[i : i + 512].to(dev)).argmax(-1).cpu()
                     for i in range(0, len(images), 512)])  # fmt: skip
    checker.train()
    return out


def scores(pred: Tensor, want: Tensor) -> dict[str, float]:
    """Scene, attribute and relation accuracies of predicted vs wanted objects (N, 4).

    Attributes compare the unordered pair of (shape, colour) objects; the relation is scored on
    the samples whose attributes are right (NaN when there are none).
    """
    p_left, p_right = pred[:, :2], pred[:, 2:]
    w_left, w_right = want[:, :2], want[:, 2:]
    same = ((p_left == w_left).all(1)) & ((p_right == w_right).all(1))
    crossed = ((p_left == w_right).all(1)) & ((p_right == w_left).all(1))
    attrs = same | crossed
    attr, scene = float(attrs.double().mean()), float(same.double().mean())
    rel = float(same[attrs].double().mean()) if attrs.any() else float("nan")
    return {"scene": scene, "attributes": attr, "relation": rel,
            "kappa_attributes": (attr - ATTR_CHANCE) / (1 - ATTR_CHANCE),
            "kappa_relation": (rel - REL_CHANCE) / (1 - REL_CHANCE)}  # fmt: skip
