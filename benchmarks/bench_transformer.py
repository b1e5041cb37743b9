"""Transformer benchmarks: GPT training throughput vs Hugging Face GPT-2, KV-cache generation, MFU.

    python benchmarks/bench_transformer.py                     # CPU, ~3 min, GPT parts + peers
    python benchmarks/bench_transformer.py --only gpt-train    # one part
    python benchmarks/bench_transformer.py --device cuda --dtype bf16 --batch 32 \
        --n-layer 12 --n-head 12 --n-embd 768 --block 1024 --vocab 50304   # GPU, with MFU

Results: ``benchmarks/results/transformer_gpt_train_<device>.{json,md}``,
``transformer_gpt_generate_<device>.{json,md}`` and ``transformer_summary.md``. When
``bench_transformer_bert.py`` / ``bench_transformer_vit.py`` sit next to this file they are run
afterwards with the same ``--rounds``, ``--warmup``, ``--threads``, ``--device``, ``--dtype`` and
``--out`` (skip them with ``--only``).

1. **Training throughput** (claim: replearn >= 1.0x the tokens/s of ``transformers``). Both
   sides are the same network with the same weights: ``GPT2LMHeadModel(config)`` with
   ``attn_implementation="sdpa"`` (``F.scaled_dot_product_attention``, as our fast path) and
   ``GPT.from_hf`` of it; before timing, the logits, the loss and the gradient norm are checked
   equal. A round is ``--steps`` training steps on a fixed random batch: ``zero_grad``, forward,
   cross-entropy on the logits, ``backward``, ``torch.optim.AdamW`` step (each side its own
   optimizer). With ``--dtype bf16`` both run under ``torch.autocast`` (bf16).
2. **Generation with the KV cache** (claim: >= 5x faster than without at 256 new tokens):
   ``GPT.generate(prompt, 256, temperature=0, use_cache=True)`` against ``use_cache=False``
   (every token re-runs the whole context), the same model (context 512 >= prompt + 256, so
   both attend to everything); the generated tokens are checked identical.
3. **MFU** (model FLOPs utilisation): training FLOPs per token ``6N + 12 L C T``
   (:meth:`GPT.estimate_flops`) x measured tokens/s / the device's peak (``--peak-tflops``;
   by default 989 TFLOP/s dense bf16 for an H100 SXM, 312 for an A100, none on CPU; with
   ``--measure-peak`` the measured FLOP/s of a 2048^3 matrix product in the benchmark's dtype
   and threads, an achievable peak for a CPU). Reported, no threshold.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from harness import RESULTS_DIR, BenchResult, add_throughput, compare, write_atomic
from replearn.transformer.gpt.model import GPT, GPTConfig, mfu

SEED = 0
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L4": 121.0}
"""Dense bf16 tensor-core peaks (NVIDIA data sheets), by name fragment of the device."""


def measured_peak(device: torch.device, dtype: torch.dtype, n: int = 2048, reps: int = 5) -> float:
    """The FLOP/s of an n x n x n matrix product on the device (an achievable peak: a CPU
    has no data-sheet figure to divide by). Median of ``reps`` timed products after one."""
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = []
    for i in range(reps + 1):
        sync()
        start = time.perf_counter()
        a @ b
        sync()
        if i:
            times.append(time.perf_counter() - start)
    return 2 * n**3 / sorted(times)[len(times) // 2]


def peak_flops(
    device: torch.device, override: float | None, measure: bool = False, dtype: torch.dtype =
    torch.float32,
) -> float | None:  # fmt: skip
    """The device's peak in FLOP/s: ``override`` (TFLOP/s), else measured (``measure``), else
    the dense bf16 data-sheet figure of a known GPU (None on CPU)."""
    if override:
        return override * 1e12
    if measure:
        return measured_peak(device, dtype)
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v * 1e12 for k, v in PEAK_TFLOPS.items() if k in name), None)


def hf_gpt2(args: argparse.Namespace) -> nn.Module:
    """A randomly initialised ``GPT2LMHeadModel`` of the benchmark's size, SDPA attention."""
    import transformers

    cfg = transformers.GPT2Config(
        vocab_size=args.vocab, n_positions=args.block, n_embd=args.n_embd, n_layer=args.n_layer,
        n_head=args.n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0,
        eos_token_id=0, attn_implementation="sdpa",
    )  # fmt: skip
    torch.manual_seed(SEED)
    return transformers.GPT2LMHeadModel(cfg)


class HFLogits(nn.Module):
    """``transformers`` model as ``ids -> logits`` (no loss inside, as ours)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(input_ids=x, use_cache=False).logits


class Side:
    """One contender of the training benchmark: its model, optimizer and batch."""

    def __init__(self, model: nn.Module, x: Tensor, steps: int, bf16: bool, device) -> None:
        self.model, self.x, self.steps, self.device = model.train(), x, steps, device
        self.bf16 = bf16
        self.opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def train(self) -> float:
        loss = torch.zeros(())
        for _ in range(self.steps):
            self.opt.zero_grad(set_to_none=True)
            ctx = torch.autocast(self.device.type, dtype=torch.bfloat16) if self.bf16 else (
                contextlib.nullcontext())  # fmt: skip
            with ctx:
                logits = self.model(self.x[:, :-1])
                loss = F.cross_entropy(logits.flatten(0, 1).float(), self.x[:, 1:].flatten())
            loss.backward()
            self.opt.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return float(loss)


def same_function(ours: nn.Module, theirs: nn.Module, x: Tensor) -> dict[str, Any]:
    """Logits, loss and gradient norm of the two models on ``x`` (float32, before timing)."""
    with torch.no_grad():
        a, b = ours.eval()(x), theirs.eval()(x)
    loss_a = F.cross_entropy(ours.train()(x[:, :-1]).flatten(0, 1), x[:, 1:].flatten())
    loss_b = F.cross_entropy(theirs.train()(x[:, :-1]).flatten(0, 1), x[:, 1:].flatten())
    loss_a.backward(), loss_b.backward()
    norm = [torch.sqrt(sum((p.grad.float() ** 2).sum() for p in m.parameters()))
            for m in (ours, theirs)]  # fmt: skip
    ours.zero_grad(set_to_none=True), theirs.zero_grad(set_to_none=True)
    check = {
        "logits_max_abs_diff": float((a - b).abs().max()),
        "loss_abs_diff": abs(float(loss_a) - float(loss_b)),
        "grad_norm_rel_diff": float((norm[0] - norm[1]).abs() / norm[1]),
    }
    check["same_function"] = bool(
        check["logits_max_abs_diff"] < 1e-3 and check["loss_abs_diff"] < 1e-4
        and check["grad_norm_rel_diff"] < 1e-3
    )  # fmt: skip
    return check


def bench_train(args: argparse.Namespace, command: str) -> BenchResult:
    """Interleaved training-step timing, replearn GPT vs transformers GPT2LMHeadModel."""
    device = torch.device(args.device)
    hf = hf_gpt2(args)
    ours = GPT.from_hf(hf)
    theirs = HFLogits(hf)
    gen = torch.Generator().manual_seed(SEED)
    x = torch.randint(0, args.vocab, (args.batch, args.block + 1), generator=gen)
    check = same_function(ours, theirs, x[:2, : min(args.block, 64)])
    print(f"gpt-train: same function: {check}")
    if not check["same_function"]:
        raise RuntimeError(f"the two models differ: {check}")
    ours, theirs, x = ours.to(device), theirs.to(device), x.to(device)
    bf16 = args.dtype == "bf16"
    sides = {"replearn": Side(ours, x, args.steps, bf16, device),
             "transformers": Side(theirs, x, args.steps, bf16, device)}  # fmt: skip
    tokens = args.steps * args.batch * args.block
    flops_per_token = ours.estimate_flops(args.block)
    notes = (
        f"Workload: GPT-2 layout, {args.n_layer} layers, {args.n_head} heads, width "
        f"{args.n_embd}, context {args.block}, vocabulary {args.vocab}, batch {args.batch}, "
        f"{args.steps} training steps per round (AdamW), {args.dtype} on {args.device}.\n\n"
        "- `replearn`: `GPT.from_hf(hf_model)`, attention through "
        "`F.scaled_dot_product_attention` (`is_causal=True`).\n"
        '- `transformers` (peer): `GPT2LMHeadModel(config)`, `attn_implementation="sdpa"`.\n\n'
        f"Same function checked before timing (float32): {check}."
    )
    result = compare(
        f"transformer_gpt_train_{device.type}", {k: s.train for k, s in sides.items()},
        rounds=args.rounds, warmup=args.warmup, baseline="transformers", threshold=1.0,
        command=command, threads=args.threads, out_dir=args.out, notes=notes,
        extra={"same_function_check": check, "tokens_per_round": tokens,
               "flops_per_token": flops_per_token, "dtype": args.dtype, "device": args.device},
        progress=print,
    )  # fmt: skip
    rate = add_throughput(result, tokens, "tokens")
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    peak = peak_flops(device, args.peak_tflops, args.measure_peak, dtype)
    if peak is not None:
        result.extra["mfu"] = {k: mfu(flops_per_token, r, peak) for k, r in rate.items()}
        result.notes += (
            f" MFU at a {'measured ' if args.measure_peak else ''}peak of "
            f"{peak / 1e12:.3g} TFLOP/s: replearn "
            f"{result.extra['mfu']['replearn']:.1%}, transformers "
            f"{result.extra['mfu']['transformers']:.1%}."
        )
    result.write(args.out)
    return result


def bench_generate(args: argparse.Namespace, command: str) -> BenchResult:
    """``generate`` with and without the KV cache, 256 new tokens, greedy."""
    device = torch.device(args.device)
    torch.manual_seed(SEED)
    block = max(512, args.prompt + args.new_tokens)
    cfg = GPTConfig(n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd,
                    block_size=block, vocab_size=args.vocab)  # fmt: skip
    model = GPT(cfg).to(device).eval()
    prompt = torch.randint(0, args.vocab, (1, args.prompt),
                           generator=torch.Generator().manual_seed(SEED)).to(device)  # fmt: skip

    def run(use_cache: bool) -> Tensor:
        out = model.generate(prompt, args.new_tokens, temperature=0, use_cache=use_cache)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return out

    identical = bool(torch.equal(run(True), run(False)))
    print(f"gpt-generate: cached and uncached tokens identical: {identical}")
    notes = (
        f"Workload: GPT {args.n_layer} layers, {args.n_head} heads, width {args.n_embd}, "
        f"vocabulary {args.vocab}; prompt {args.prompt} tokens, {args.new_tokens} new tokens, "
        f"greedy, batch 1, float32 on {args.device}.\n\n"
        "- `kv-cache`: `generate(..., use_cache=True)`: each step reads one token and attends "
        "to the cached keys and values.\n"
        "- `no-cache` (baseline): `use_cache=False`: each step re-runs the whole context.\n\n"
        f"Identical generated tokens: {identical}. Claim: the cache is >= 5x faster, i.e. time "
        "ratio <= 0.2."
    )
    result = compare(
        f"transformer_gpt_generate_{device.type}",
        {"kv-cache": lambda: run(True), "no-cache": lambda: run(False)},
        rounds=max(3, args.rounds // 3), warmup=1, baseline="no-cache", threshold=0.2,
        command=command, threads=args.threads, out_dir=args.out, notes=notes,
        extra={"identical_tokens": identical, "new_tokens": args.new_tokens}, progress=print,
    )  # fmt: skip
    result.extra["speedup"] = 1 / result.ratio_of_medians["kv-cache"]
    result.notes += f"\n\nSpeed-up of the cache: **{result.extra['speedup']:.1f}x**."
    result.write(args.out)
    return result


def write_summary(results: list[BenchResult], out: Path, command: str) -> Path:
    """``transformer_summary.md``: the GPT rows."""
    lines = ["# Benchmark `transformer` (GPT)", "",
             "| benchmark | result | claim | verdict |", "| --- | --- | --- | --- |"]  # fmt: skip
    for r in results:
        ours = next(k for k in r.stats if k != r.baseline)
        if "throughput_ratio" in r.extra:
            rate = r.extra["tokens_per_s_median"]
            text = (f"{rate[ours]:.0f} vs {rate[r.baseline]:.0f} tokens/s = "
                    f"{r.extra['throughput_ratio']:.3f}x")  # fmt: skip
            if "mfu" in r.extra:
                text += f", MFU {r.extra['mfu'][ours]:.1%}"
            claim = ">= 1.0x"
        else:
            text, claim = f"cache speed-up {r.extra['speedup']:.1f}x", ">= 5x"
        lines.append(f"| {r.name} | {text} | {claim} | **{r.verdicts.get(ours, '-')}** |")
    m = results[0].machine if results else {}
    lines += ["", f"Machine: {m.get('cpu_count', '?')} CPUs, torch {m.get('torch', '?')}, "
              f"load average at start {m.get('load_average_start', ['?'])[0]}.", "",
              "```sh", command, "```", ""]  # fmt: skip
    path = out / "transformer_summary.md"
    write_atomic(path, "\n".join(lines))
    return path


def run_peers(args: argparse.Namespace) -> None:
    """Run ``bench_transformer_bert.py`` / ``bench_transformer_vit.py`` when they exist."""
    here = Path(__file__).resolve().parent
    for name in ("bench_transformer_bert.py", "bench_transformer_vit.py"):
        path = here / name
        if path.is_file():
            cmd = [sys.executable, str(path), "--rounds", str(args.rounds), "--warmup",
                   str(args.warmup), "--threads", str(args.threads), "--device", args.device,
                   "--dtype", args.dtype, "--out", str(args.out)]  # fmt: skip
            print("running", shlex.join(cmd))
            subprocess.run(cmd, check=False, cwd=here)


def main(argv: list[str] | None = None) -> list[BenchResult]:
    """Parse the arguments, run the selected benchmarks, write the summary."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=11, help="timed rounds")
    p.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    p.add_argument("--threads", type=int, default=1, help="torch threads (CPU)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32")
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=256)
    p.add_argument("--block", type=int, default=128, help="training context")
    p.add_argument("--vocab", type=int, default=65)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=2, help="training steps per round")
    p.add_argument("--prompt", type=int, default=16, help="prompt tokens (generation)")
    p.add_argument("--new-tokens", type=int, default=256)
    p.add_argument("--peak-tflops", type=float, default=None, help="device peak for MFU")
    p.add_argument(
        "--measure-peak", action="store_true",
        help="MFU against the measured FLOP/s of a 2048^3 matrix product (e.g. on a CPU)",
    )  # fmt: skip
    p.add_argument("--only", nargs="+", choices=("gpt-train", "gpt-generate", "peers"))
    p.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = p.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda but no CUDA device is available")
    command = shlex.join(["python", "benchmarks/bench_transformer.py", *(argv or sys.argv[1:])])
    only = set(args.only or ("gpt-train", "gpt-generate", "peers"))
    results = []
    if "gpt-train" in only:
        results.append(bench_train(args, command))
    if "gpt-generate" in only:
        results.append(bench_generate(args, command))
    if results:
        print(write_summary(results, args.out, command).read_text())
    if "peers" in only:
        run_peers(args)
    return results


if __name__ == "__main__":
    main()
