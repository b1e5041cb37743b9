"""Modules added in the issue-13/21 session, checked by name (their experiments also run in the
CLI smoke tests and their verdicts in tests/claims)."""

from __future__ import annotations

import dataclasses
import importlib
import math

import pytest
import torch

from replearn.experiments.base import get_experiment
from replearn.transformer.attention_masks import causal_mask, to_additive_mask

MODULES = {
    "replearn.experiments.norm.norm_invariances": "norm-invariances",
    "replearn.experiments.sequence.tbptt_vanishing": "tbptt-vanishing",
    "replearn.experiments.transformer.encoder_costs": "encoder-costs",
    "replearn.experiments.transformer.pretraining_objectives": "pretraining-objectives",
}


@pytest.mark.parametrize("module_name", sorted(MODULES))
def test_module_registers_its_experiment_with_smaller_presets(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exp = get_experiment(MODULES[module_name])
    assert exp.run is module.run and exp.config is module.Config
    default, tiny = dataclasses.asdict(module.Config()), dataclasses.asdict(module.tiny())
    assert tiny != default  # the smoke preset changes something of the default
    assert set(exp.presets) >= {"tiny", "quick"}


def test_causal_mask_matches_the_lower_triangle_aligned_bottom_right() -> None:
    assert torch.equal(causal_mask(4, 4), torch.ones(4, 4, dtype=torch.bool).tril())
    # fewer queries than keys: query i sees keys up to i + (lk - lq)
    assert torch.equal(causal_mask(2, 4), torch.ones(4, 4, dtype=torch.bool).tril()[2:])


def test_to_additive_mask_turns_false_into_minus_infinity() -> None:
    m = torch.tensor([[True, False], [False, True]])
    add = to_additive_mask(m, torch.float64)
    assert add is not None and add.dtype == torch.float64
    assert add[0, 0] == 0 and add[1, 1] == 0 and add[0, 1] == -math.inf and add[1, 0] == -math.inf
    f = torch.tensor([0.5, -1.0])
    assert torch.equal(to_additive_mask(f, torch.float64), f.double())
    assert to_additive_mask(None, torch.float32) is None
