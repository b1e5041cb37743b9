"""Pieces of the long-range-models experiment: the recall task and the random S4 init."""

from __future__ import annotations

import torch

from replearn.experiments.sequence.long_range_models import (
    Config,
    build,
    delayed_recall,
    randomize_s4,
)
from replearn.sequence.ssm.hippo import s4d_legs


def test_delayed_recall_label_is_the_first_symbol():
    x, y = delayed_recall(100, 12, 5, seed=0).tensors
    assert x.shape == (100, 12) and (y == x[:, 0]).all()
    assert int(x.max()) == 4 and int(x.min()) == 0


def test_random_init_replaces_hippo_and_stays_stable():
    cfg = Config()
    model = build("s4-hippo", cfg, 16)
    k = model.blocks[0].s4.kernel
    legs, _ = s4d_legs(cfg.s4_state)
    torch.testing.assert_close(k.im[0].double(), legs.imag, rtol=1e-5, atol=1e-5)
    randomize_s4(model, torch.Generator().manual_seed(0))
    Lambda, *_ = k.parts()
    assert (Lambda.real < 0).all()  # stable
    assert not torch.allclose(k.im[0].double(), legs.imag, atol=1e-2)
    assert model(torch.randint(0, cfg.num_symbols, (2, 16))).shape == (2, cfg.num_symbols)


def test_every_kind_classifies():
    cfg = Config(hidden=8, s4_state=4, s4_layers=1)
    x = torch.randint(0, cfg.num_symbols, (3, 10))
    for kind in ("lstm", "gru", "s4-hippo", "s4-random", "transformer"):
        assert build(kind, cfg, 10)(x).shape == (3, cfg.num_symbols)
