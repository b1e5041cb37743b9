"""A run folder holds exactly the files :mod:`replearn.runfolder` declares, under those names."""

from __future__ import annotations

import json
from pathlib import Path

from replearn import runfolder
from replearn.cli import main
from replearn.load import load_run


def test_run_writes_the_declared_files(tmp_path: Path) -> None:
    out = tmp_path / "mlp"
    argv = ["run", "mlp", "--preset", "tiny", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    for name in (runfolder.CONFIG, runfolder.ENV, runfolder.METRICS, runfolder.RESULT,
                 runfolder.MODEL, runfolder.REPORT):  # fmt: skip
        assert (out / name).is_file(), name
    assert json.loads((out / runfolder.CONFIG).read_text(encoding="utf-8"))["experiment"] == "mlp"
    ckpts = out / runfolder.CHECKPOINTS
    written = sorted(p.name for p in ckpts.glob(f"step-*{runfolder.CHECKPOINT_SUFFIX}"))
    assert written, "no checkpoint under the declared name"
    latest = (ckpts / runfolder.LATEST).read_text(encoding="utf-8").strip()
    assert latest.endswith(written[-1]), (latest, written)
    unknown = {p.name for p in out.iterdir()} - {
        runfolder.CONFIG, runfolder.ENV, runfolder.METRICS, runfolder.RESULT, runfolder.MODEL,
        runfolder.REPORT, runfolder.CHECKPOINTS,
    }  # fmt: skip
    assert all(name.endswith(".png") for name in unknown), unknown
    run = load_run(out)  # reads the same names back
    assert run.experiment == "mlp" and sum(p.numel() for p in run.model.parameters()) > 0


def test_names_are_distinct_and_exported() -> None:
    names = [getattr(runfolder, n) for n in runfolder.__all__]
    assert len(set(names)) == len(names)
    assert all(isinstance(n, str) and n for n in names)
