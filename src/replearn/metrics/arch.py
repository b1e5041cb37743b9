"""Per-layer architecture summary (output shapes and parameter counts) via forward hooks."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class LayerRow:
    """One leaf module of a model."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    parameters: int


def _shape_of(output: object) -> tuple[int, ...]:
    if isinstance(output, torch.Tensor):
        return tuple(output.shape)
    if isinstance(output, (list, tuple)) and output:
        return _shape_of(output[0])
    return ()


@torch.no_grad()
def layer_table(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> tuple[list[LayerRow], int]:
    """Run ``model(*inputs)`` once and record every leaf module's output shape and own parameters.

    Returns:
        The rows in call order and the model's total parameter count.
    """
    rows: list[LayerRow] = []
    handles = []
    names = {module: name for name, module in model.named_modules()}

    def hook(module: nn.Module, _inp: object, out: object) -> None:
        own = sum(p.numel() for p in module.parameters(recurse=False))
        rows.append(LayerRow(names[module], type(module).__name__, _shape_of(out), own))

    for module in model.modules():
        if not any(True for _ in module.children()):
            handles.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        model(*inputs)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return rows, sum(p.numel() for p in model.parameters())
