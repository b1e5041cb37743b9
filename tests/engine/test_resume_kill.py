"""``kill -9`` at several moments, then ``--resume``: the run ends bitwise identical."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ARGS = [
    "run",
    "mlp",
    "--no-progress",
    "--no-report",
    "--seed",
    "5",
    "--set",
    "hidden=512,512",
    "dropout=0.1",
    "engine.max_steps=240",
    "engine.checkpoint_every=20",
    "engine.log_every=10",
    "engine.eval_every=50",
    "engine.lr_schedule=cosine",
]


def _cmd(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "replearn",
        *ARGS[:1],
        ARGS[1],
        "--out",
        str(out),
        *ARGS[2:],
        *extra,
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "REPLEARN_OFFLINE": "1"}


def _run_until(cmd: list[str], ready: Callable[[], bool], timeout: float = 120.0) -> bool:
    """Start ``cmd``; SIGKILL it as soon as ``ready()``; True if it was killed."""
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.002)
    proc.wait(timeout=timeout)
    assert proc.returncode == 0, proc.stderr.read().decode()
    return False


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_kill_9_at_several_points_then_resume_is_bitwise_identical(tmp_path: Path) -> None:
    ref, out = tmp_path / "ref", tmp_path / "run"
    subprocess.run(_cmd(ref), env=_env(), check=True, capture_output=True, timeout=300)
    ckpts = out / "checkpoints"
    kill_points: list[Callable[[], bool]] = [
        lambda: (out / "metrics.jsonl").exists(),  # before any checkpoint
        lambda: (ckpts / "step-000000060.ckpt").exists(),  # right after a checkpoint lands
        lambda: _lines(out / "metrics.jsonl") >= 13,  # between two checkpoints
        lambda: any(p.name.endswith(".tmp") for p in ckpts.glob(".*")),  # during a write
        lambda: _lines(out / "metrics.jsonl") >= 27,  # near the end
    ]
    killed = 0
    first = True
    for ready in kill_points:
        extra = () if first else ("--resume",)
        killed += _run_until(_cmd(out, *extra), ready)
        first = False
    proc = subprocess.run(_cmd(out, "--resume"), env=_env(), capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()
    assert killed >= 3, f"only {killed} kills landed before the run finished"
    assert (out / "metrics.jsonl").read_bytes() == (ref / "metrics.jsonl").read_bytes()
    assert (out / "model.safetensors").read_bytes() == (ref / "model.safetensors").read_bytes()
