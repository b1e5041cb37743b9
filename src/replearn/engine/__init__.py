"""The training engine: one loop (simple and general tasks), data sources, budgets, schedules,
EMA, callbacks, checkpoints, distributed plumbing, logging, seeding."""

from replearn.engine.callbacks import Callback, NonFiniteLossError
from replearn.engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from replearn.engine.context import RunContext, single_thread
from replearn.engine.data import FixedBatches, RandomWindows, SampleStream, Stream
from replearn.engine.ema import EMA
from replearn.engine.tasks import ClassificationTask, RegressionTask
from replearn.engine.trainer import EngineConfig, Loop, SkipUpdate, Task, evaluate, fit

__all__ = [
    "EMA",
    "Callback",
    "CheckpointError",
    "ClassificationTask",
    "EngineConfig",
    "FixedBatches",
    "Loop",
    "NonFiniteLossError",
    "RandomWindows",
    "RegressionTask",
    "RunContext",
    "SampleStream",
    "SkipUpdate",
    "Stream",
    "Task",
    "evaluate",
    "fit",
    "load_checkpoint",
    "save_checkpoint",
    "single_thread",
]
