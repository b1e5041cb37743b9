"""Character-level GPT language modelling on Tiny Shakespeare: the task, validation windows.

Shared by ``gpt-shakespeare`` and ``gpt-claims``. Training batches are random windows of
the training split (:class:`replearn.engine.RandomWindows`, nanoGPT's sampling); the
validation loss is the mean next-character cross-entropy (nats per character, float32)
over a fixed set of evenly spaced windows of the validation split (the last 10% of the
text), the same for every run.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from replearn.engine import Loop, Task
from replearn.transformer.gpt.model import GPT


def eval_windows(data: Tensor, block_size: int, n: int) -> Tensor:
    """``n`` evenly spaced windows of ``block_size + 1`` characters (a fixed validation set).

    Shape:
        data (N,) -> (n, block_size + 1).
    """
    starts = torch.linspace(0, len(data) - block_size - 1, n).long()
    return torch.stack([data[s : s + block_size + 1] for s in starts.tolist()])


@torch.no_grad()
def window_loss(model: GPT, windows: Tensor, batch_size: int = 32) -> float:
    """Mean next-character cross-entropy (nats) over ``windows`` (B, T + 1), float32, eval mode."""
    was_training = model.training
    model.eval()
    total = 0.0
    device = next(model.parameters()).device
    for chunk in windows.split(batch_size):
        chunk = chunk.to(device)
        total += float(model.loss(chunk[:, :-1], chunk[:, 1:])) * len(chunk)
    model.train(was_training)
    return total / len(windows)


class CharLMTask(Task):
    """Next-character cross-entropy of a GPT on ``(x, y)`` windows; validation on fixed windows.

    The end-of-run evaluation reads every window of ``val_windows`` and logs ``val_loss``;
    periodic ones read the first ``curve_windows`` and log ``val_loss_curve``. Each
    evaluation is also kept with the wall time it happened at in :attr:`curve`
    (``(wall_s, step, loss)``, checkpointed), for plots against the clock.
    """

    def __init__(self, model: GPT, val_windows: Tensor, *, curve_windows: int = 32) -> None:
        super().__init__()
        self.model = model
        self.val_windows = val_windows
        self.curve_windows = curve_windows
        self.curve: list[tuple[float, int, float]] = []

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch
        return self.model.loss(x, y), {}

    def validate(self, loop: Loop) -> dict[str, float]:
        windows = (
            self.val_windows if loop.final_evaluation else self.val_windows[: self.curve_windows]
        )
        loss = window_loss(self.model, windows)
        self.curve.append((loop.wall_time_s, loop.step, loss))
        return {"val_loss" if loop.final_evaluation else "val_loss_curve": loss}

    def get_extra_state(self) -> dict[str, Any]:
        return {"curve": [list(p) for p in self.curve]}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.curve = [(float(w), int(s), float(v)) for w, s, v in state["curve"]]
