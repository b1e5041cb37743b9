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
the untouched test split. Every phase is repeated for ``seeds`` training seeds (3 by default;
child runs ``seed<s>/<phase>``; the data subsets are fixed), and every comparison claim is
judged over the seeds with :func:`replearn.experiments.stats.compare_seeds` (paired by seed;
the one-sided 95% Student-t lower bound of the mean difference must be above zero).
Writes ``early_stopping.png`` (validation and training loss of ``full`` for the first
seed, with :math:`i^*` and the stopping step) and ``test_accuracy.png`` (means over seeds).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch.utils.data import TensorDataset

from replearn.engine import EngineConfig, Loop, RunContext
from replearn.engine.callbacks import EarlyStopping, StopBelow
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import load_data
from replearn.experiments.regularize.common import (
    bar_chart,
    comparison,
    curves_chart,
    evaluate_splits,
    fit_classifier,
    gap_comparison,
    improvement_over_seeds,
    metric_curve,
    mlp,
    over_seeds,
)
from replearn.regularize.early_stopping import retrain_steps, surrogate_continue

PHASES = ("full", "early", "retrain_steps", "retrain_epochs", "continue")


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
        seeds: training seeds (``seed, seed + 1, ...``; >= 3), each running every phase.
        engine: training-loop settings (``max_steps`` is the budget of ``full`` and the
            cap of ``continue``; ``eval_every`` is Algorithm 7.1's n).
    """

    data: Literal["fashion-mnist", "digits", "mnist1d"] = "fashion-mnist"
    n_train: int | None = 2000
    n_val: int | None = 1000
    hidden: tuple[int, ...] = (512, 512)
    lr: float = 1e-3
    patience: int = 10
    seeds: int = 3
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=3000, batch_size=128, log_every=50, eval_every=50, checkpoint_every=0
        )
    )


def tiny() -> Config:
    """Seconds: digits, 15 steps per phase and seed (smoke tests)."""
    return Config(
        data="digits",
        n_train=None,
        n_val=None,
        hidden=(32,),
        patience=2,
        engine=EngineConfig(
            max_steps=15, batch_size=32, log_every=5, eval_every=5, checkpoint_every=0
        ),
    )


def quick() -> Config:
    """Seconds: digits, at most 30 steps per phase and seed, patience 2 (a smoke check)."""
    base = Config(data="digits", n_train=None, n_val=None, patience=2)
    return dataclasses.replace(
        base, engine=dataclasses.replace(base.engine, max_steps=30, log_every=5, eval_every=5)
    )


def _verdict_gap(m: dict[str, Any]) -> tuple[bool, str]:
    c = gap_comparison(m, "early", "full", "early-stopped", "full")
    return c.holds, (
        f"train - test accuracy (means over seeds): early-stopped (best step "
        f"{m['best_step_seeds']}, stopped at {m['stop_step_seeds']}) {m['early_gap_accuracy']:.4f} "
        f"vs trained for {m['full_steps_seeds']} steps {m['full_gap_accuracy']:.4f}; test loss "
        f"{m['early_test_loss']:.3f} vs {m['full_test_loss']:.3f}; test accuracy "
        f"{m['early_test_accuracy']:.4f} vs {m['full_test_accuracy']:.4f}; {c.evidence()}"
    )


def _verdict_retrain(m: dict[str, Any]) -> tuple[bool, str]:
    holds, evidence = improvement_over_seeds(
        m, "retrain_epochs", "early", "retrained", "early-stopped"
    )
    steps = comparison(m, "retrain_steps", "early", "retrained (steps)", "early-stopped")
    return holds, (
        f"{evidence}; retrained for the best epoch count ({m['retrain_epochs_steps_seeds']} "
        f"steps on {m['train_plus_val_examples']} examples; i* = {m['best_step_seeds']} steps on "
        f"{m['subtrain_examples']}); same-number-of-steps variant: "
        f"{m['retrain_steps_steps_seeds']} steps, test accuracy "
        f"{m['retrain_steps_test_accuracy']:.4f} ({steps.evidence()})"
    )


def _verdict_surrogate(m: dict[str, Any]) -> tuple[bool, str]:
    better, evidence = improvement_over_seeds(m, "continue", "early", "continued", "early-stopped")
    reached = [bool(r) for r in m["continue_reached_seeds"]]
    how = (
        f"validation loss reached eps (per seed {_fmt(m['surrogate_threshold_seeds'])}) in "
        f"{sum(reached)} of {len(reached)} seeds, after {m['continue_steps_seeds']} more steps "
        f"(final validation loss {_fmt(m['continue_val_loss_seeds'])})"
    )
    return all(reached) and better, f"{how}; {evidence}"


def _fmt(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.4f}" for v in values) + "]"


CLAIMS = (
    Claim(
        "early-stopping-gap",
        "Early stopping (Algorithm 7.1) regularizes: the early-stopped network has a smaller "
        "gap between training and test accuracy than the same network trained to the end "
        "(mean paired difference over training seeds, one-sided 95% lower bound > 0).",
        _verdict_gap,
        "early_stopping.png",
    ),
    Claim(
        "early-stopping-retrain",
        "Algorithm 7.2: retraining from scratch on training + validation data for the best "
        "number of epochs improves test accuracy over the early-stopped network (mean paired "
        "difference over training seeds, one-sided 95% lower bound > 0).",
        _verdict_retrain,
        "test_accuracy.png",
    ),
    Claim(
        "early-stopping-surrogate",
        "Algorithm 7.3: continuing on training + validation data until the validation loss "
        "falls below the training loss at the early-stopping point terminates and improves test "
        "accuracy over the early-stopped network (in every training seed it terminates; the "
        "accuracy gain is judged over the seeds, one-sided 95% lower bound > 0).",
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

    curves: dict[str, tuple[list[float], list[float]]] = {}
    lines: dict[str, float] = {}

    def one_seed(run: RunContext) -> dict[str, Any]:
        def model() -> torch.nn.Module:
            torch.manual_seed(run.seed)  # the same initial weights in every phase
            trunk, head = mlp(data.input_shape[0], cfg.hidden, data.num_classes)
            return torch.nn.Sequential(trunk, head).to(ctx.device)

        def train(name: str, net: torch.nn.Module, engine: EngineConfig, **kw: Any) -> Loop:
            return fit_classifier(run, name, net, data, lr=cfg.lr, engine=engine, **kw)

        out: dict[str, Any] = {}
        models: dict[str, torch.nn.Module] = {}
        # reference: no early stopping
        models["full"] = model()
        loop_full = train("full", models["full"], cfg.engine)
        out["full_steps"] = loop_full.step
        # Algorithm 7.1 with the engine's callback
        models["early"] = model()
        es_engine = dataclasses.replace(cfg.engine, early_stopping_patience=cfg.patience)
        loop = train("early", models["early"], es_engine)
        stopper = next(cb for cb in loop.callbacks if isinstance(cb, EarlyStopping))
        best_step = max(stopper.best_step, 1)
        out.update(best_step=best_step, stop_step=loop.step, stopped_early=loop.should_stop)
        eps = evaluate_splits(models["early"], data, device=ctx.device, splits=("train",))
        out["surrogate_threshold"] = eps["train_loss"]
        # Algorithm 7.2: retrain from the same initial weights on train + validation
        for unit in ("steps", "epochs"):
            steps = retrain_steps(best_step, n_sub, n_all, unit=unit)
            models[f"retrain_{unit}"] = net = model()
            retrain_engine = dataclasses.replace(cfg.engine, max_steps=steps, eval_every=0)
            train(f"retrain-{unit}", net, retrain_engine, train_set=train_val, validate=False)
            out[f"retrain_{unit}_steps"] = steps
        # Algorithm 7.3: continue from theta* on train + validation until J(valid) <= eps
        models["continue"] = net = copy.deepcopy(models["early"])
        stop = StopBelow(monitor="val_loss", threshold=eps["train_loss"])
        loop = train("continue", net, cfg.engine, train_set=train_val, callbacks=[stop])
        val_now = evaluate_splits(net, data, device=ctx.device, splits=("val",))["val_loss"]
        out.update(
            continue_reached=stop.reached and not surrogate_continue(val_now, eps["train_loss"]),
            continue_steps=stop.reached_step if stop.reached else loop.step,
            continue_val_loss=val_now,
        )
        # scores on the test split (the validation split is no longer held out)
        for name, net in models.items():
            m = evaluate_splits(net, data, device=ctx.device, splits=("train", "test"))
            m["gap_accuracy"] = m["train_accuracy"] - m["test_accuracy"]
            out.update({f"{name}_{k}": v for k, v in m.items()})
        run.log(0, **{k: float(v) for k, v in out.items()})
        if run.seed == ctx.seed:
            curves["validation loss"] = metric_curve(loop_full.history, "val_loss")
            curves["training loss (batches)"] = metric_curve(loop_full.history, "train_loss")
            lines.update({"best step i*": best_step, "early stop": out["stop_step"]})
        return out

    metrics: dict[str, Any] = {"subtrain_examples": n_sub, "train_plus_val_examples": n_all}
    metrics.update(over_seeds(ctx, cfg.seeds, one_seed))
    for name in ("retrain_steps", "retrain_epochs", "continue"):
        c = comparison(metrics, name, "early", name, "early")
        metrics[f"{name}_comparison"] = c.as_dict()
    plots = [
        curves_chart(
            curves,
            ctx.path("early_stopping.png"),
            xlabel="step",
            ylabel="cross-entropy",
            title=f"{cfg.data}: training without early stopping (seed {ctx.seed})",
            vlines=lines,
        ),
        bar_chart(
            {n: metrics[f"{n}_test_accuracy"] for n in PHASES},
            ctx.path("test_accuracy.png"),
            ylabel=f"test accuracy (mean of {cfg.seeds} seeds)",
            title=f"{cfg.data}: early stopping and reusing the validation data",
        ),
    ]
    return Result(metrics=metrics, plots=plots)
