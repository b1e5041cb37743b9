"""Experiment ``rlhf-sentiment``: pretraining -> SFT -> reward model -> PPO, with a ground truth.

Sentiment-steered continuation (Ziegler et al. 2019, arXiv:1909.08593) on a tiny character GPT.
The annotator is a bag-of-words sentiment classifier replearn trains on labelled sentences; it
compares two continuations with Bradley-Terry noise (:mod:`replearn.rlhf.tasks.sentiment`). So
the learned reward model is a *proxy*, and the classifier's logit is the *ground truth*.

1. Step 0: a char GPT is pretrained on review sentences (mixed sentiment); step 1: SFT on
   (prompt, continuation) pairs, prompt masked (the reference policy).
2. Preference pairs: two SFT samples per prompt, labelled by the noisy annotator.
3. Reward model: the SFT GPT with a scalar head, Bradley-Terry loss with an L2 penalty and a
   learned temperature (``rm_pairs`` pairs; held-out ``rm_eval_pairs``).
4. PPO with the KL-shaped reward (``beta``), one run per seed, and the same with ``beta = 0``.
5. Evaluation on fixed held-out prompts: win rate of PPO over SFT samples under the ground truth
   (``true_win_rate``) and under the reward model, KL to the SFT model, distinct-2, perplexity
   under the SFT model; best-of-n under the reward model from SFT samples; calibration (ECE) of
   the reward model's preference probabilities with its learned temperature and with 1.

Claims and verdicts: :mod:`replearn.experiments.rlhf.sentiment_claims` (PPO claims paired over
the ``n_seeds`` seeds with ``compare_seeds``; the reward-model and best-of-n claims are about
the one reward model and SFT model a run trains).

The default data is the built-in template fixture (offline); ``--set data=sst2`` uses SST-2
sentences from the data folder.

Measured verdicts, numbers and samples: ``benchmarks/results/rlhf_claims.md``.

    replearn run rlhf-sentiment
    replearn run rlhf-sentiment --preset quick
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from replearn import runfolder
from replearn.engine import EngineConfig, RunContext, single_thread
from replearn.experiments.base import Result, experiment
from replearn.experiments.rlhf.common import engine, frozen_copy, pretrain, sft
from replearn.experiments.rlhf.sentiment_claims import (
    CLAIMS,
    exploit_comparisons,
    win_comparison,
)
from replearn.experiments.rlhf.sentiment_stages import (
    annotator,
    best_of_n_curve,
    plots,
    ppo_run,
    preference_pairs,
    reward_model_metrics,
    scored,
    sft_examples,
    summary,
    train_reward_model,
)
from replearn.experiments.stats import MIN_SEEDS
from replearn.rlhf.evaluation import distinct_n
from replearn.rlhf.policy import generate, response_logprobs
from replearn.rlhf.tasks import SentimentTask
from replearn.transformer.gpt.model import GPTConfig


@dataclass(frozen=True)
class Config:
    """Settings of the SFT -> RM -> PPO sentiment experiment.

    Attributes:
        data: ``fixture`` (built-in template sentences) or ``sst2`` (data folder).
        prompt_chars: prompt length (a sentence prefix).
        response_chars: characters generated per response.
        annotator_temperature: Bradley-Terry noise T of the annotator.
        n_layer: transformer blocks of the char GPT.
        n_head: attention heads.
        n_embd: model width.
        pretrain_sentences: sentences of pretraining text.
        pretrain_lr: AdamW rate of pretraining.
        pretrain: engine of pretraining.
        sft_examples: (prompt, continuation) pairs for SFT.
        sft_lr: AdamW rate of SFT.
        sft_engine: engine of SFT.
        classifier_sentences: labelled sentences for the annotator's classifier.
        classifier_engine: engine of the classifier (Adam, lr 0.05).
        rm_pairs: preference pairs to train the reward model.
        rm_eval_pairs: held-out pairs for its accuracy and calibration.
        rm_lr: AdamW rate of the reward model.
        rm_l2: L2 penalty on rewards.
        rm_engine: engine of the reward model (batches of pairs).
        ppo_lr: AdamW rate of PPO.
        beta: KL coefficient (initial one when ``kl_target`` > 0).
        kl_target: adaptive KL controller's target (0: fixed beta).
        prompts_per_step: rollouts per PPO step.
        ppo_epochs: passes per rollout batch.
        minibatches: minibatches per pass.
        eval_prompts: held-out prompts for the win rates.
        best_of_n_max: largest n of the best-of-n curve (powers of 2 up to it).
        n_seeds: PPO seeds (each also runs with beta = 0).
        engine: engine of PPO (``max_steps`` PPO iterations).
    """

    data: Literal["fixture", "sst2"] = "fixture"
    prompt_chars: int = 14
    response_chars: int = 24
    annotator_temperature: float = 1.0
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 64
    pretrain_sentences: int = 20_000
    pretrain_lr: float = 3e-3
    pretrain: EngineConfig = field(default_factory=lambda: engine(600, 64, log_every=100))
    sft_examples: int = 4000
    sft_lr: float = 1e-3
    sft_engine: EngineConfig = field(default_factory=lambda: engine(60, 32, log_every=20))
    classifier_sentences: int = 4000
    classifier_engine: EngineConfig = field(default_factory=lambda: engine(300, 128, log_every=100))
    rm_pairs: int = 2000
    rm_eval_pairs: int = 500
    rm_lr: float = 1e-3
    rm_l2: float = 0.01
    rm_engine: EngineConfig = field(default_factory=lambda: engine(250, 32, log_every=50))
    ppo_lr: float = 3e-4
    beta: float = 0.1
    kl_target: float = 0.0
    prompts_per_step: int = 32
    ppo_epochs: int = 2
    minibatches: int = 2
    eval_prompts: int = 256
    best_of_n_max: int = 16
    n_seeds: int = 3
    engine: EngineConfig = field(default_factory=lambda: engine(60, 1, eval_every=20))

    def __post_init__(self) -> None:
        if self.n_seeds < 1 or self.eval_prompts < 2 or self.best_of_n_max < 1:
            raise ValueError("need n_seeds >= 1, eval_prompts >= 2 and best_of_n_max >= 1")


def tiny() -> Config:
    """Seconds: every stage for a few steps, one seed."""
    return Config(
        n_layer=1,
        n_embd=32,
        response_chars=8,
        pretrain_sentences=300,
        pretrain=engine(3, 8),
        sft_examples=32,
        sft_engine=engine(2, 8),
        classifier_sentences=64,
        classifier_engine=engine(3, 32),
        rm_pairs=16,
        rm_eval_pairs=8,
        rm_engine=engine(2, 8),
        prompts_per_step=4,
        eval_prompts=8,
        best_of_n_max=2,
        n_seeds=1,
        engine=engine(2, 1, eval_every=0),
    )


def quick() -> Config:
    """Seconds: short stages, one seed (a smoke check)."""
    return Config(
        pretrain=engine(20, 64, log_every=5),
        sft_engine=engine(5, 32, log_every=5),
        classifier_engine=engine(15, 128, log_every=5),
        rm_engine=engine(10, 32, log_every=5),
        rm_pairs=100,
        rm_eval_pairs=50,
        prompts_per_step=16,
        eval_prompts=16,
        best_of_n_max=4,
        n_seeds=1,
        engine=engine(2, 1, eval_every=1),
    )


@experiment(
    "rlhf-sentiment",
    topic="rlhf",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Ziegler et al. 2019, arXiv:1909.08593; Ouyang et al. 2022, arXiv:2203.02155",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """SFT -> Bradley-Terry reward model -> PPO on sentiment, judged by a ground-truth annotator."""
    task = SentimentTask(
        data=cfg.data,
        prompt_chars=cfg.prompt_chars,
        response_chars=cfg.response_chars,
        annotator_temperature=cfg.annotator_temperature,
    )
    with single_thread():
        gen = torch.Generator().manual_seed(ctx.seed)
        gcfg = GPTConfig(
            n_layer=cfg.n_layer,
            n_head=cfg.n_head,
            n_embd=cfg.n_embd,
            vocab_size=task.vocab_size,
            block_size=max(64, cfg.prompt_chars + cfg.response_chars),
        )
        text = torch.tensor(
            task.tokenizer.encode(task.pretraining_text(cfg.pretrain_sentences, gen))
        )
        with ctx.child("pretrain") as sub:
            model = pretrain(text, gcfg, cfg.pretrain, cfg.pretrain_lr, sub)
        with ctx.child("sft") as sub:
            sft(
                model,
                sft_examples(task, cfg.sft_examples, gen),
                task.prompt_len,
                task.eos_id,
                cfg.sft_engine,
                cfg.sft_lr,
                sub,
            )
        sft_model = frozen_copy(model)
        clf = annotator(cfg, task, ctx)
        pairs = preference_pairs(sft_model, task, clf, cfg.rm_pairs, gen)
        ev_pairs = preference_pairs(
            sft_model, task, clf, cfg.rm_eval_pairs, torch.Generator().manual_seed(99)
        )
        rm = train_reward_model(cfg, sft_model, pairs, ctx).requires_grad_(False)
        metrics: dict[str, Any] = {
            "n_seeds": cfg.n_seeds,
            "beta": cfg.beta,
            **reward_model_metrics(rm, ev_pairs),
        }
        eval_prompts = task.prompts(cfg.eval_prompts, torch.Generator().manual_seed(10_000))
        seq, mask = generate(
            sft_model,
            eval_prompts.ids,
            task.max_response_len,
            eos_id=task.eos_id,
            generator=torch.Generator().manual_seed(1234),
        )
        ev_sft = {
            "seq": seq,
            "mask": mask,
            "kl": 0.0,
            "ref_logp": response_logprobs(sft_model, seq, task.prompt_len),
        }
        sft_run = scored(ev_sft, task, rm, clf, eval_prompts)
        metrics["best_of_n"] = best_of_n_curve(cfg, sft_model, task, rm, clf, eval_prompts)
        runs, zero = [], []
        for i in range(cfg.n_seeds):
            with ctx.child(f"seed{i}-beta{cfg.beta:g}", seed=ctx.seed + i) as sub:
                runs.append(ppo_run(cfg, cfg.beta, sft_model, task, rm, clf, eval_prompts, sub))
            with ctx.child(f"seed{i}-beta0", seed=ctx.seed + i) as sub:
                zero.append(ppo_run(cfg, 0.0, sft_model, task, rm, clf, eval_prompts, sub))
    metrics.update(summary(runs, sft_run))
    metrics["beta0"] = summary(zero, sft_run)
    metrics["sft"] = summary([sft_run], sft_run)
    for name, group in (("", runs), ("beta0", zero)):
        target = metrics[name] if name else metrics
        target["proxy_reward_per_seed"] = [float(r["r"].mean()) for r in group]
        target["true_utility_per_seed"] = [float(r["u"].mean()) for r in group]
        target["distinct_2_per_seed"] = [distinct_n(r["responses"], 2) for r in group]
    if cfg.n_seeds >= MIN_SEEDS:
        metrics["win_comparison"] = win_comparison(metrics).as_dict()
        proxy, truth = exploit_comparisons(metrics)
        metrics["proxy_comparison_beta0_vs_beta"] = proxy.as_dict()
        metrics["truth_comparison_beta_vs_beta0"] = truth.as_dict()
    lines = [f"prompt | SFT | PPO beta={cfg.beta:g} | PPO beta=0   (seed 0, held-out prompts)"]
    for j in range(min(12, cfg.eval_prompts)):
        lines.append(
            " | ".join(
                repr(x)
                for x in (
                    eval_prompts.info[j],
                    sft_run["responses"][j],
                    runs[0]["responses"][j],
                    zero[0]["responses"][j],
                )
            )
        )
    ctx.path(runfolder.SAMPLES).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Result(metrics=metrics, plots=plots(ctx, metrics, runs[0], zero[0]))
