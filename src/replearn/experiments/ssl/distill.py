"""Experiments ``distill-mnist1d`` and ``distill-fashion``: knowledge distillation into a small MLP.

A convolutional teacher is trained on the labels through the engine; then, for each seed, a
small MLP student is trained twice from the same initial weights and data order: on the
teacher's soft targets at temperature T plus the hard labels
(:class:`replearn.ssl.methods.KnowledgeDistillation`, ``alpha`` on the soft term, Hinton et
al. 2015) and on the hard labels alone (``alpha = 0``). result.json: the students' test
accuracies (``kd_test_accuracy``, ``hard_test_accuracy``, means over seeds), the teacher's,
and ``linear_probe_accuracy`` / ``knn_accuracy`` of the distilled student's hidden layer.
``-fashion`` uses scikit-learn's digits unless ``--set data=fashion-mnist``. The claim is judged
with :func:`replearn.experiments.stats.compare_seeds` (paired by seed, the one-sided 95%
Student-t lower bound of the mean difference above zero; fewer than 3 seeds: "not measured").

Writes ``students.png`` (test accuracy of teacher and students).

This file is named ``distill.py`` rather than after one experiment (the naming rule of
:mod:`replearn.experiments`) because it registers both data variants from one factory by design.
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from replearn.engine import ClassificationTask, EngineConfig, RunContext, Task, fit
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import accuracy
from replearn.experiments.regularize.common import bar_chart
from replearn.experiments.ssl.claims import PAPERS, _better, _guard
from replearn.experiments.ssl.common import load_ssl_data
from replearn.ssl.encoders import ConvEncoder
from replearn.ssl.evaluate import extract_features, knn_accuracy, linear_probe_accuracy
from replearn.ssl.methods import KnowledgeDistillation


@dataclass(frozen=True)
class Config:
    """Config of ``distill-<data>``.

    Attributes:
        data: mnist1d (embedded), digits (embedded) or fashion-mnist (file).
        n_seeds: student seeds (each trains a distilled and a hard-label student).
        n_train: training examples (None: the whole training pool).
        teacher_width, teacher_features: the convolutional teacher's sizes.
        student_hidden: hidden width of the one-hidden-layer MLP student.
        temperature: T of the soft targets.
        alpha: weight of the soft term (the hard-label student uses 0).
        lr: Adam learning rate of teacher and students.
        teacher_steps: training steps of the teacher.
        engine: the students' training loop.
    """

    data: Literal["mnist1d", "digits", "fashion-mnist"] = "mnist1d"
    n_seeds: int = 3
    n_train: int | None = None
    teacher_width: int = 64
    teacher_features: int = 256
    student_hidden: int = 32
    temperature: float = 4.0
    alpha: float = 0.9
    lr: float = 1e-3
    teacher_steps: int = 800
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=800, batch_size=128, log_every=100, checkpoint_every=0
        )
    )

    def __post_init__(self) -> None:
        if self.n_seeds < 1 or self.temperature <= 0 or not 0.0 <= self.alpha <= 1.0:
            raise ValueError("need n_seeds >= 1, temperature > 0 and alpha in [0, 1]")


class DistillTask(Task):
    """The KD objective on ``(x, y)`` batches; reports the student's batch accuracy."""

    def __init__(self, kd: KnowledgeDistillation) -> None:
        super().__init__()
        self.kd = kd

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch
        loss, logits = self.kd(x, y)
        return loss, {"accuracy": (logits.argmax(-1) == y).float().mean()}


def _student(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))


def _verdict(m: dict[str, Any]) -> tuple[bool, str]:
    return _better(
        m,
        "kd_test_accuracy",
        "hard_test_accuracy",
        f"student test accuracy, distilled (T = {m['temperature']:g}) vs hard labels; "
        f"teacher {100 * m['teacher_test_accuracy']:.1f}%",
        ("distilled", "hard labels"),
    )


CLAIMS = (
    Claim(
        "distilled-student-wins",
        "A small student trained on the teacher's soft targets beats "
        "the same student trained on the hard labels (paired over >= 3 seeds, 95% lower "
        "bound of the difference above 0).",
        _guard(_verdict),
        "students.png",
    ),
)


def tiny_for(data: str) -> Config:
    """Seconds: 256 examples, 5 steps, one seed."""
    eng = EngineConfig(max_steps=5, batch_size=64, log_every=5, checkpoint_every=0, progress=False)
    return Config(
        data=data,
        n_seeds=1,
        n_train=256,
        teacher_width=8,
        teacher_features=16,
        teacher_steps=5,
        engine=eng,
    )


def quick_for(data: str) -> Config:
    """Seconds: 60 steps, three seeds (a smoke check)."""
    eng = EngineConfig(max_steps=60, batch_size=128, log_every=20, checkpoint_every=0)
    return Config(data=data, n_seeds=3, n_train=1000, teacher_steps=60, engine=eng)


def run(cfg: Config, ctx: RunContext) -> Result:
    """Distil a convolutional teacher into a small MLP; compare with hard-label training."""
    data = load_ssl_data(cfg.data, n_train=cfg.n_train, seed=ctx.seed, upsample=False)
    n_in = int(torch.tensor(data.input_shape).prod())
    train = TensorDataset(data.train_x, data.train_y)
    metrics: dict[str, Any] = {
        "data": cfg.data,
        "temperature": cfg.temperature,
        "alpha": cfg.alpha,
        "train_examples": len(train),
    }
    with single_thread():
        torch.manual_seed(ctx.seed)
        enc = ConvEncoder(data.input_shape, width=cfg.teacher_width, features=cfg.teacher_features)
        teacher = nn.Sequential(enc, nn.Linear(cfg.teacher_features, data.num_classes))
        teng = EngineConfig(
            max_steps=cfg.teacher_steps,
            batch_size=cfg.engine.batch_size,
            log_every=cfg.engine.log_every,
            checkpoint_every=0,
            progress=False,
        )
        with ctx.child("teacher") as sub:
            fit(
                ClassificationTask(teacher.to(ctx.device)),
                torch.optim.Adam(teacher.parameters(), lr=cfg.lr),
                train,
                cfg=teng,
                ctx=sub,
            )
        teacher = teacher.cpu()
        metrics["teacher_test_accuracy"] = accuracy(
            extract_features(teacher, data.test_x), data.test_y
        )
        results: dict[str, list[float]] = {"kd": [], "hard": [], "probe": [], "knn": []}
        for i in range(cfg.n_seeds):
            seed = ctx.seed + 1 + i
            for name, alpha in (("kd", cfg.alpha), ("hard", 0.0)):
                torch.manual_seed(seed)
                student = _student(n_in, cfg.student_hidden, data.num_classes)
                kd = KnowledgeDistillation(
                    student, teacher, temperature=cfg.temperature, alpha=alpha
                )
                with ctx.child(f"{name}/seed{i}", seed=seed) as sub:
                    fit(
                        DistillTask(kd),
                        torch.optim.Adam(student.parameters(), lr=cfg.lr),
                        train,
                        cfg=cfg.engine,
                        ctx=sub,
                    )
                results[name].append(accuracy(extract_features(student, data.test_x), data.test_y))
                if name == "kd":
                    hidden = student[:3]
                    ftr, fte = (
                        extract_features(hidden, data.train_x),
                        extract_features(hidden, data.test_x),
                    )
                    results["probe"].append(
                        linear_probe_accuracy(ftr, data.train_y, fte, data.test_y)
                    )
                    results["knn"].append(
                        knn_accuracy(
                            ftr, data.train_y, fte, data.test_y, num_classes=data.num_classes
                        )
                    )
    for key, name in (
        ("kd", "kd_test_accuracy"),
        ("hard", "hard_test_accuracy"),
        ("probe", "linear_probe_accuracy"),
        ("knn", "knn_accuracy"),
    ):
        metrics[f"{name}_seeds"] = results[key]
        metrics[name] = statistics.fmean(results[key])
    plot = bar_chart(
        {
            "teacher": metrics["teacher_test_accuracy"],
            "distilled": metrics["kd_test_accuracy"],
            "hard labels": metrics["hard_test_accuracy"],
        },
        ctx.path("students.png"),
        ylabel="test accuracy",
        title=f"distillation on {cfg.data}, T={cfg.temperature:g}",
    )
    return Result(metrics=metrics, plots=[plot])


def _config_for(data: str) -> type:
    cls = dataclasses.make_dataclass(
        "DistillFashionConfig",
        [("data", Literal["mnist1d", "digits", "fashion-mnist"], field(default=data))],
        bases=(Config,),
        frozen=True,
    )
    cls.__doc__, cls.__module__ = Config.__doc__, __name__
    return cls


for _suffix, _data in (("mnist1d", "mnist1d"), ("fashion", "digits")):
    experiment(
        f"distill-{_suffix}",
        topic="ssl",
        config=Config if _data == "mnist1d" else _config_for(_data),
        presets={"tiny": lambda d=_data: tiny_for(d), "quick": lambda d=_data: quick_for(d)},
        claims=CLAIMS if _suffix == "mnist1d" else (),
        paper=PAPERS["distill"],
    )(run)
