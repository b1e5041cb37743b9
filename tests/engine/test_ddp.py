"""torchrun with 2 gloo processes follows the same trajectory as 1 process (same global batch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

SET = [
    "--set",
    "hidden=64,64",
    "engine.max_steps=30",
    "engine.batch_size=32",
    "engine.checkpoint_every=10",
    "engine.log_every=5",
    "engine.eval_every=15",
]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "REPLEARN_OFFLINE": "1"}


def test_two_process_ddp_matches_one_process(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    base = ["run", "mlp", "--no-progress", "--no-report", "--seed", "1", *SET]
    subprocess.run(
        [sys.executable, "-m", "replearn", *base[:2], "--out", str(one), *base[2:]],
        env=_env(),
        check=True,
        capture_output=True,
        timeout=300,
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "replearn",
            *base[:2],
            "--out",
            str(two),
            *base[2:],
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = load_file(one / "model.safetensors"), load_file(two / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)
    assert json.loads((two / "env.json").read_text())["world_size"] == 2
    rows1 = [json.loads(r) for r in (one / "metrics.jsonl").read_text().splitlines()]
    rows2 = [json.loads(r) for r in (two / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows1] == [r["step"] for r in rows2]  # rank 0 alone logs
    for r1, r2 in zip(rows1, rows2, strict=True):
        for key in r1.keys() & {"train_loss", "val_loss"}:
            assert abs(r1[key] - r2[key]) < 1e-5, (key, r1, r2)
    assert len(list((two / "checkpoints").glob("step-*.ckpt"))) == 2
