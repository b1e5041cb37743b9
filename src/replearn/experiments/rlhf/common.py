"""Stages shared by the RLHF experiments: pretraining and SFT of a tiny character GPT."""

from __future__ import annotations

import copy
from functools import partial

import torch
from torch.utils.data import TensorDataset

from replearn.engine import EngineConfig, RandomWindows, RunContext, fit
from replearn.experiments.common import engine_config
from replearn.rlhf.trainers import LanguageModelTask, SFTTask
from replearn.transformer.gpt.model import GPT, GPTConfig

__all__ = ["engine", "frozen_copy", "pretrain", "sft"]


#: A quiet engine config (no progress bar, a checkpoint at the end).
engine = partial(engine_config, log_every=10, progress=False)


def pretrain(
    text_ids: torch.Tensor, cfg: GPTConfig, eng: EngineConfig, lr: float, ctx: RunContext
) -> GPT:
    """Step 0: a fresh GPT trained on random windows of ``text_ids`` (next-token loss)."""
    torch.manual_seed(ctx.seed)
    model = GPT(cfg)
    stream = RandomWindows(
        text_ids, block_size=cfg.block_size, batch_size=eng.batch_size, seed=ctx.seed
    )
    fit(LanguageModelTask(model), model.configure_optimizers(lr=lr, weight_decay=0.0), stream,
        cfg=eng, ctx=ctx)  # fmt: skip
    return model


def sft(
    model: GPT, seqs: torch.Tensor, prompt_len: int, eos_id: int, eng: EngineConfig, lr: float,
    ctx: RunContext,
) -> GPT:  # fmt: skip
    """Step 1: supervised fine-tuning on (prompt, response) sequences, prompt masked."""
    task = SFTTask(model, prompt_len=prompt_len, eos_id=eos_id)
    fit(task, model.configure_optimizers(lr=lr, weight_decay=0.0), TensorDataset(seqs),
        cfg=eng, ctx=ctx)  # fmt: skip
    return model


def frozen_copy(model: GPT) -> GPT:
    """The reference policy: a copy without gradients."""
    ref = copy.deepcopy(model)
    return ref.requires_grad_(False).eval()
