"""Transfer helpers: frozen parameters get no gradient and stay put; fine-tuning groups."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from replearn.regularize.transfer import (
    TransferModel,
    count_parameters,
    finetune_param_groups,
    freeze,
    unfreeze,
)


def _backbone() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 4))


def _step(model: nn.Module, params) -> None:
    opt = torch.optim.SGD(params, lr=0.1)
    x = torch.randn(16, 6, generator=torch.Generator().manual_seed(1))
    loss = model(x).square().mean()
    opt.zero_grad()
    loss.backward()
    opt.step()


def test_frozen_backbone_gets_no_gradient_and_does_not_move():
    model = TransferModel(_backbone(), nn.Linear(4, 3), mode="freeze")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    _step(model, [p for p in model.parameters() if p.requires_grad])
    for name, p in model.named_parameters():
        if name.startswith("backbone"):
            assert p.grad is None and torch.equal(p, before[name])
        else:
            assert p.grad is not None and not torch.equal(p, before[name])
    assert count_parameters(model, trainable_only=True) == 4 * 3 + 3
    assert count_parameters(model) == 6 * 8 + 8 + 8 * 4 + 4 + 4 * 3 + 3


def test_frozen_backbone_stays_in_eval_mode():
    model = TransferModel(_backbone(), nn.Linear(4, 3), mode="freeze").train()
    assert model.training and not model.backbone.training and model.head.training
    x = torch.randn(5, 6)
    torch.testing.assert_close(model(x), model(x))  # dropout in the backbone is off


def test_finetuning_moves_everything_with_two_learning_rates():
    backbone, head = _backbone(), nn.Linear(4, 3)
    model = TransferModel(backbone, head, mode="finetune")
    groups = finetune_param_groups(backbone, head, lr=0.1, backbone_lr_factor=0.1)
    assert [g["name"] for g in groups] == ["backbone", "head"]
    assert [g["lr"] for g in groups] == pytest.approx([0.01, 0.1])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    _step(model, groups)
    for name, p in model.named_parameters():
        assert not torch.equal(p, before[name]), name
    freeze(backbone)
    assert [g["name"] for g in finetune_param_groups(backbone, head, lr=0.1)] == ["head"]
    unfreeze(backbone)
    assert all(p.requires_grad for p in backbone.parameters())
    with pytest.raises(ValueError):
        TransferModel(backbone, head, mode="partial")
