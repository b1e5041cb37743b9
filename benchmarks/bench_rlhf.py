"""GRPO on two-digit addition: replearn's GRPOTask vs TRL's GRPOTrainer, same start, same work.

    python benchmarks/bench_rlhf.py                       # 3 rounds x 40 GRPO steps each
    python benchmarks/bench_rlhf.py --steps 10 --rounds 1 --warmup 0     # a smoke run

Claim checked (issue "RLHF", benchmarks): on the same starting weights (a char GPT pretrained
and fine-tuned here, exported to TRL with ``GPT.to_hf``), the same task (``ArithmeticTask``:
``Q: 23+58= A: `` prompts, exact accuracy reward), the same number of prompts and generations
per step, the same optimizer settings (AdamW, lr, no weight decay, beta for the k3 KL, one
gradient step per batch of samples, temperature 1), replearn reaches the same accuracy gain in
<= 0.5x TRL's wall time (ratio of medians, ``--threshold``).

A timed call is ``--steps`` GRPO iterations from a fresh copy of the starting model
(replearn: ``fit`` of :class:`~replearn.rlhf.grpo_trainer.GRPOTask`; TRL: ``trainer.train()``
of a ``GRPOTrainer`` built untimed). Accuracy before and after (greedy, ``--eval-prompts``
held-out prompts) is measured untimed with the same evaluator on both sides (TRL's model is
brought back with ``GPT.from_hf``). One thread (the harness's default).

Results: ``benchmarks/results/rlhf_grpo_trl.{json,md}``.
"""

from __future__ import annotations

import argparse
import copy
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from harness import RESULTS_DIR, Contender, compare, write_atomic
from replearn.engine import RunContext, fit
from replearn.experiments.rlhf.common import engine, frozen_copy, pretrain, sft
from replearn.rlhf.grpo_trainer import GRPOTask
from replearn.rlhf.tasks import ArithmeticTask
from replearn.transformer.gpt import GPT, GPTConfig


def _start_model(task: ArithmeticTask, tmp: Path, args: argparse.Namespace) -> GPT:
    gen = torch.Generator().manual_seed(0)
    cfg = GPTConfig(n_layer=2, n_head=2, n_embd=64, vocab_size=task.vocab_size, block_size=32)
    text = torch.tensor(task.tokenizer.encode(task.pretraining_text(20_000, gen)))
    model = pretrain(text, cfg, engine(args.pretrain_steps, 64), 3e-3,
                     RunContext(out=tmp / "pretrain", progress=False))  # fmt: skip
    sft(model, task.sft_examples(4000, gen), task.prompt_len, task.eos_id,
        engine(args.sft_steps, 32), 1e-3, RunContext(out=tmp / "sft", progress=False))  # fmt: skip
    return model


def _hf_tokenizer(task: ArithmeticTask) -> Any:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {c: i for i, c in enumerate(task.tokenizer.itos)}
    tk = Tokenizer(models.WordLevel(vocab, unk_token=task.tokenizer.itos[0]))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tk.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tk, eos_token=task.eos, pad_token=task.eos)


def _trl_trainer(start: GPT, task: ArithmeticTask, args: argparse.Namespace, tmp: Path) -> Any:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    gen = torch.Generator().manual_seed(1)
    n = args.steps * args.prompts
    a, b = task.sample(n, gen)
    data = Dataset.from_dict({
        "prompt": [task.prompt(x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True)],
        "answer": (a + b).tolist(),
    })  # fmt: skip

    def accuracy(completions: list[str], answer: list[int], **_: Any) -> list[float]:
        return task.accuracy(list(completions), list(answer)).tolist()

    path = tmp / "start_hf"
    tok = _hf_tokenizer(task)
    if not path.exists():  # TRL loads the policy and its reference from one folder
        hf = start.to_hf()
        hf.generation_config.eos_token_id = tok.eos_token_id
        hf.generation_config.pad_token_id = tok.pad_token_id
        hf.save_pretrained(path)
        tok.save_pretrained(path)
    cfg = GRPOConfig(
        output_dir=str(tmp / "trl"), per_device_train_batch_size=args.prompts * args.group,
        num_generations=args.group, max_completion_length=task.max_response_len,
        learning_rate=args.lr, weight_decay=0.0, beta=args.beta, temperature=1.0,
        max_steps=args.steps, lr_scheduler_type="constant", warmup_steps=0,
        logging_steps=max(args.steps, 1), report_to=[], save_strategy="no", use_cpu=True,
        bf16=False, num_iterations=1, shuffle_dataset=False, seed=0,
    )  # fmt: skip
    return GRPOTrainer(model=str(path), reward_funcs=accuracy, args=cfg, train_dataset=data,
                       processing_class=tok)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=40, help="GRPO iterations per timed call")
    p.add_argument("--prompts", type=int, default=8, help="prompts per iteration")
    p.add_argument("--group", type=int, default=8, help="generations per prompt")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--beta", type=float, default=0.04)
    p.add_argument("--pretrain-steps", type=int, default=1000)
    p.add_argument("--sft-steps", type=int, default=600)
    p.add_argument("--eval-prompts", type=int, default=256)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threshold", type=float, default=0.5)
    args = p.parse_args(argv)
    task = ArithmeticTask(ndigits=2)
    tmp = Path(tempfile.mkdtemp(prefix="bench_rlhf_"))
    start = _start_model(task, tmp, args)
    ev = task.prompts(args.eval_prompts, torch.Generator().manual_seed(10_000))

    def accuracy(model: GPT) -> float:
        return GRPOTask(model, frozen_copy(model), task, ev).evaluate(ev)["accuracy"]

    acc0 = accuracy(start)
    gains: dict[str, list[float]] = {"replearn": [], "trl": []}
    state: dict[str, Any] = {}

    def ours_setup() -> None:
        model = copy.deepcopy(start)
        state["ours"] = (model, GRPOTask(model, frozen_copy(start), task, ev,
                                         prompts_per_step=args.prompts, group_size=args.group,
                                         beta=args.beta, seed=len(gains["replearn"])))  # fmt: skip

    def ours() -> GPT:
        model, grpo = state["ours"]
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
        eng = engine(args.steps, 1, log_every=max(args.steps, 1), eval_every=args.steps + 1)
        fit(grpo, opt, None, cfg=eng, ctx=RunContext(out=tmp / "ours", progress=False))
        return model

    def trl_setup() -> None:
        state["trl"] = _trl_trainer(start, task, args, tmp)

    def trl() -> Any:
        state["trl"].train()
        return state["trl"].model

    contenders = {
        "replearn": Contender(ours, setup=ours_setup,
                              teardown=lambda m: gains["replearn"].append(accuracy(m) - acc0)),
        "trl": Contender(trl, setup=trl_setup,
                         teardown=lambda m: gains["trl"].append(accuracy(GPT.from_hf(m)) - acc0)),
    }  # fmt: skip
    result = compare(
        "rlhf_grpo_trl", contenders, rounds=args.rounds, warmup=args.warmup, baseline="trl",
        threshold=args.threshold,
        command=shlex.join([sys.executable, "benchmarks/bench_rlhf.py", *(argv or sys.argv[1:])]),
        notes="Accuracy: greedy, held-out prompts, start model and after each call (below).",
        extra={"start_accuracy": acc0, "gains": gains},
    )  # fmt: skip
    line = (
        f"\nStart accuracy {acc0:.3f}; accuracy gain after each call (warm-up included): "
        f"replearn {[round(g, 4) for g in gains['replearn']]}, "
        f"trl {[round(g, 4) for g in gains['trl']]}.\n"
    )
    md = RESULTS_DIR / "rlhf_grpo_trl.md"
    write_atomic(md, md.read_text(encoding="utf-8") + line)
    print(result.to_markdown() + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
