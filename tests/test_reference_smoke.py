"""The tour's tiny preset (default suite) and every experiment's (slow) run under ``--reference``.

With ``--reference`` every replearn layer takes its from-scratch path: the test replaces the
layers' fast kernels (fused norms, fused RNNs, the chunked Mamba scan) by ones that raise, so it
fails if any stop of the tour still calls one, and it checks that the run records the mode
(config.json, env.json, result.json) and that the switch is off again afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import replearn.norm.batchnorm as bn
import replearn.norm.groupnorm as gn
import replearn.norm.instancenorm as inorm
import replearn.norm.layernorm as ln
import replearn.sequence.mamba.scan_chunked as chunked
import replearn.sequence.rnn.layers as rnn_layers
from replearn import registry
from replearn.cli import main
from replearn.reference import use_reference

FAST_KERNELS = [
    (ln, "layer_norm_fast"),
    (ln, "rms_norm_fast"),
    (bn, "batch_norm_fast"),
    (gn, "group_norm_fast"),
    (inorm, "instance_norm_fast"),
    (rnn_layers, "fused_forward"),
    (rnn_layers, "packed_fused_forward"),
    (chunked, "selective_scan_chunked"),
]


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("--reference called a fast kernel")


def test_tour_tiny_runs_under_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for module, name in FAST_KERNELS:
        monkeypatch.setattr(module, name, _refuse)
    out = tmp_path / "tour"
    argv = ["run", "tour", "--preset", "tiny", "--no-progress", "--no-report", "--reference"]
    assert main([*argv, "--out", str(out)]) == 0
    assert not use_reference()
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    env = json.loads((out / "env.json").read_text(encoding="utf-8"))
    result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert config["reference"] is True and env["reference"] is True
    assert result["context"]["reference"] is True


@pytest.mark.slow
@pytest.mark.parametrize("name", [e.name for e in registry.entries(kind="experiment")])
def test_every_tiny_preset_runs_under_reference(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21: ``--reference`` works for every experiment's tiny preset, no fast kernel called."""
    for module, kernel in FAST_KERNELS:
        monkeypatch.setattr(module, kernel, _refuse)
    out = tmp_path / name
    argv = ["run", name, "--preset", "tiny", "--no-progress", "--no-report", "--reference"]
    assert main([*argv, "--out", str(out)]) == 0
    assert not use_reference()
    result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert result["context"]["reference"] is True


def test_default_run_records_fast_paths(tmp_path: Path) -> None:
    out = tmp_path / "mlp-xor"
    argv = ["run", "mlp-xor", "--preset", "tiny", "--no-progress", "--no-report", "--out", str(out)]
    assert main(argv) == 0
    assert "reference" not in json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert json.loads((out / "env.json").read_text(encoding="utf-8"))["reference"] is False
