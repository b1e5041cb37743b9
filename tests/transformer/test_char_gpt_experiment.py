"""The char-GPT experiment pieces: validation windows, window loss, task, nanoGPT's schedule."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.experiments.transformer.char_gpt import CharLMTask, eval_windows, window_loss
from replearn.experiments.transformer.nanogpt_baseline import nanogpt_lr
from replearn.transformer import GPT, GPTConfig


def test_eval_windows_are_evenly_spaced_slices() -> None:
    data = torch.arange(100)
    w = eval_windows(data, block_size=9, n=5)
    assert w.shape == (5, 10)
    assert w[0, 0] == 0 and w[-1, -1] == 99  # first and last windows touch both ends
    for row in w:
        assert torch.equal(row, torch.arange(int(row[0]), int(row[0]) + 10))


def test_window_loss_is_the_mean_model_loss_and_keeps_the_mode() -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=8, vocab_size=11))
    windows = torch.randint(0, 11, (7, 9))
    model.train()
    got = window_loss(model, windows, batch_size=3)
    assert model.training
    with torch.no_grad():
        model.eval()
        want = float(model.loss(windows[:, :-1], windows[:, 1:]))
    assert got == pytest.approx(want, rel=1e-6)
    task = CharLMTask(model, windows, curve_windows=2)
    loss, _ = task.training_step((windows[:, :-1], windows[:, 1:]))
    assert float(loss) == pytest.approx(want, rel=1e-6)
    task.curve = [(1.5, 10, 2.0)]
    fresh = CharLMTask(model, windows)
    fresh.set_extra_state(task.get_extra_state())
    assert fresh.curve == [(1.5, 10, 2.0)]


def test_nanogpt_schedule_warms_up_decays_then_stays() -> None:
    assert nanogpt_lr(0) == pytest.approx(1e-3 / 101)
    assert nanogpt_lr(100) == pytest.approx(1e-3)
    mid = 100 + (2000 - 100) // 2
    assert nanogpt_lr(mid) == pytest.approx(1e-4 + 0.5 * 9e-4 * (1 + math.cos(math.pi * 0.5)))
    assert nanogpt_lr(2000) == pytest.approx(1e-4) and nanogpt_lr(5000) == pytest.approx(1e-4)
