"""Experiment ``d3pm-text``: discrete diffusion (D3PM) vs an autoregressive model at equal compute.

D3PM (Austin et al. 2021) with absorbing ([MASK]) or uniform transitions is trained with
its hybrid loss on token sequences by a bidirectional transformer
(:class:`~replearn.diffusion.d3pm.SequenceDenoiser`); a causal GPT
(:class:`~replearn.transformer.gpt.GPT`) of the same width and depth is trained as the
autoregressive ("char") model on the same sequences with the same number of updates and
batch size, so both see the same data and spend about the same compute (one forward and
backward pass of an equal-size transformer per update). Both train through the engine,
for ``n_seeds`` seeds.

Measured on held-out sequences: D3PM's full variational bound (:math:`L_T + \\sum_t L_t`,
T network calls) and the GPT's exact negative log-likelihood, both in bits per token; a
uniform model gets :math:`\\log_2 K`. Samples of both are saved. Claims: D3PM's bound is below
the uniform model's for every seed; the GPT's NLL is below D3PM's bound by
:func:`~replearn.experiments.stats.compare_seeds` (paired by seed, >= 3 seeds, one-sided 95%
Student-t lower bound > 0; per-seed numbers in ``ar_comparison``; "not measured" with fewer
seeds).

Data: ``digits-binary`` (default, embedded: the 8x8 digits thresholded at 0.5, read as
64-token binary sequences in raster order) or ``tiny-shakespeare`` (``--set
data=tiny-shakespeare``: non-overlapping 64-character blocks, file). Writes
``samples.png`` (digits) or ``samples.txt`` (text).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import TensorDataset

from replearn import runfolder
from replearn.diffusion.d3pm import D3PM, SequenceDenoiser
from replearn.engine import EngineConfig, RunContext, Task, evaluate, fit, single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import engine_config
from replearn.experiments.stats import (
    MIN_SEEDS,
    SeedComparison,
    compare_seeds,
    mean_se,
    too_few_seeds,
)
from replearn.report.plots import save_image_grid
from replearn.transformer.gpt.model import GPT

_engine = partial(engine_config, log_every=100, progress=False)


@dataclass(frozen=True)
class Config:
    """Config of ``d3pm-text``.

    Attributes:
        data: digits-binary (embedded) or tiny-shakespeare (file).
        kind: D3PM transitions, absorbing or uniform.
        timesteps: D3PM steps T.
        dim: transformer width of both models.
        depth: transformer blocks of both models.
        heads: attention heads of both models.
        lr: AdamW learning rate of both models.
        n_seeds: training seeds.
        n_eval: held-out sequences the bits per token are measured on.
        engine: training-loop settings of each model (the same for both: equal compute).
    """

    data: Literal["digits-binary", "tiny-shakespeare"] = "digits-binary"
    kind: Literal["absorbing", "uniform"] = "absorbing"
    timesteps: int = 64
    dim: int = 64
    depth: int = 2
    heads: int = 4
    lr: float = 1e-3
    n_seeds: int = 3
    n_eval: int = 300
    engine: EngineConfig = field(default_factory=lambda: _engine(500, 64))


def tiny() -> Config:
    """Seconds: T = 8, one seed, 20 updates."""
    return Config(
        timesteps=8, dim=16, depth=1, heads=2, n_seeds=1, n_eval=20, engine=_engine(20, 16)
    )


def quick() -> Config:
    """Seconds: three seeds, T = 16, one block of width 32, 10 updates of 32 each, 20 held-out
    sequences (a smoke check; T = 64, two blocks of 64 and 20 updates took 14 CPU s)."""
    return Config(timesteps=16, dim=32, depth=1, n_eval=20, engine=_engine(10, 32))


def load_sequences(name: str) -> tuple[Tensor, Tensor, int, Any]:
    """(train, held-out) token sequences (N, 64), the number of data tokens, a decoder."""
    if name == "digits-binary":
        from replearn.data.images import load_classification

        data = load_classification("digits", val_fraction=0.0)
        train = (data.train.tensors[0] > 0.5).long().reshape(-1, 64)
        test = (data.test.tensors[0] > 0.5).long().reshape(-1, 64)
        return train, test, 2, None
    from replearn.data.text import CharVocab, tiny_shakespeare_text

    text = tiny_shakespeare_text()
    vocab = CharVocab(text)
    ids = torch.tensor(vocab.encode(text), dtype=torch.long)
    blocks = ids[: len(ids) // 64 * 64].reshape(-1, 64)
    n = int(0.9 * len(blocks))
    return blocks[:n], blocks[n:], len(vocab), vocab


class D3PMTask(Task):
    """D3PM's hybrid loss as a simple engine task."""

    def __init__(self, model: D3PM) -> None:
        super().__init__()
        self.model = model

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        return self.model(batch[0]), {}


class ARTask(Task):
    """Next-token cross-entropy of a causal GPT; a BOS token (id K) starts every sequence."""

    def __init__(self, model: GPT, bos: int) -> None:
        super().__init__()
        self.model, self.bos = model, bos

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x = batch[0]
        inp = torch.cat([torch.full_like(x[:, :1], self.bos), x[:, :-1]], 1)
        logits = self.model(inp)  # (B, L, K + 1)
        return F.cross_entropy(logits.flatten(0, 1), x.flatten()), {}


def ar_comparison(m: dict[str, Any]) -> SeedComparison | None:
    """Is the GPT's NLL below D3PM's bound? compare_seeds per seed (None: fewer than 3 seeds)."""
    if len(m["ar_bits_per_seed"]) < MIN_SEEDS:
        return None
    return compare_seeds(
        m["ar_bits_per_seed"], m["d3pm_bits_per_seed"], higher_is_better=False,
        label_x="autoregressive NLL", label_y="D3PM bound",
    )  # fmt: skip


def _verdict_runs(m: dict[str, Any]) -> tuple[bool, str]:
    per_seed = m["d3pm_bits_per_seed"]
    holds = max(per_seed) < m["uniform_bits_per_token"]
    return holds, (
        f"D3PM ({m['kind']}) bound per seed {', '.join(f'{v:.4f}' for v in per_seed)} "
        f"bits/token (mean {m['d3pm_bits_per_token']:.4f}) vs a uniform model "
        f"{m['uniform_bits_per_token']:.4f} (every seed below required)"
    )


def _verdict_ar(m: dict[str, Any]) -> tuple[bool, str]:
    c = ar_comparison(m)
    rule = too_few_seeds(m["n_seeds"]) if c is None else (
        f"bits/token saved {c.evidence()}"
    )  # fmt: skip
    return c is not None and c.holds, (
        f"D3PM bound {m['d3pm_bits_per_token']:.4f} vs autoregressive NLL "
        f"{m['ar_bits_per_token']:.4f} bits/token (means over {m['n_seeds']} seeds); {rule}; "
        f"{m['updates']} updates of batch {m['batch_size']} each, same width and depth"
    )


CLAIMS = (
    Claim("discrete-diffusion-runs", "Discrete diffusion (D3PM) learns the data: its "
          "variational bound in bits per token falls below that of a uniform model, for each "
          "of 3 training seeds.",
          _verdict_runs, None),
    Claim("autoregressive-wins-at-equal-compute", "At equal compute (same network size, "
          "updates and batch), an autoregressive model reaches fewer bits per token than "
          "D3PM's variational bound (3 training seeds; one-sided 95% Student-t lower bound of "
          "the mean paired difference > 0).", _verdict_ar, None),
)  # fmt: skip


@experiment(
    "d3pm-text",
    topic="diffusion",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Austin, Johnson, Ho, Tarlow & van den Berg 2021, NeurIPS, arXiv:2107.03006",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """D3PM vs a same-size autoregressive transformer, equal updates: bits per token."""
    train, test, k_data, vocab = load_sequences(cfg.data)
    test = test[: cfg.n_eval]
    k = k_data + 1 if cfg.kind == "absorbing" else k_data
    d3pm_bits, ar_bits = [], []
    model = None
    for i in range(cfg.n_seeds):
        seed = ctx.seed + i
        torch.manual_seed(seed)
        net = SequenceDenoiser(num_classes=k, length=64, dim=cfg.dim, depth=cfg.depth,
                               heads=cfg.heads, timesteps=cfg.timesteps)  # fmt: skip
        d3pm = D3PM(net, num_classes=k, timesteps=cfg.timesteps, kind=cfg.kind)
        opt = torch.optim.AdamW(d3pm.parameters(), lr=cfg.lr)
        with single_thread(), ctx.child(f"d3pm-seed{i}", seed=seed) as sub:
            fit(D3PMTask(d3pm), opt, TensorDataset(train), cfg=cfg.engine, ctx=sub)
        torch.manual_seed(seed)
        dev = next(d3pm.parameters()).device
        d3pm_bits.append(float(d3pm.eval().bits_per_token(test.to(dev)).mean()))
        torch.manual_seed(seed)
        gpt = GPT(vocab_size=k_data + 1, block_size=64, n_layer=cfg.depth, n_head=cfg.heads,
                  n_embd=cfg.dim)  # fmt: skip
        ar = ARTask(gpt, bos=k_data)
        opt = torch.optim.AdamW(gpt.parameters(), lr=cfg.lr)
        with single_thread(), ctx.child(f"ar-seed{i}", seed=seed) as sub:
            fit(ar, opt, TensorDataset(train), cfg=cfg.engine, ctx=sub)
        nll = evaluate(ar, TensorDataset(test), device=ctx.device)["val_loss"]
        ar_bits.append(nll / math.log(2))
        model = model or d3pm
    metrics: dict[str, Any] = {
        "data": cfg.data, "kind": cfg.kind, "n_seeds": cfg.n_seeds,
        "updates": cfg.engine.max_steps, "batch_size": cfg.engine.batch_size,
        "d3pm_bits_per_token": mean_se(d3pm_bits)[0], "ar_bits_per_token": mean_se(ar_bits)[0],
        "d3pm_bits_per_seed": d3pm_bits, "ar_bits_per_seed": ar_bits,
        "uniform_bits_per_token": math.log2(k_data),
    }  # fmt: skip
    c = ar_comparison(metrics)
    metrics["ar_comparison"] = None if c is None else c.as_dict()
    samples = model.sample(16, 64, generator=torch.Generator().manual_seed(ctx.seed)).cpu()  # type: ignore[union-attr]
    plots = []
    if vocab is None:
        plots.append(save_image_grid(samples.reshape(16, 1, 8, 8).float(), ctx.path("samples.png"),
                                     nrow=8, value_range=(0, 1), title="D3PM samples"))  # fmt: skip
    else:
        ctx.path(runfolder.SAMPLES).write_text(
            "\n---\n".join(vocab.decode(s.tolist()) for s in samples)
        )
    return Result(metrics=metrics, model=model, plots=plots)
