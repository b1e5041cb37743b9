"""Experiment ``grpo-arithmetic``: pretraining -> SFT -> GRPO on two-digit addition.

DeepSeek-R1-Zero's recipe (arXiv:2501.12948) at toy scale: a tiny character GPT is pretrained on
synthetic sums (``23+58=81``), fine-tuned on the question/answer format (``Q: 23+58= A: 81``,
prompt masked), then trained with GRPO (group-relative advantages, no critic, :math:`k_3` KL to the
SFT model) on the exact accuracy reward only (plus the format reward with ``think=True``). No
learned reward model is involved.

Pretraining runs once (sub-run ``pretrain/``: the shared base model); each of ``n_seeds`` seeds
then runs SFT and GRPO from it (``seed<i>/sft``, ``seed<i>/grpo``: its own SFT data order and
samples), so the claim's spread covers SFT and GRPO randomness, not pretraining; the claim is
judged with :func:`replearn.experiments.stats.compare_seeds` (greedy accuracy after GRPO vs
after SFT, paired by seed: the one-sided 95% Student-t lower bound of the mean gain must be
above zero; fewer than 3 seeds: "not measured"). Accuracy is
greedy decoding on a fixed set of ``eval_prompts`` held-out prompts, before GRPO
(``accuracy_sft``) and after (``accuracy_grpo``); ``kl`` is the KL of the GRPO policy to the SFT
model (nats per response, sampled). Seed 0's reward and KL curves go to
``grpo_curves.png``, samples before and after to ``samples.txt``.

Measured verdicts, numbers and samples: ``benchmarks/results/rlhf_claims.md``.

    replearn run grpo-arithmetic                  # 3 seeds
    replearn run grpo-arithmetic --preset quick
"""

from __future__ import annotations

import copy
import statistics
from dataclasses import dataclass, field
from typing import Any

import torch

from replearn import runfolder
from replearn.engine import EngineConfig, RunContext, fit, single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.rlhf.common import engine, frozen_copy, pretrain, sft
from replearn.experiments.stats import MIN_SEEDS, SeedComparison, compare_seeds, too_few_seeds
from replearn.report.plots import line_plot
from replearn.rlhf.grpo_trainer import GRPOTask
from replearn.rlhf.tasks import ArithmeticTask
from replearn.transformer.gpt.model import GPT, GPTConfig


@dataclass(frozen=True)
class Config:
    """Settings of the SFT -> GRPO arithmetic experiment.

    Attributes:
        ndigits: digits per operand.
        think: ``<think>..</think><answer>..</answer>`` format (adds the format reward).
        n_layer: transformer blocks of the char GPT.
        n_head: attention heads.
        n_embd: model width.
        pretrain_sums: sums in the pretraining text.
        pretrain_lr: AdamW rate of pretraining.
        pretrain: engine of pretraining (steps, windows per batch).
        sft_examples: (prompt, response) pairs for SFT.
        sft_lr: AdamW rate of SFT.
        sft_engine: engine of SFT.
        grpo_lr: AdamW rate of GRPO.
        prompts_per_step: prompts per GRPO step.
        group_size: responses sampled per prompt (G).
        inner_steps: gradient steps per batch of samples.
        beta: weight of the k3 KL to the SFT model.
        clip_eps: ratio clip.
        temperature: sampling temperature during GRPO.
        eval_prompts: held-out prompts for greedy accuracy.
        n_seeds: independent pipelines (the claim's spread).
        engine: engine of GRPO (``max_steps`` GRPO iterations).
    """

    ndigits: int = 2
    think: bool = False
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 64
    pretrain_sums: int = 20_000
    pretrain_lr: float = 3e-3
    pretrain: EngineConfig = field(default_factory=lambda: engine(1000, 64, log_every=100))
    sft_examples: int = 4000
    sft_lr: float = 1e-3
    sft_engine: EngineConfig = field(default_factory=lambda: engine(600, 32, log_every=100))
    grpo_lr: float = 2e-4
    prompts_per_step: int = 32
    group_size: int = 8
    inner_steps: int = 1
    beta: float = 0.04
    clip_eps: float = 0.2
    temperature: float = 1.0
    eval_prompts: int = 256
    n_seeds: int = 3
    engine: EngineConfig = field(default_factory=lambda: engine(250, 1, eval_every=50))

    def __post_init__(self) -> None:
        if self.n_seeds < 1 or self.group_size < 2 or self.eval_prompts < 1:
            raise ValueError("need n_seeds >= 1, group_size >= 2, eval_prompts >= 1")


def tiny() -> Config:
    """Seconds: one seed, a few steps of each stage."""
    return Config(
        n_layer=1, n_embd=32, pretrain_sums=500, pretrain=engine(5, 8), sft_examples=64,
        sft_engine=engine(5, 8), prompts_per_step=2, group_size=4, eval_prompts=16, n_seeds=1,
        engine=engine(3, 1, eval_every=0),
    )  # fmt: skip


def quick() -> Config:
    """Seconds: short stages, one seed (a smoke check; the claim needs 3 seeds)."""
    return Config(
        pretrain=engine(25, 64, log_every=5), sft_engine=engine(15, 32, log_every=5),
        prompts_per_step=16, eval_prompts=32, n_seeds=1, engine=engine(4, 1, eval_every=2),
    )  # fmt: skip


def _base_model(cfg: Config, task: ArithmeticTask, ctx: RunContext) -> GPT:
    """Step 0: the char GPT pretrained on sums without the question/answer frame."""
    gen = torch.Generator().manual_seed(ctx.seed)
    gcfg = GPTConfig(
        n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd, vocab_size=task.vocab_size,
        block_size=max(32, task.prompt_len + task.max_response_len),
    )  # fmt: skip
    text = torch.tensor(task.tokenizer.encode(task.pretraining_text(cfg.pretrain_sums, gen)))
    with ctx.child("pretrain") as sub:
        return pretrain(text, gcfg, cfg.pretrain, cfg.pretrain_lr, sub)


def _pipeline(cfg: Config, task: ArithmeticTask, base: GPT, ctx: RunContext) -> dict[str, Any]:
    gen = torch.Generator().manual_seed(ctx.seed)
    model = copy.deepcopy(base)
    with ctx.child("sft") as sub:
        seqs = task.sft_examples(cfg.sft_examples, gen)
        sft(model, seqs, task.prompt_len, task.eos_id, cfg.sft_engine, cfg.sft_lr, sub)
    eval_prompts = task.prompts(cfg.eval_prompts, torch.Generator().manual_seed(10_000))
    grpo = GRPOTask(
        model, frozen_copy(model), task, eval_prompts, prompts_per_step=cfg.prompts_per_step,
        group_size=cfg.group_size, inner_steps=cfg.inner_steps, clip_eps=cfg.clip_eps,
        beta=cfg.beta, temperature=cfg.temperature, seed=ctx.seed,
    )  # fmt: skip
    before = grpo.evaluate(eval_prompts)
    samples_before = grpo.rollout(eval_prompts, 0.0, torch.Generator())["responses"][:8]
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.grpo_lr, weight_decay=0.0)
    with ctx.child("grpo") as sub:
        loop = fit(grpo, opt, None, cfg=cfg.engine, ctx=sub)
    after = grpo.evaluate(eval_prompts)
    samples_after = grpo.rollout(eval_prompts, 0.0, torch.Generator())["responses"][:8]
    prompts = [task.tokenizer.decode(r) for r in eval_prompts.ids[:8].tolist()]
    return {
        "before": before, "after": after, "history": loop.history,
        "samples": list(zip(prompts, samples_before, samples_after, strict=True)),
    }  # fmt: skip


def _comparison(m: dict[str, Any]) -> SeedComparison:
    """Greedy accuracy after GRPO vs after SFT, paired by seed."""
    return compare_seeds(m["accuracy_grpo_per_seed"], m["accuracy_sft_per_seed"],
                         label_x="GRPO", label_y="SFT", unit="points")  # fmt: skip


def _verdict(m: dict[str, Any]) -> tuple[bool, str]:
    n = m["n_seeds"]
    if (why := too_few_seeds(n)) is not None:
        return False, why
    c = _comparison(m)
    return c.holds, (
        f"greedy accuracy {m['accuracy_sft']:.3f} after SFT -> {m['accuracy_grpo']:.3f} after GRPO "
        f"(mean of {n} seeds); {c.evidence()}; KL to SFT {m['kl']:.3f} nats/response"
    )


CLAIMS = (
    Claim(
        "grpo-raises-arithmetic-accuracy",
        "GRPO with the rule-based accuracy reward (no reward model, no critic) raises the greedy "
        "accuracy of the SFT model on held-out two-digit additions; holds if the 95% lower "
        "bound (Student t) of the mean gain, paired over >= 3 seeds, is above 0.",
        _verdict,
        "grpo_curves.png",
    ),
)


@experiment(
    "grpo-arithmetic",
    topic="rlhf",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Shao et al. 2024, arXiv:2402.03300 (GRPO); DeepSeek-AI 2025, arXiv:2501.12948",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """SFT then GRPO (rule-based reward, no critic) on synthetic addition, several seeds."""
    task = ArithmeticTask(ndigits=cfg.ndigits, think=cfg.think)
    runs = []
    with single_thread():
        base = _base_model(cfg, task, ctx)
        for i in range(cfg.n_seeds):
            with ctx.child(f"seed{i}", seed=ctx.seed + i) as sub:
                runs.append(_pipeline(cfg, task, base, sub))
    acc_sft = [r["before"]["accuracy"] for r in runs]
    acc_grpo = [r["after"]["accuracy"] for r in runs]
    metrics: dict[str, Any] = {
        "n_seeds": cfg.n_seeds,
        "accuracy_sft": statistics.fmean(acc_sft),
        "accuracy_grpo": statistics.fmean(acc_grpo),
        "accuracy_sft_per_seed": acc_sft,
        "accuracy_grpo_per_seed": acc_grpo,
        "accuracy_gain_per_seed": [a - b for a, b in zip(acc_grpo, acc_sft, strict=True)],
        "kl": statistics.fmean(r["after"]["kl"] for r in runs),
        "sampled_accuracy_sft": statistics.fmean(r["before"]["sampled_accuracy"] for r in runs),
        "sampled_accuracy_grpo": statistics.fmean(r["after"]["sampled_accuracy"] for r in runs),
        "response_length_sft": statistics.fmean(r["before"]["response_length"] for r in runs),
        "response_length_grpo": statistics.fmean(r["after"]["response_length"] for r in runs),
    }
    if cfg.n_seeds >= MIN_SEEDS:
        metrics["accuracy_comparison"] = _comparison(metrics).as_dict()
    hist = [h for h in runs[0]["history"] if "train_reward" in h]
    plots = []
    if hist:
        steps = [h["step"] for h in hist]
        plots.append(line_plot(
            steps,
            {"reward (sampled)": [h["train_reward"] for h in hist],
             "KL to SFT (k3, per token)": [h["train_kl"] for h in hist],
             "groups with signal": [h["train_groups_with_signal"] for h in hist]},
            ctx.path("grpo_curves.png"), xlabel="GRPO step", ylabel="value",
            title="GRPO on addition (seed 0): reward and KL",
        ))  # fmt: skip
    lines = ["prompt | SFT (greedy) | GRPO (greedy)"]
    for r, run_ in enumerate(runs):
        lines.append(f"-- seed {r}")
        lines += [f"{p!r} | {b!r} | {a!r}" for p, b, a in run_["samples"]]
    ctx.path(runfolder.SAMPLES).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Result(metrics=metrics, plots=plots)
