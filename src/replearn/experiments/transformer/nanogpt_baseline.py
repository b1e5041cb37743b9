"""nanoGPT's CPU ``shakespeare_char`` configuration in a plain PyTorch loop: the peer.

The one training loop of ``experiments/`` that does not go through the engine, on purpose:
``gpt-shakespeare`` compares the engine-trained recipe against the configuration nanoGPT
publishes for a CPU (4 layers, 4 heads, 128 channels, no biases, exact GELU, context 64,
batch 12, no dropout; AdamW lr 1e-3, betas (0.9, 0.99), weight decay 0.1 on >= 2-D tensors;
warm-up 100, cosine to 1e-4 at iteration 2000 then constant; clipping 1.0; float32),
trained the way nanoGPT's ``train.py`` does, for the same wall time.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from replearn.data.text import TinyShakespeare
from replearn.engine import RandomWindows
from replearn.experiments.transformer.char_gpt import eval_windows, window_loss
from replearn.transformer.gpt.model import GPT, GPTConfig

NANOGPT_CPU = {"val_loss": 1.88, "iters": 2000}
"""nanoGPT README, shakespeare_char on a CPU: val loss ~1.88 after 2000 iterations."""


def nanogpt_lr(it: int, lr: float = 1e-3, min_lr: float = 1e-4, warmup: int = 100,
               decay_iters: int = 2000) -> float:  # fmt: skip
    """nanoGPT's schedule in iterations: linear warm-up, cosine to ``min_lr``, then constant."""
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    p = min((it - warmup) / (decay_iters - warmup), 1.0)
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * p))


def baseline_nanogpt_loop(
    wall_time_s: float, *, seed: int = 0, eval_n: int = 256
) -> dict[str, Any]:
    """Train nanoGPT's CPU configuration for ``wall_time_s`` (evaluation included).

    Returns ``val_loss`` at the end, ``val_loss_2000_iters`` (the published point; None if
    not reached), ``steps``, ``wall_s`` and the ``curve`` of ``(wall_s, step, val_loss)``
    (ten evaluations on the first 32 windows, inside the budget).
    """
    torch.manual_seed(seed)
    cfg = GPTConfig(n_layer=4, n_head=4, n_embd=128, block_size=64, vocab_size=65,
                    bias=False, activation="gelu", dropout=0.0)  # fmt: skip
    model = GPT(cfg)
    opt = model.configure_optimizers(lr=1e-3, weight_decay=0.1, betas=(0.9, 0.99))
    windows = RandomWindows(TinyShakespeare("train", block_size=64).data, block_size=64,
                            batch_size=12, seed=seed)  # fmt: skip
    val = eval_windows(TinyShakespeare("val", block_size=64).data, 64, eval_n)
    t_start = time.perf_counter()
    t0 = time.perf_counter()
    window_loss(model, val[: min(len(val), 64)])  # the final evaluation's cost, measured
    eval_cost = (time.perf_counter() - t0) * len(val) / min(len(val), 64) * 1.2 + 0.05
    budget = wall_time_s - eval_cost
    every, next_eval = wall_time_s / 10, wall_time_s / 10
    curve: list[tuple[float, int, float]] = []
    at_2000: float | None = None
    step = 0
    model.train()
    while time.perf_counter() - t_start < budget:
        for group in opt.param_groups:
            group["lr"] = nanogpt_lr(step)
        x, y = windows.next_batch()
        loss = model.loss(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        if step == NANOGPT_CPU["iters"]:
            te = time.perf_counter()
            at_2000 = window_loss(model, val)
            budget -= time.perf_counter() - te
        if time.perf_counter() - t_start >= next_eval:
            curve.append((time.perf_counter() - t_start, step, window_loss(model, val[:32])))
            next_eval += every
    val_loss = window_loss(model, val)
    wall = time.perf_counter() - t_start
    curve.append((wall, step, val_loss))
    return {"val_loss": val_loss, "val_loss_2000_iters": at_2000, "steps": step, "wall_s": wall,
            "curve": curve}  # fmt: skip
