"""ViT training throughput: replearn's ViT vs Hugging Face ``ViTForImageClassification``.

    python benchmarks/bench_transformer_vit.py                    # CPU, ~2 min
    python benchmarks/bench_transformer_vit.py --device cuda --dtype bf16 --batch 128 \
        --image 224 --patch 16 --hidden 768 --layers 12 --heads 12     # ViT-B/16 on a GPU

Results: ``benchmarks/results/transformer_vit_train_<device>.{json,md}``.
``bench_transformer.py`` runs this file after its GPT parts.

Claim checked: replearn's training throughput (images/s of forward + cross-entropy + backward +
AdamW step) is at least that of ``transformers`` with the same configuration and the same
weights: ``t(replearn) / t(transformers) <= 1.0`` as a ratio of median round times, interleaved
in the same process (``benchmarks/harness.py``).

Both sides: ``ViTForImageClassification(config)`` (random init, seed 0) and ``ViT.from_hf`` of
it, so the two compute the same function (checked before timing: logits, loss, gradient norm).
Attention: ``transformers`` with ``attn_implementation="sdpa"`` (separate q/k/v projections,
then ``F.scaled_dot_product_attention``); replearn with ``fast=True`` (one fused ``qkv``
projection, then :func:`replearn.transformer.attention.scaled_dot_product_attention`, which calls
``F.scaled_dot_product_attention``; no mask on either side); replearn's ``ViT.forward`` computes
the last layer for the class token only (the classifier reads nothing else; ``transformers``
computes every row of it). Dropout 0 on both sides. A round is
``--steps`` training steps on a fixed random batch; each side has its own model and
``torch.optim.AdamW(lr=1e-4)``; with ``--dtype bf16`` both run under ``torch.autocast``.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from harness import RESULTS_DIR, BenchResult, add_throughput, compare
from replearn.transformer.vit.model import ViT

SEED = 0


class Side:
    """One contender: ``logits(x)``, its model and optimizer, the batch."""

    def __init__(self, logits: Any, model: nn.Module, x: Tensor, y: Tensor, args: Any) -> None:
        self.logits, self.model, self.x, self.y, self.steps = logits, model, x, y, args.steps
        self.bf16 = args.dtype == "bf16"
        self.model.train()
        self.opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def loss(self) -> Tensor:
        ctx = (torch.autocast(self.x.device.type, dtype=torch.bfloat16) if self.bf16
               else contextlib.nullcontext())  # fmt: skip
        with ctx:
            logits = self.logits(self.x)
        return F.cross_entropy(logits.float(), self.y)

    def train(self) -> float:
        """Timed: ``steps`` training steps; returns the last loss."""
        loss = torch.zeros(())
        for _ in range(self.steps):
            self.opt.zero_grad(set_to_none=True)
            loss = self.loss()
            loss.backward()
            self.opt.step()
        if self.x.is_cuda:
            torch.cuda.synchronize()
        return float(loss)


def check_same_function(ours: Side, theirs: Side) -> dict[str, Any]:
    """Float32, eval mode: logits; then loss and gradient norm (no optimizer step)."""
    for side in (ours, theirs):
        side.model.eval()
    with torch.no_grad():
        diff = float((ours.logits(ours.x) - theirs.logits(theirs.x)).abs().max())
    la, lb = (F.cross_entropy(s.logits(s.x), s.y) for s in (ours, theirs))
    la.backward()
    lb.backward()
    norm = lambda m: torch.sqrt(sum((p.grad.float() ** 2).sum() for p in m.parameters()))  # noqa: E731
    check = {
        "logits_max_abs_diff": diff,
        "loss_abs_diff": abs(float(la) - float(lb)),
        "grad_norm_rel_diff": float(
            abs(norm(ours.model) - norm(theirs.model)) / norm(theirs.model)
        ),
    }
    check["same_function"] = bool(
        diff < 1e-3 and check["loss_abs_diff"] < 1e-4 and check["grad_norm_rel_diff"] < 1e-3
    )
    for side in (ours, theirs):
        side.model.zero_grad(set_to_none=True)
        side.model.train()
    return check


def bench_train(args: argparse.Namespace, command: str) -> BenchResult:
    """Interleaved training-step timing, replearn ViT vs transformers ViTForImageClassification."""
    import transformers

    device = torch.device(args.device)
    cfg = transformers.ViTConfig(
        image_size=args.image, patch_size=args.patch, num_channels=3, hidden_size=args.hidden,
        num_hidden_layers=args.layers, num_attention_heads=args.heads,
        intermediate_size=4 * args.hidden, num_labels=args.classes, layer_norm_eps=1e-6,
        attn_implementation="sdpa",
    )  # fmt: skip
    torch.manual_seed(SEED)
    hf = transformers.ViTForImageClassification(cfg).to(device)
    ours = ViT.from_hf(hf).to(device)
    g = torch.Generator().manual_seed(SEED)
    x = torch.randn(args.batch, 3, args.image, args.image, generator=g).to(device)
    y = torch.randint(0, args.classes, (args.batch,), generator=g).to(device)
    s_ours = Side(ours, ours, x, y, args)
    s_theirs = Side(lambda t: hf(pixel_values=t).logits, hf, x, y, args)
    check = check_same_function(s_ours, s_theirs)
    print(f"vit-train: same function: {check}")
    if not check["same_function"]:
        raise RuntimeError(f"the two models differ: {check}")
    images = args.steps * args.batch
    n_params = sum(p.numel() for p in ours.parameters())
    tokens = (args.image // args.patch) ** 2 + 1
    notes = (
        f"Workload: ViT, image {args.image}x{args.image}, patch {args.patch} ({tokens} tokens), "
        f"hidden {args.hidden}, {args.layers} layers, {args.heads} heads, MLP {4 * args.hidden}, "
        f"{args.classes} classes, batch {args.batch}, {args.dtype} on {args.device}, "
        f"{args.steps} training steps per round ({n_params:,} parameters on each side).\n\n"
        "- `replearn`: `ViT.from_hf(hf_model)`, attention `fast=True`: fused `qkv` projection, "
        "then `F.scaled_dot_product_attention` (no mask); the last layer is computed for the "
        "class token only (the head reads nothing else: same logits and gradients).\n"
        "- `transformers` (peer): `ViTForImageClassification(config)`, "
        '`attn_implementation="sdpa"` (separate q/k/v projections, then '
        "`F.scaled_dot_product_attention`).\n\n"
        f"Same function checked before timing (float32, eval mode): {check}.\n\n"
        "Throughput = images per round / median round time; the claim is a ratio >= 1.0x. "
        "The machine may be shared (see the load average): quote the ratios."
    )
    result = compare(
        f"transformer_vit_train_{device.type}",
        {"replearn": s_ours.train, "transformers": s_theirs.train},
        rounds=args.rounds, warmup=args.warmup, baseline="transformers", threshold=1.0,
        command=command, threads=args.threads if device.type == "cpu" else None,
        out_dir=args.out, notes=notes, progress=print,
        extra={"images_per_round": images, "parameters": n_params, "same_function_check": check,
               "attention": {"replearn": "fused qkv + F.scaled_dot_product_attention",
                             "transformers": "sdpa (q/k/v + F.scaled_dot_product_attention)"},
               "dtype": args.dtype, "device": args.device},
    )  # fmt: skip
    add_throughput(result, images, "images", digits=1)
    result.write(args.out)
    return result


def main(argv: list[str] | None = None) -> list[BenchResult]:
    """Parse the arguments, check and time, write the results."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=11, help="timed rounds")
    p.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    p.add_argument("--threads", type=int, default=1, help="torch threads (CPU)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32")
    p.add_argument("--image", type=int, default=32, help="image side")
    p.add_argument("--patch", type=int, default=4, help="patch side")
    p.add_argument("--hidden", type=int, default=192)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=3)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=2, help="training steps per round")
    p.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = p.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda but no CUDA device is available")
    argv_used = argv if argv is not None else sys.argv[1:]
    command = shlex.join(["python", "benchmarks/bench_transformer_vit.py", *argv_used])
    result = bench_train(args, command)
    print((args.out / f"{result.name}.md").read_text())
    return [result]


if __name__ == "__main__":
    main()
