"""The names of the files in a run folder, declared once.

``replearn run NAME --out DIR`` writes one run folder::

    DIR/
      config.json          CONFIG: experiment name, preset, seed, resolved config
      env.json             ENV: versions, git commit, device, world size, load
      metrics.jsonl        METRICS: one JSON row per logged step (the engine's MetricsLogger)
      result.json          RESULT: final metrics, claim verdicts ("claims") and run "context"
      model.safetensors    MODEL: the trained weights, when the experiment returns a model
      samples.txt          SAMPLES: generated text, when the experiment writes some
      *.png                plots (the experiment's and the learning curves)
      report.html          REPORT: the self-contained HTML report of the run
      checkpoints/         CHECKPOINTS: step-NNNNNNNNN.ckpt files and the LATEST pointer
      <child>/             sub-runs (``ctx.child(name)``), each a run folder of its own

Every module that reads or writes these files takes their names from here; tests may keep
literals, so a rename here that they do not follow fails loudly.
"""

from __future__ import annotations

CONFIG = "config.json"
"""The run's record: experiment, preset, seed, resolved config (checked on ``--resume``)."""

ENV = "env.json"
"""Where the run ran: library versions, git commit, device, world size, machine load."""

METRICS = "metrics.jsonl"
"""Logged rows, one JSON object per line, written by the engine's metrics logger."""

RESULT = "result.json"
"""Final metrics with the claim verdicts (``"claims"``) and the run's ``"context"``."""

MODEL = "model.safetensors"
"""The trained model's weights (safetensors), when the experiment returns a model."""

SAMPLES = "samples.txt"
"""Generated text samples that the report shows, when an experiment writes them."""

REPORT = "report.html"
"""The run's self-contained HTML report."""

INDEX = "index.html"
"""The index page that links several runs' reports (written by the tour)."""

CHECKPOINTS = "checkpoints"
"""Sub-folder holding the engine's checkpoints."""

CHECKPOINT_SUFFIX = ".ckpt"
"""Suffix of a checkpoint file (``step-NNNNNNNNN.ckpt``)."""

LATEST = "latest"
"""The one-line pointer file in :data:`CHECKPOINTS` naming the newest checkpoint."""

__all__ = [
    "CHECKPOINTS",
    "CHECKPOINT_SUFFIX",
    "CONFIG",
    "ENV",
    "INDEX",
    "LATEST",
    "METRICS",
    "MODEL",
    "REPORT",
    "RESULT",
    "SAMPLES",
]
