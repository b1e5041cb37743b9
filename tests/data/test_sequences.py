"""Tests of replearn.data.sequences: formats, answers and determinism of the tasks."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from replearn.data.sequences import (
    IGNORE_INDEX,
    AddingProblem,
    AssociativeRecall,
    CopyTask,
    SelectiveCopy,
)

TASKS = [
    lambda seed: CopyTask(64, seq_len=6, num_symbols=5, seed=seed),
    lambda seed: SelectiveCopy(64, seq_len=20, num_tokens=4, num_symbols=6, seed=seed),
    lambda seed: AssociativeRecall(64, num_pairs=5, num_keys=8, num_values=7, seed=seed),
    lambda seed: AddingProblem(64, seq_len=12, seed=seed),
]


@pytest.mark.parametrize("make", TASKS)
def test_same_seed_same_data(make):
    a, b, c = make(7), make(7), make(8)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)
    x, y = next(iter(DataLoader(a, batch_size=16)))
    assert torch.equal(x, a.x[:16]) and torch.equal(y, a.y[:16])


def test_copy_task_format():
    task = CopyTask(500, seq_len=6, num_symbols=5, seed=0)
    assert len(task) == 500 and task.vocab_size == 7
    x, y = task[3]
    assert x.dtype == y.dtype == torch.int64 and x.shape == y.shape == (13,)
    symbols = task.x[:, :6]
    assert symbols.min() == 2 and symbols.max() == 6  # every symbol is drawn
    assert (task.x[:, 6] == CopyTask.DELIM).all() and (task.x[:, 7:] == CopyTask.BLANK).all()
    assert (task.y[:, :7] == IGNORE_INDEX).all()
    assert torch.equal(task.y[:, 7:], symbols)  # answer = the symbols, in order


def test_selective_copy_format():
    task = SelectiveCopy(300, seq_len=20, num_tokens=4, num_symbols=6, seed=0)
    assert task.vocab_size == 8 and task.x.shape == task.y.shape == (300, 24)
    noisy = task.x[:, :20]
    kept = noisy != SelectiveCopy.NOISE
    assert (kept.sum(dim=1) == 4).all()  # exactly K symbols among the noise
    assert torch.equal(noisy[kept].reshape(300, 4), task.y[:, 20:])  # in order of appearance
    assert (task.x[:, 20:] == SelectiveCopy.MARK).all()
    assert (task.y[:, :20] == IGNORE_INDEX).all()
    first = kept.float().argmax(dim=1)
    assert first.unique().numel() > 5  # the positions vary between examples
    with pytest.raises(ValueError, match="num_tokens"):
        SelectiveCopy(1, seq_len=3, num_tokens=4)


def test_associative_recall_answer():
    task = AssociativeRecall(400, num_pairs=5, num_keys=8, num_values=7, seed=0)
    assert task.vocab_size == 15 and task.x.shape == (400, 11)
    keys, values, query = task.x[:, 0:10:2], task.x[:, 1:10:2], task.x[:, 10]
    assert all(len(set(row.tolist())) == 5 for row in keys)  # distinct keys
    assert keys.max() < 8 and values.min() >= 8 and values.max() < 15
    hit = keys == query[:, None]
    assert (hit.sum(dim=1) == 1).all()  # the query is one of the keys
    assert torch.equal(task.y[:, -1], values[hit])
    assert (task.y[:, :-1] == IGNORE_INDEX).all()
    with pytest.raises(ValueError, match="num_pairs"):
        AssociativeRecall(1, num_pairs=9, num_keys=8)


def test_adding_problem_target_and_baseline():
    task = AddingProblem(20_000, seq_len=12, seed=0)
    x, y = task[0]
    assert x.shape == (12, 2) and y.shape == (1,) and x.dtype == y.dtype == torch.float32
    values, markers = task.x[..., 0], task.x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert (markers[:, :6].sum(dim=1) == 1).all() and (markers[:, 6:].sum(dim=1) == 1).all()
    torch.testing.assert_close(task.y[:, 0], (values * markers).sum(dim=1))
    # Predicting the constant 1 scores MSE = Var(u_a + u_b) = 1/6.
    baseline = (task.y - 1).pow(2).mean().item()
    assert abs(baseline - 1 / 6) < 0.006


@pytest.mark.parametrize(
    "make",
    [
        lambda: CopyTask(0),
        lambda: CopyTask(2, seq_len=0),
        lambda: AddingProblem(2, seq_len=1),
        lambda: SelectiveCopy(2, num_symbols=0),
    ],
)
def test_invalid_arguments(make):
    with pytest.raises(ValueError):
        make()
