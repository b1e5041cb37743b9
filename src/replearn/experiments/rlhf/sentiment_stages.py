"""The stages of ``rlhf-sentiment``: annotator, preference pairs, reward model, PPO, evaluation.

Each function takes the experiment's ``Config`` (:mod:`replearn.experiments.rlhf.rlhf_sentiment`)
and trains through the engine in a child run of ``ctx``.
"""

from __future__ import annotations

import copy
import math
import statistics
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import TensorDataset

from replearn.engine import RunContext, Task, fit
from replearn.experiments.rlhf.common import frozen_copy
from replearn.report.plots import line_plot
from replearn.rlhf.best_of_n import best_of_n_kl
from replearn.rlhf.evaluation import (
    distinct_n,
    expected_calibration_error,
    reference_perplexity,
    win_rate,
)
from replearn.rlhf.kl import AdaptiveKLController, FixedKLController
from replearn.rlhf.policy import PolicyWithValue, generate
from replearn.rlhf.ppo_trainer import PPOTask
from replearn.rlhf.reward_model import RewardModel
from replearn.rlhf.tasks import BagOfWordsClassifier, PromptBatch, SentimentTask
from replearn.rlhf.tasks.common import pad_right
from replearn.rlhf.trainers import RewardModelTask
from replearn.transformer.gpt.model import GPT

__all__ = [
    "annotator", "best_of_n_curve", "last_index", "log_fit", "plots", "ppo_run", "preference_pairs",
    "reward_model_metrics", "scored", "sft_examples", "summary", "train_reward_model",
]  # fmt: skip


class _ClassifierTask(Task):
    def __init__(self, clf: BagOfWordsClassifier) -> None:
        super().__init__()
        self.clf = clf

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch
        logits = self.clf(x)
        acc = ((logits > 0).float() == y).float().mean().detach()
        return F.binary_cross_entropy_with_logits(logits, y), {"accuracy": acc}


def annotator(cfg: Any, task: SentimentTask, ctx: RunContext) -> BagOfWordsClassifier:
    texts, labels = task.sentences(cfg.classifier_sentences, torch.Generator().manual_seed(7))
    keep = [i for i, y in enumerate(labels) if y >= 0]
    clf = BagOfWordsClassifier(task.classifier_vocab())
    x = clf.featurize([texts[i] for i in keep])
    y = torch.tensor([float(labels[i]) for i in keep])
    with ctx.child("annotator") as sub:
        fit(
            _ClassifierTask(clf),
            torch.optim.Adam(clf.parameters(), lr=0.05),
            TensorDataset(x, y),
            cfg=cfg.classifier_engine,
            ctx=sub,
        )
    return clf.eval()


def last_index(mask: Tensor, prompt_len: int) -> Tensor:
    return prompt_len + mask.sum(1).long() - 1


def preference_pairs(
    sft_model: GPT, task: SentimentTask, clf: BagOfWordsClassifier, n: int, gen: torch.Generator
) -> dict[str, Tensor]:
    """``n`` preference pairs of SFT samples labelled by the noisy annotator."""
    prompts = task.prompts(n, gen)
    sa, ma = generate(
        sft_model, prompts.ids, task.max_response_len, eos_id=task.eos_id, generator=gen
    )
    sb, mb = generate(
        sft_model, prompts.ids, task.max_response_len, eos_id=task.eos_id, generator=gen
    )
    sa, ma, sb, mb = sa.cpu(), ma.cpu(), sb.cpu(), mb.cpu()  # a data set: on the CPU
    ua = clf.utility(task.texts(prompts.info, task.decode(sa))).cpu()
    ub = clf.utility(task.texts(prompts.info, task.decode(sb))).cpu()
    a_wins = task.preferences(ua, ub, gen)
    la, lb = last_index(ma, task.prompt_len), last_index(mb, task.prompt_len)
    pick = a_wins[:, None]
    return {
        "win": torch.where(pick, sa, sb),
        "lose": torch.where(pick, sb, sa),
        "last_w": torch.where(a_wins, la, lb),
        "last_l": torch.where(a_wins, lb, la),
        "u_w": torch.where(a_wins, ua, ub),
        "u_l": torch.where(a_wins, ub, ua),
    }


def train_reward_model(
    cfg: Any, sft_model: GPT, pairs: dict[str, Tensor], ctx: RunContext
) -> RewardModel:
    rm = RewardModel(copy.deepcopy(sft_model).requires_grad_(True).train())
    data = TensorDataset(pairs["win"], pairs["lose"], pairs["last_w"], pairs["last_l"])
    opt = torch.optim.AdamW(rm.parameters(), lr=cfg.rm_lr, weight_decay=0.0)
    with ctx.child("reward_model") as sub:
        fit(RewardModelTask(rm, l2=cfg.rm_l2), opt, data, cfg=cfg.rm_engine, ctx=sub)
    return rm.eval()


@torch.no_grad()
def reward_model_metrics(rm: RewardModel, ev: dict[str, Tensor]) -> dict[str, Any]:
    """Accuracy and calibration on held-out pairs, shown in random order (first = win or not)."""
    dev = next(rm.parameters()).device
    r_w = rm(ev["win"].to(dev), ev["last_w"].to(dev)).cpu()
    r_l = rm(ev["lose"].to(dev), ev["last_l"].to(dev)).cpu()
    g = torch.Generator().manual_seed(3)
    first_is_win = torch.rand(r_w.shape, generator=g) < 0.5
    d = torch.where(first_is_win, r_w - r_l, r_l - r_w)  # R(first) - R(second)
    y = first_is_win.float()
    tau = float(rm.tau)
    taus = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
    return {
        "reward_model_accuracy": float((r_w > r_l).float().mean()),
        "reward_model_accuracy_vs_truth": float(
            ((r_w > r_l) == (ev["u_w"] > ev["u_l"])).float().mean()
        ),
        "tau": tau,
        "ece_learned_tau": expected_calibration_error(torch.sigmoid(d / tau), y),
        "ece_tau_1": expected_calibration_error(torch.sigmoid(d), y),
        "ece_by_tau": {t: expected_calibration_error(torch.sigmoid(d / t), y) for t in taus},
    }


@torch.no_grad()
def best_of_n_curve(
    cfg: Any,
    sft_model: GPT,
    task: SentimentTask,
    rm: RewardModel,
    clf: BagOfWordsClassifier,
    prompts: PromptBatch,
) -> dict[str, Any]:
    """Mean best-of-n reward (learned and true) of SFT samples, n = 1, 2, 4, ..."""
    n_max = cfg.best_of_n_max
    ns = [2**k for k in range(int(math.log2(n_max)) + 1)]
    rep = prompts.repeat(n_max)
    seq, mask = generate(
        sft_model,
        rep.ids,
        task.max_response_len,
        eos_id=task.eos_id,
        generator=torch.Generator().manual_seed(11),
    )
    r = rm(seq, last_index(mask, task.prompt_len)).reshape(-1, n_max).cpu()
    u = clf.utility(task.texts(rep.info, task.decode(seq))).reshape(-1, n_max).cpu()
    best = r.cummax(dim=1).values  # best of the first n
    idx = torch.tensor([n - 1 for n in ns])
    chosen = [u[torch.arange(len(u)), r[:, :n].argmax(1)] for n in ns]
    return {
        "n": ns,
        "rm_reward": best[:, idx].mean(0).tolist(),
        "true_utility": [float(c.mean()) for c in chosen],
        "kl_bound": [best_of_n_kl(n) for n in ns],
    }


def log_fit(ns: list[int], ys: list[float]) -> tuple[float, float]:
    """Slope and R^2 of the least-squares line of ys against log n."""
    x = torch.tensor([math.log(n) for n in ns], dtype=torch.float64)
    y = torch.tensor(ys, dtype=torch.float64)
    xc, yc = x - x.mean(), y - y.mean()
    slope = float((xc * yc).sum() / xc.square().sum())
    resid = yc - slope * xc
    r2 = 1.0 - float(resid.square().sum() / yc.square().sum().clamp_min(1e-30))
    return slope, r2


def ppo_run(
    cfg: Any,
    beta: float,
    sft_model: GPT,
    task: SentimentTask,
    rm: RewardModel,
    clf: BagOfWordsClassifier,
    eval_prompts: PromptBatch,
    ctx: RunContext,
) -> dict[str, Any]:
    """PPO from the SFT model with coefficient ``beta``; evaluation against SFT samples."""
    torch.manual_seed(ctx.seed)
    policy = PolicyWithValue(copy.deepcopy(sft_model).requires_grad_(True).train())
    p = task.prompt_len

    def reward_fn(seq: Tensor, mask: Tensor, prompts: PromptBatch) -> Tensor:
        return rm(seq, last_index(mask, p))

    ctl = (
        AdaptiveKLController(max(beta, 1e-3), target=cfg.kl_target, horizon=10_000)
        if cfg.kl_target > 0 and beta > 0
        else FixedKLController(beta)
    )
    ppo = PPOTask(
        policy,
        frozen_copy(sft_model),
        task,
        reward_fn,
        eval_prompts,
        kl_controller=ctl,
        prompts_per_step=cfg.prompts_per_step,
        ppo_epochs=cfg.ppo_epochs,
        minibatches=cfg.minibatches,
        seed=ctx.seed,
    )
    opt = torch.optim.AdamW(policy.parameters(), lr=cfg.ppo_lr, weight_decay=0.0)
    loop = fit(ppo, opt, None, cfg=cfg.engine, ctx=ctx)
    ev = ppo.evaluate(eval_prompts)
    return {**scored(ev, task, rm, clf, eval_prompts), "history": loop.history}


@torch.no_grad()
def scored(
    ev: dict[str, Any],
    task: SentimentTask,
    rm: RewardModel,
    clf: BagOfWordsClassifier,
    prompts: PromptBatch,
) -> dict[str, Any]:
    """Ground-truth utility, learned reward and texts of sampled responses."""
    responses = task.decode(ev["seq"])
    return {
        "eval": ev,
        "responses": responses,
        "u": clf.utility(task.texts(prompts.info, responses)).cpu(),
        "r": rm(ev["seq"], last_index(ev["mask"], task.prompt_len)).cpu(),
    }


def summary(runs: list[dict[str, Any]], sft: dict[str, Any]) -> dict[str, Any]:
    wins = [win_rate(r["u"], sft["u"]) for r in runs]
    proxy = [win_rate(r["r"], sft["r"]) for r in runs]
    return {
        "true_win_rate": statistics.fmean(wins),
        "true_win_rate_per_seed": wins,
        "proxy_win_rate": statistics.fmean(proxy),
        "true_utility": statistics.fmean(float(r["u"].mean()) for r in runs),
        "proxy_reward": statistics.fmean(float(r["r"].mean()) for r in runs),
        "kl": statistics.fmean(r["eval"]["kl"] for r in runs),
        "distinct_2": statistics.fmean(distinct_n(r["responses"], 2) for r in runs),
        "perplexity_ref": statistics.fmean(
            reference_perplexity(r["eval"]["ref_logp"], r["eval"]["mask"]) for r in runs
        ),
    }


def sft_examples(task: SentimentTask, n: int, gen: torch.Generator) -> Tensor:
    p, r = task.prompt_len, task.max_response_len
    rows = [
        task.tokenizer.encode((s[:p] + s[p:][: r - 1] + task.eos)[: p + r])
        for s in task.sentences(n, gen)[0]
    ]
    return pad_right(rows, task.eos_id)


def plots(
    ctx: RunContext, m: dict[str, Any], run0: dict[str, Any], zero0: dict[str, Any]
) -> list[Any]:
    plots = []
    h = [r for r in run0["history"] if "train_reward" in r]
    z = [r for r in zero0["history"] if "train_reward" in r]
    if h and len(h) == len(z):
        plots.append(
            line_plot(
                [r["step"] for r in h],
                {
                    f"RM reward, beta={m['beta']:g}": [r["train_reward"] for r in h],
                    "RM reward, beta=0": [r["train_reward"] for r in z],
                    f"KL, beta={m['beta']:g}": [r["train_kl"] for r in h],
                    "KL, beta=0": [r["train_kl"] for r in z],
                },
                ctx.path("ppo_curves.png"),
                xlabel="PPO step",
                ylabel="nats / reward",
                title="PPO on sentiment (seed 0): learned reward and KL to SFT",
            )
        )
    taus = list(m["ece_by_tau"])
    plots.append(
        line_plot(
            taus,
            {"ECE of sigma(dR / tau)": [m["ece_by_tau"][t] for t in taus]},
            ctx.path("rm_calibration.png"),
            xlabel=f"tau (learned: {m['tau']:.2f})",
            ylabel="expected calibration error",
            title="Reward model calibration vs temperature",
            logx=True,
        )
    )
    bon = m["best_of_n"]
    plots.append(
        line_plot(
            bon["n"],
            {
                "reward model": bon["rm_reward"],
                "ground truth of the chosen": bon["true_utility"],
                "KL bound log n - (n-1)/n": bon["kl_bound"],
            },
            ctx.path("best_of_n.png"),
            xlabel="n",
            ylabel="mean over prompts",
            title="Best-of-n from the SFT policy",
            logx=True,
        )
    )
    return plots
