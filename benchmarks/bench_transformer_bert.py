"""BERT training throughput: replearn's BERT vs Hugging Face BertForPreTraining / BertForMaskedLM.

    python benchmarks/bench_transformer_bert.py                    # CPU, ~3 min
    python benchmarks/bench_transformer_bert.py --only mlm         # one part
    python benchmarks/bench_transformer_bert.py --device cuda --batch 32 --seq 512 \
        --hidden 768 --layers 12 --heads 12 --vocab 30522          # BERT-base on a GPU

Results: ``benchmarks/results/transformer_bert_<part>_<device>.{json,md}`` and
``transformer_bert_summary.md``. ``bench_transformer.py`` runs this file after its GPT parts.

Claim checked, per part: replearn's training throughput (tokens/s of forward + loss + backward +
AdamW step) is at least that of ``transformers`` with the same configuration and the same
weights: ``t(replearn) / t(transformers) <= 1.0`` as a ratio of median round times, interleaved
in the same process (``benchmarks/harness.py``).

Parts:

* ``pretraining``: ``BertForPreTraining(config)`` (masked-LM + NSP heads) against
  ``BERT.from_hf`` of it; loss = masked-token cross-entropy + NSP cross-entropy;
* ``mlm``: ``BertForMaskedLM(config)`` (no pooler, no NSP) against ``BERT.from_hf`` of it; loss =
  masked-token cross-entropy.

Both sides train on the same loss (:func:`replearn.transformer.bert.pretraining_loss`, the
mean cross-entropy over the labelled positions, plus NSP). ``transformers`` computes it from its
full ``(B, L, V)`` logits (its API has no other path); replearn calls
:meth:`~replearn.transformer.bert.BERT.pretraining_loss`, which runs the masked-LM head on the
labelled positions only (the other logits are never read; NVIDIA's BERT does the same). The
two give the same loss and gradients (``tests/transformer/test_bert_layers.py``, float64) and
are checked equal here before timing.

Attention: ``transformers`` runs with ``attn_implementation="sdpa"``
(``F.scaled_dot_product_attention`` with an additive padding mask); replearn with ``fast=True``,
i.e. :func:`replearn.transformer.attention.scaled_dot_product_attention` calling
``F.scaled_dot_product_attention`` with a boolean padding mask, and one fused ``Linear(H, 3H)``
for Q, K and V (``transformers``: three ``Linear(H, H)``). Both use dropout 0.1 (hidden and
attention probabilities) and the exact GELU. A round is ``--steps`` training steps on a fixed
random batch (random tokens, the last quarter of every other row padded, 15% of the real
tokens labelled, random NSP labels); each side has its own model copy and
``torch.optim.AdamW(lr=1e-4)``. Before timing the two are checked to compute the same function
(eval mode: logits; the timed loss paths: loss and gradient norm).
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from harness import RESULTS_DIR, BenchResult, add_throughput, compare, write_atomic
from replearn.transformer.bert.model import BERT, pretraining_loss

SEED = 0


def make_batch(args: argparse.Namespace, device: torch.device) -> dict[str, Tensor]:
    """Random tokens, padding on every other row, 15% MLM labels, NSP labels."""
    g = torch.Generator().manual_seed(SEED)
    b, n = args.batch, args.seq
    x = torch.randint(5, args.vocab, (b, n), generator=g)
    mask = torch.ones(b, n, dtype=torch.long)
    mask[1::2, n - n // 4 :] = 0
    x = x.masked_fill(mask == 0, 0)
    tt = (torch.arange(n) >= n // 2).long().expand(b, n).contiguous()
    sel = (torch.rand(b, n, generator=g) < 0.15) & mask.bool()
    labels = torch.where(sel, x, torch.full_like(x, -100))
    nsp = torch.randint(0, 2, (b,), generator=g)
    batch = {"x": x, "tt": tt, "mask": mask, "labels": labels, "nsp": nsp}
    return {k: v.to(device) for k, v in batch.items()}


class Side:
    """One contender: ``logits(batch) -> (mlm, nsp or None)``, ``loss(batch) -> ()``, its
    optimizer, the batch."""

    def __init__(
        self, logits: Any, loss: Any, model: nn.Module, batch: dict, steps: int, amp: Any
    ) -> None:
        self.logits, self.loss_fn, self.model, self.batch = logits, loss, model, batch
        self.steps, self.amp = steps, amp
        self.model.train()
        self.opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def loss(self) -> Tensor:
        with self.amp():
            return self.loss_fn(self.batch)

    def train(self) -> float:
        """Timed: ``steps`` training steps; returns the last loss."""
        loss = torch.zeros(())
        for _ in range(self.steps):
            self.opt.zero_grad(set_to_none=True)
            loss = self.loss()
            loss.backward()
            self.opt.step()
        if self.batch["x"].is_cuda:
            torch.cuda.synchronize()
        return float(loss)


def check_same_function(ours: Side, theirs: Side) -> dict[str, Any]:
    """Eval mode: max |logit difference|, loss difference and gradient-norm relative difference."""
    check: dict[str, Any] = {}
    for side in (ours, theirs):
        side.model.eval()
        side.model.zero_grad(set_to_none=True)
    with torch.no_grad():
        a, b = ours.logits(ours.batch), theirs.logits(theirs.batch)
    check["mlm_logits_max_abs_diff"] = float((a[0] - b[0]).abs().max())
    la, lb = ours.loss(), theirs.loss()
    la.backward()
    lb.backward()
    norm = lambda m: torch.sqrt(sum((p.grad.float() ** 2).sum() for p in m.parameters()))  # noqa: E731
    check["loss_abs_diff"] = abs(float(la.detach()) - float(lb.detach()))
    check["grad_norm_rel_diff"] = float(
        abs(norm(ours.model) - norm(theirs.model)) / norm(theirs.model)
    )
    ok = check["mlm_logits_max_abs_diff"] < 1e-3 and check["loss_abs_diff"] < 1e-4
    check["same_function"] = bool(ok and check["grad_norm_rel_diff"] < 1e-3)
    for side in (ours, theirs):
        side.model.zero_grad(set_to_none=True)
        side.model.train()
    return check


def bench_part(part: str, args: argparse.Namespace, command: str) -> BenchResult:
    """Interleaved timing of one part (``pretraining`` or ``mlm``)."""
    import transformers

    device = torch.device(args.device)
    cfg = transformers.BertConfig(
        vocab_size=args.vocab, hidden_size=args.hidden, num_hidden_layers=args.layers,
        num_attention_heads=args.heads, intermediate_size=4 * args.hidden,
        max_position_embeddings=max(512, args.seq), attn_implementation="sdpa",
    )  # fmt: skip
    cls = transformers.BertForPreTraining if part == "pretraining" else transformers.BertForMaskedLM
    torch.manual_seed(SEED)
    hf = cls(cfg).to(device)
    ours = BERT.from_hf(hf).to(device)
    batch = make_batch(args, device)
    amp = (
        (lambda: torch.autocast(device.type, dtype=torch.bfloat16))
        if args.dtype == "bf16" else contextlib.nullcontext
    )  # fmt: skip

    def theirs_logits(b: dict) -> tuple[Tensor, Tensor | None]:
        out = hf(input_ids=b["x"], token_type_ids=b["tt"], attention_mask=b["mask"])
        if part == "pretraining":
            return out.prediction_logits, out.seq_relationship_logits
        return out.logits, None

    def theirs_loss(b: dict) -> Tensor:  # from the full (B, L, V) logits
        mlm, nsp = theirs_logits(b)
        return pretraining_loss(mlm, b["labels"], nsp, b["nsp"] if nsp is not None else None)

    def ours_logits(b: dict) -> tuple[Tensor, Tensor | None]:
        if part == "pretraining":
            return ours.pretraining_logits(b["x"], b["tt"], b["mask"])
        return ours.mlm(ours(b["x"], b["tt"], b["mask"])), None

    def ours_loss(b: dict) -> Tensor:  # the head on the labelled positions only
        nsp = b["nsp"] if part == "pretraining" else None
        return ours.pretraining_loss(b["x"], b["labels"], b["tt"], b["mask"], nsp)

    s_ours = Side(ours_logits, ours_loss, ours, batch, args.steps, amp)
    s_theirs = Side(theirs_logits, theirs_loss, hf, batch, args.steps, amp)
    check = check_same_function(s_ours, s_theirs)
    print(f"{part}: same function: {check}")
    if not check["same_function"]:
        raise RuntimeError(f"{part}: the two models differ: {check}")
    tokens = args.steps * args.batch * args.seq
    n_params = sum(p.numel() for p in ours.parameters())
    notes = (
        f"Workload: {cls.__name__} layout, vocab {args.vocab}, hidden {args.hidden}, "
        f"{args.layers} layers, {args.heads} heads, feed-forward {4 * args.hidden}, batch "
        f"{args.batch} x {args.seq} tokens, {args.dtype}, {args.steps} training steps per round "
        f"({n_params:,} parameters on each side, decoder tied to the embedding).\n\n"
        "- `replearn`: `BERT.from_hf(hf_model)`, attention `fast=True` "
        "(`F.scaled_dot_product_attention`, boolean padding mask), one fused Q/K/V `Linear`; "
        "loss from `BERT.pretraining_loss` (masked-LM head on the labelled positions only).\n"
        f'- `transformers` (peer): `{cls.__name__}(config)` with `attn_implementation="sdpa"` '
        "(`F.scaled_dot_product_attention`, additive padding mask); the same loss from its "
        "full logits.\n\n"
        f"Same function checked before timing (eval mode): {check}.\n\n"
        "Throughput = tokens per round / median round time; the claim is a throughput ratio "
        ">= 1.0x. The machine may be shared (see the load average): quote the ratios."
    )
    result = compare(
        f"transformer_bert_{part}_{args.device.split(':')[0]}",
        {"replearn": s_ours.train, "transformers": s_theirs.train},
        rounds=args.rounds, warmup=args.warmup, baseline="transformers", threshold=1.0,
        command=command, threads=args.threads if device.type == "cpu" else None,
        out_dir=args.out, notes=notes, progress=print,
        extra={"part": part, "tokens_per_round": tokens, "parameters": n_params,
               "same_function_check": check, "attention": "sdpa both"},
    )  # fmt: skip
    add_throughput(result, tokens, "tokens")
    result.write(args.out)
    return result


def write_summary(results: list[BenchResult], out: Path, command: str) -> Path:
    lines = [
        "# Benchmark `transformer_bert`: training throughput vs Hugging Face",
        "",
        "| part | replearn tokens/s | transformers tokens/s | ratio | paired (95% CI) | verdict |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        rate, ci = r.extra["tokens_per_s_median"], r.paired_ratio_ci95.get("replearn")
        ci_text = f" ({1 / ci[1]:.3f}–{1 / ci[0]:.3f})" if ci else ""
        lines.append(
            f"| {r.extra['part']} | {rate['replearn']:.0f} | {rate['transformers']:.0f} | "
            f"{r.extra['throughput_ratio']:.3f}x | {1 / r.paired_ratio['replearn']:.3f}x"
            f"{ci_text} | **{r.verdicts.get('replearn', '-')}** (>= 1.0x) |"
        )
    m = results[0].machine if results else {}
    lines += ["", f"Load average (1 min) at the start: {m.get('load_average_start', ['?'])[0]}; "
              "attention: F.scaled_dot_product_attention on both sides.", "", "Reproduce:", "",
              "```sh", command, "```", ""]  # fmt: skip
    path = out / "transformer_bert_summary.md"
    write_atomic(path, "\n".join(lines))
    return path


def main(argv: list[str] | None = None) -> list[BenchResult]:
    """Parse the arguments, check and time each part, write the results."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=11, help="timed rounds")
    p.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    p.add_argument("--threads", type=int, default=1, help="torch threads (CPU)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32")
    p.add_argument("--vocab", type=int, default=8000)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--steps", type=int, default=2, help="training steps per round")
    p.add_argument("--only", nargs="+", choices=("pretraining", "mlm"))
    p.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = p.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda but no CUDA device is available")
    argv_used = argv if argv is not None else sys.argv[1:]
    command = shlex.join(["python", "benchmarks/bench_transformer_bert.py", *argv_used])
    results = [bench_part(part, args, command) for part in args.only or ("pretraining", "mlm")]
    print(write_summary(results, args.out, command).read_text())
    return results


if __name__ == "__main__":
    main()
