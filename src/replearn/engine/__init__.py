"""The training engine: loop, callbacks, checkpoints, distributed plumbing, logging, seeding."""

from replearn.engine.callbacks import Callback, NonFiniteLossError
from replearn.engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from replearn.engine.context import RunContext, single_thread
from replearn.engine.tasks import ClassificationTask, RegressionTask
from replearn.engine.trainer import EngineConfig, Loop, Task, evaluate, fit

__all__ = [
    "Callback",
    "CheckpointError",
    "ClassificationTask",
    "EngineConfig",
    "Loop",
    "NonFiniteLossError",
    "RegressionTask",
    "RunContext",
    "Task",
    "evaluate",
    "fit",
    "load_checkpoint",
    "save_checkpoint",
    "single_thread",
]
