"""Experiment ``regularize-early-stopping``: Algorithms 7.1-7.3 of Goodfellow et al. §7.8.

An MLP that overfits a small training ("subtrain") set is trained

* ``full``: for ``max_steps`` without early stopping (the reference);
* ``early``: with the engine's ``EarlyStopping`` callback (Algorithm 7.1: evaluate
  every ``eval_every`` steps, patience ``patience``, keep the best weights),
  which gives the best step count :math:`i^*` and weights :math:`\\theta^*`;
* ``retrain-steps`` / ``retrain-epochs`` (Algorithm 7.2): from the same initial
  weights again, on subtrain + validation for :math:`i^*` steps, or for as many
  epochs as :math:`i^*` steps made on the subtrain set (the claim uses the epoch
  count, as the course states it; the step count is reported next to it);
* ``continue`` (Algorithm 7.3): from :math:`\\theta^*` (with a fresh Adam), on
  subtrain + validation until the validation loss falls to
  :math:`\\varepsilon = J(\\theta^*; \\text{subtrain})`, at most ``max_steps`` more.

The validation split chose :math:`i^*`, so gaps and accuracies are measured on
the untouched test split. Writes ``early_stopping.png`` (validation and training
loss of ``full`` with :math:`i^*` and the stopping step) and ``test_accuracy.png``.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch.utils.data import TensorDataset

from replearn.engine import EngineConfig, RunContext, fit
from replearn.engine.callbacks import EarlyStopping, StopBelow
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.regularize.common import (
    RegularizedClassificationTask,
    bar_chart,
    curves_chart,
    evaluate_splits,
    improvement_verdict,
    load_data,
    metric_curve,
    mlp,
    paired_difference,
    predict,
)
from replearn.regularize.early_stopping import retrain_steps, surrogate_continue


@dataclass(frozen=True)
class Config:
    """Config of ``regularize-early-stopping``.

    Attributes:
        data: fashion-mnist (file), digits (embedded) or mnist1d.
        n_train: subtrain examples (a seeded subset).
        n_val: validation examples (used by early stopping, then trained on).
        hidden: hidden widths of the MLP.
        lr: Adam learning rate.
        patience: evaluations without improvement of the validation loss before stopping.
        engine: training-loop settings (``max_steps`` is the budget of ``full`` and the
            cap of ``continue``; ``eval_every`` is Algorithm 7.1's n).
    """

    data: Literal["fashion-mnist", "digits", "mnist1d"] = "fashion-mnist"
    n_train: int | None = 2000
    n_val: int | None = 1000
    hidden: tuple[int, ...] = (512, 512)
    lr: float = 1e-3
    patience: int = 10
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=3000, batch_size=128, log_every=50, eval_every=50, checkpoint_every=0
        )
    )


def tiny() -> Config:
    """Seconds: digits, 40 steps (smoke tests)."""
    return Config(
        data="digits",
        n_train=None,
        n_val=None,
        hidden=(32,),
        patience=2,
        engine=EngineConfig(
            max_steps=40, batch_size=32, log_every=10, eval_every=10, checkpoint_every=0
        ),
    )


def quick() -> Config:
    """Digits, at most 2000 steps per phase."""
    base = Config(data="digits", n_train=None, n_val=None)
    return dataclasses.replace(base, engine=dataclasses.replace(base.engine, max_steps=2000))


def _verdict_gap(m: dict[str, Any]) -> tuple[bool, str]:
    holds = m["early_gap_accuracy"] < m["full_gap_accuracy"]
    return holds, (
        f"train - test accuracy: early-stopped (best step {m['best_step']}, stopped at "
        f"{m['stop_step']}) {m['early_gap_accuracy']:.4f} vs trained for {m['full_steps']} steps "
        f"{m['full_gap_accuracy']:.4f}; test loss {m['early_test_loss']:.3f} vs "
        f"{m['full_test_loss']:.3f}; test accuracy {m['early_test_accuracy']:.4f} vs "
        f"{m['full_test_accuracy']:.4f}"
    )


def _verdict_retrain(m: dict[str, Any]) -> tuple[bool, str]:
    holds, evidence = improvement_verdict(m, "retrain_epochs", "retrained", "early-stopped")
    return holds, (
        f"{evidence}; retrained for the best epoch count ({m['retrain_epochs_steps']} steps on "
        f"{m['train_plus_val_examples']} examples; i* = {m['best_step']} steps on "
        f"{m['subtrain_examples']}); same-number-of-steps variant: {m['retrain_steps_steps']} "
        f"steps, test accuracy {m['retrain_steps_test_accuracy']:.4f} "
        f"({100 * m['retrain_steps_diff']:+.2f} points, SE {100 * m['retrain_steps_diff_se']:.2f})"
    )


def _verdict_surrogate(m: dict[str, Any]) -> tuple[bool, str]:
    better, evidence = improvement_verdict(m, "continue", "continued", "early-stopped")
    reached = bool(m["continue_reached"])
    how = (
        f"validation loss reached eps = {m['surrogate_threshold']:.4f} after "
        f"{m['continue_steps']} more steps"
        if reached
        else f"validation loss never reached eps = {m['surrogate_threshold']:.4f} within "
        f"{m['continue_steps']} steps (ended at {m['continue_val_loss']:.4f})"
    )
    return reached and better, f"{how}; {evidence}"


CLAIMS = (
    Claim(
        "early-stopping-gap",
        "Early stopping (Algorithm 7.1) regularizes: the early-stopped network has a smaller "
        "gap between training and test accuracy than the same network trained to the end.",
        _verdict_gap,
        "early_stopping.png",
    ),
    Claim(
        "early-stopping-retrain",
        "Algorithm 7.2: retraining from scratch on training + validation data for the best "
        "number of epochs improves test accuracy over the early-stopped network (by more than "
        "2 paired standard errors).",
        _verdict_retrain,
        "test_accuracy.png",
    ),
    Claim(
        "early-stopping-surrogate",
        "Algorithm 7.3: continuing on training + validation data until the validation loss "
        "falls below the training loss at the early-stopping point terminates and improves test "
        "accuracy over the early-stopped network (by more than 2 paired standard errors).",
        _verdict_surrogate,
        "test_accuracy.png",
    ),
)


@experiment(
    "regularize-early-stopping",
    topic="regularize",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Goodfellow, Bengio & Courville 2016, Deep Learning §7.8, Algorithms 7.1-7.3",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Early stopping, then retrain on train+val (7.2) or continue to a surrogate loss (7.3)."""
    data = load_data(cfg.data, n_train=cfg.n_train, n_val=cfg.n_val, seed=ctx.seed, flatten=True)
    (xs, ys), (xv, yv) = data.train.tensors, data.val.tensors
    train_val = TensorDataset(torch.cat([xs, xv]), torch.cat([ys, yv]))
    n_sub, n_all = len(data.train), len(train_val)

    def model_and_task() -> tuple[torch.nn.Module, RegularizedClassificationTask]:
        torch.manual_seed(ctx.seed)  # the same initial weights in every phase
        trunk, head = mlp(data.input_shape[0], cfg.hidden, data.num_classes)
        model = torch.nn.Sequential(trunk, head).to(ctx.device)
        return model, RegularizedClassificationTask(model, data.num_classes)

    def train(name: str, task: Any, train_set: Any, engine: EngineConfig, **kw: Any) -> Any:
        opt = torch.optim.Adam(task.parameters(), lr=cfg.lr)
        with ctx.child(name) as sub:
            return fit(task, opt, train_set, cfg=engine, ctx=sub, **kw), sub.out

    metrics: dict[str, Any] = {"subtrain_examples": n_sub, "train_plus_val_examples": n_all}
    models: dict[str, torch.nn.Module] = {}
    # reference: no early stopping
    models["full"], task = model_and_task()
    loop, _ = train("full", task, data.train, cfg.engine, val_set=data.val)
    loop_full = loop
    metrics["full_steps"] = loop.step
    # Algorithm 7.1 with the engine's callback
    models["early"], task = model_and_task()
    es_engine = dataclasses.replace(cfg.engine, early_stopping_patience=cfg.patience)
    loop, _ = train("early", task, data.train, es_engine, val_set=data.val)
    stopper = next(cb for cb in loop.callbacks if isinstance(cb, EarlyStopping))
    best_step = max(stopper.best_step, 1)
    metrics.update(best_step=best_step, stop_step=loop.step, stopped_early=loop.should_stop)
    eps = evaluate_splits(models["early"], data, device=ctx.device, splits=("train",))
    metrics["surrogate_threshold"] = eps["train_loss"]
    # Algorithm 7.2: retrain from the same initial weights on train + validation
    for unit in ("steps", "epochs"):
        steps = retrain_steps(best_step, n_sub, n_all, unit=unit)
        models[f"retrain_{unit}"], task = model_and_task()
        retrain_engine = dataclasses.replace(cfg.engine, max_steps=steps, eval_every=0)
        train(f"retrain-{unit}", task, train_val, retrain_engine)
        metrics[f"retrain_{unit}_steps"] = steps
    # Algorithm 7.3: continue from theta* on train + validation until J(valid) <= eps
    models["continue"] = model = copy.deepcopy(models["early"])
    stop = StopBelow(monitor="val_loss", threshold=eps["train_loss"])
    task = RegularizedClassificationTask(model, data.num_classes)
    loop, _ = train("continue", task, train_val, cfg.engine, val_set=data.val, callbacks=[stop])
    val_now = evaluate_splits(model, data, device=ctx.device, splits=("val",))["val_loss"]
    metrics.update(
        continue_reached=stop.reached and not surrogate_continue(val_now, eps["train_loss"]),
        continue_steps=stop.reached_step if stop.reached else loop.step,
        continue_val_loss=val_now,
    )
    # scores on the test split (the validation split is no longer held out)
    logits = {}
    for name, net in models.items():
        m = evaluate_splits(net, data, device=ctx.device, splits=("train", "test"))
        m["gap_accuracy"] = m["train_accuracy"] - m["test_accuracy"]
        metrics.update({f"{name}_{k}": v for k, v in m.items()})
        logits[name], labels = predict(net, data.test, device=ctx.device)
    for name in ("retrain_steps", "retrain_epochs", "continue"):
        diff, se = paired_difference(logits[name], logits["early"], labels)
        metrics.update({f"{name}_diff": diff, f"{name}_diff_se": se})
        metrics[f"{name}_baseline_test_accuracy"] = metrics["early_test_accuracy"]
    ctx.log(0, **{k: float(v) for k, v in metrics.items()})
    curves = {
        "validation loss": metric_curve(loop_full.history, "val_loss"),
        "training loss (batches)": metric_curve(loop_full.history, "train_loss"),
    }
    plots = [
        curves_chart(
            curves,
            ctx.path("early_stopping.png"),
            xlabel="step",
            ylabel="cross-entropy",
            title=f"{cfg.data}: training without early stopping",
            vlines={"best step i*": best_step, "early stop": metrics["stop_step"]},
        ),
        bar_chart(
            {n: metrics[f"{n}_test_accuracy"] for n in models},
            ctx.path("test_accuracy.png"),
            ylabel="test accuracy",
            title=f"{cfg.data}: early stopping and reusing the validation data",
        ),
    ]
    return Result(metrics=metrics, plots=plots)
