"""log_curves and train_classifier(name=...) of cnn/common.py."""

from __future__ import annotations

import json

import torch
from torch.utils.data import TensorDataset

from replearn.data.images import ClassificationData
from replearn.engine import EngineConfig, RunContext
from replearn.experiments.cnn.common import log_curves, train_classifier


def _rows(path):
    return [json.loads(r) for r in path.read_text().splitlines()]


def test_log_curves_writes_one_row_per_step(tmp_path):
    ctx = RunContext(out=tmp_path, seed=0, progress=False)
    ctx.logger.open()
    log_curves(ctx, [10, 20], {"a": [1.0, 0.5], "b": [2.0, 1.5]})
    ctx.logger.close()
    rows = {r["step"]: r for r in _rows(tmp_path / "metrics.jsonl") if "a_train_loss" in r}
    assert rows[10]["a_train_loss"] == 1.0 and rows[10]["b_train_loss"] == 2.0
    assert rows[20]["a_train_loss"] == 0.5 and rows[20]["b_train_loss"] == 1.5


def test_train_classifier_name_is_a_child_run(tmp_path):
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(40, 1, 4, 4, generator=g), torch.randint(0, 2, (40,), generator=g)
    ds = TensorDataset(x, y)
    data = ClassificationData(train=ds, val=ds, test=ds, num_classes=2, input_shape=(1, 4, 4),
                              name="toy", class_names=("a", "b"))  # fmt: skip
    engine = EngineConfig(max_steps=3, batch_size=8, log_every=1, checkpoint_every=0,
                          progress=False)  # fmt: skip
    results = []
    for i, named in enumerate((True, False)):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
        ctx = RunContext(out=tmp_path / str(i), seed=0, progress=False)
        if named:
            results.append(train_classifier(model, data, ctx, engine=engine, name="v"))
        else:
            with ctx.child("v") as sub:
                results.append(train_classifier(model, data, sub, engine=engine))
    assert (tmp_path / "0" / "v" / "metrics.jsonl").exists()
    a, b = results
    assert a.train_loss == b.train_loss and a.steps == b.steps == [1, 2, 3]
    torch.testing.assert_close(a.test_pred, b.test_pred, rtol=0, atol=0)
    assert a.test_accuracy == b.test_accuracy
