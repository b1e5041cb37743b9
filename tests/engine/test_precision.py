"""``engine.precision``: fp32, bf16, and auto (bf16 only where the device has bf16 units)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from replearn.engine import EngineConfig, RunContext, fit
from replearn.engine.precision import fast_bf16, resolve_precision
from replearn.engine.tasks import RegressionTask


def test_resolve_precision() -> None:
    assert resolve_precision("fp32", "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16"
    cpu_units = torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()
    assert fast_bf16("cpu") is bool(cpu_units)
    assert resolve_precision("auto", "cpu") == ("bf16" if cpu_units else "fp32")
    assert resolve_precision("auto", "meta") == "fp32"
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("fp16", "cpu")
    with pytest.raises(ValueError, match=r"engine\.precision"):
        EngineConfig(precision="fp16")  # type: ignore[arg-type]


@pytest.mark.parametrize("precision", ["fp32", "bf16", "auto"])
def test_autocast_follows_the_resolved_precision(precision: str, tmp_path) -> None:
    seen: list[torch.dtype] = []

    class Probe(RegressionTask):
        def training_step(self, batch):
            x, _ = batch
            seen.append(self.model(x).dtype)
            return super().training_step(batch)

    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(8, 3), torch.randn(8, 1))
    model = nn.Linear(3, 1)
    cfg = EngineConfig(max_steps=1, batch_size=8, precision=precision, progress=False)
    fit(Probe(model), torch.optim.SGD(model.parameters(), lr=0.1), data, cfg=cfg,
        ctx=RunContext(out=tmp_path, seed=0, progress=False))  # fmt: skip
    expected = torch.bfloat16 if resolve_precision(precision, "cpu") == "bf16" else torch.float32
    assert seen == [expected]
