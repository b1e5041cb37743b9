"""CNN training throughput: replearn's ResNet-18, ConvNeXt-T and EfficientNet-B0 vs Hugging Face.

    python benchmarks/bench_cnn.py                                  # 8 x 3 x 64 x 64, ~4 min
    python benchmarks/bench_cnn.py --size 224 --steps 1 --rounds 9 \
        --only resnet18 convnext_tiny efficientnet_b0               # 224 x 224, ~4 min
    python benchmarks/bench_cnn.py --only conv2d                    # the from-scratch conv only

Results: ``benchmarks/results/cnn_<model>_<size>px.{json,md}``,
``cnn_conv2d_scratch.{json,md}`` and the table ``cnn_summary_<size>px.md``.

Claim checked, per architecture: replearn's training throughput (images/s of forward +
cross-entropy + backward + SGD step) is at least that of the ``transformers`` model with the
same configuration and the same weights, i.e. ``t(replearn) / t(transformers) <= 1.0`` as a
ratio of median round times (throughput ratio ``>= 1.0x``), interleaved in the same process
(``benchmarks/harness.py``).

Models: built locally from ``transformers`` configurations (nothing downloaded) with a
1000-class head, then every weight, BN statistic and affine parameter redrawn at random
(fan-in scaled; ``transformers`` zero-initialises some heads, which would make the check
below vacuous):

* ResNet-18: ``ResNetConfig(depths=[2, 2, 2, 2], hidden_sizes=[64, 128, 256, 512],
  layer_type="basic")`` (the layout of ``microsoft/resnet-18``; the default ``ResNetConfig``
  is ResNet-50);
* ConvNeXt-T: ``ConvNextConfig()`` (its defaults are ConvNeXt-T; drop path 0);
* EfficientNet-B0: ``EfficientNetConfig(width_coefficient=1.0, depth_coefficient=1.0,
  image_size=224, hidden_dim=1280, dropout_rate=0.2)`` (the default ``EfficientNetConfig``
  is B7; drop-connect rate 0.2 as in the default).

replearn's network is ``X.from_hf(hf_model)``: the same configuration and a copy of every
tensor. Before timing, the two are checked to compute the same function: logits in eval mode
(and, for ResNet and ConvNeXt, whose training mode is deterministic, the loss and every
gradient in training mode) agree within float32 tolerance; the check is stored under
``extra``. In training mode EfficientNet differs in its random regularisation as the two
implementations define it: ``transformers`` applies element-wise dropout (rate
``drop_connect_rate``) at the end of each block, replearn stochastic depth (whole-sample
drop path) at the same rate; both cost one mask and one multiply.

Per round, each side runs ``--steps`` training steps on the same fixed batch (random images,
random labels): ``zero_grad``, forward, ``F.cross_entropy`` on the logits, ``backward``,
``torch.optim.SGD(lr=1e-3, momentum=0.9)`` step (each side has its own model copy and
optimizer, built untimed before the first round). The ``transformers`` side calls
``model(pixel_values=x).logits``.

A second benchmark times the from-scratch :func:`replearn.cnn.layers.conv2d` (im2col and one
matrix product, the course's verified reference) against ``F.conv2d`` (oneDNN) on
8 x 64 x 32 x 32 inputs with 64 3x3 filters, forward only: a reference, not a fast path, so
no threshold; the ratio is reported.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import harness
from harness import RESULTS_DIR, BenchResult, compare, write_atomic
from replearn.cnn.convnext import ConvNeXt
from replearn.cnn.efficientnet import EfficientNet
from replearn.cnn.layers import conv2d
from replearn.cnn.resnet import ResNet

SEED = 0
NUM_CLASSES = 1000


def hf_configs() -> dict[str, tuple[Any, Any, Callable[[nn.Module], nn.Module]]]:
    """Name -> (transformers config, ForImageClassification class, replearn ``from_hf``)."""
    import transformers as tf

    return {
        "resnet18": (
            tf.ResNetConfig(
                depths=[2, 2, 2, 2],
                hidden_sizes=[64, 128, 256, 512],
                layer_type="basic",
                num_labels=NUM_CLASSES,
            ),
            tf.ResNetForImageClassification,
            ResNet.from_hf,
        ),
        "convnext_tiny": (
            tf.ConvNextConfig(num_labels=NUM_CLASSES),
            tf.ConvNextForImageClassification,
            ConvNeXt.from_hf,
        ),
        "efficientnet_b0": (
            tf.EfficientNetConfig(
                width_coefficient=1.0,
                depth_coefficient=1.0,
                image_size=224,
                hidden_dim=1280,
                dropout_rate=0.2,
                num_labels=NUM_CLASSES,
            ),
            tf.EfficientNetForImageClassification,
            EfficientNet.from_hf,
        ),
    }


def randomize_(model: nn.Module, seed: int = SEED) -> nn.Module:
    """Random weights, BN statistics and affine parameters (fan-in scaled), in place.

    ``transformers`` initialises some heads to zero (EfficientNet's logits would all be 0),
    which would make the same-function check vacuous.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.dtype.is_floating_point:
                continue
            if name.endswith(("running_var", "weight")) and t.ndim == 1:
                t.uniform_(0.5, 1.5, generator=g)
            elif t.ndim == 1:
                t.normal_(0.0, 0.1, generator=g)
            else:
                t.normal_(0.0, t[0].numel() ** -0.5, generator=g)
    return model


class HFLogits(nn.Module):
    """``transformers`` classifier as ``x -> logits`` (what the training step needs)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(pixel_values=x).logits


@dataclass
class Side:
    """One contender: a model, its optimizer and the batch it trains on."""

    model: nn.Module
    x: Tensor
    y: Tensor
    steps: int

    def __post_init__(self) -> None:
        self.model.train()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=1e-3, momentum=0.9)

    def train(self) -> float:
        """Timed: ``steps`` training steps; returns the last loss."""
        loss = torch.zeros(())
        for _ in range(self.steps):
            self.optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(self.model(self.x), self.y)
            loss.backward()
            self.optimizer.step()
        return float(loss)


def _max_diff(a: Tensor, b: Tensor) -> float:
    return float((a - b).abs().max())


def check_same_function(
    ours: nn.Module, theirs: nn.Module, x: Tensor, y: Tensor, *, train_mode: bool
) -> dict[str, Any]:
    """Eval-mode logits, and with ``train_mode`` the training loss and gradients, compared."""
    ours.eval(), theirs.eval()
    with torch.no_grad():
        a, b = ours(x), theirs(x)
    scale = float(b.abs().max())
    check: dict[str, Any] = {"eval_logits_max_abs_diff": _max_diff(a, b), "logit_scale": scale}
    ok = check["eval_logits_max_abs_diff"] <= 1e-4 * max(scale, 1.0)
    if train_mode:
        ours.train(), theirs.train()
        ours.zero_grad(), theirs.zero_grad()
        loss_a, loss_b = F.cross_entropy(ours(x), y), F.cross_entropy(theirs(x), y)
        loss_a.backward()
        loss_b.backward()
        grads_a = sorted((p.grad.abs().max().item(), p.numel()) for p in ours.parameters())
        grads_b = sorted((p.grad.abs().max().item(), p.numel()) for p in theirs.parameters())
        check["train_loss_abs_diff"] = abs(float(loss_a) - float(loss_b))
        # Parameter orders differ between the implementations: compare the sorted per-tensor
        # (max |grad|, size) pairs, and the global gradient norms.
        norm_a = torch.sqrt(sum((p.grad**2).sum() for p in ours.parameters()))
        norm_b = torch.sqrt(sum((p.grad**2).sum() for p in theirs.parameters()))
        check["grad_norm_rel_diff"] = float((norm_a - norm_b).abs() / norm_b)
        check["per_tensor_max_grad_max_abs_diff"] = max(
            abs(ga[0] - gb[0]) for ga, gb in zip(grads_a, grads_b, strict=True)
        )
        ok = ok and check["train_loss_abs_diff"] <= 1e-4 and check["grad_norm_rel_diff"] <= 1e-3
        ours.zero_grad(set_to_none=True), theirs.zero_grad(set_to_none=True)
    check["same_function"] = bool(ok)
    ours.train(), theirs.train()
    return check


def bench_model(name: str, args: argparse.Namespace, command: str) -> BenchResult:
    """Interleaved training-step timing of one architecture (replearn vs transformers)."""
    config, hf_cls, from_hf = hf_configs()[name]
    torch.manual_seed(SEED)
    hf_model = randomize_(hf_cls(config))
    ours = from_hf(hf_model)
    theirs = HFLogits(hf_model)
    gen = torch.Generator().manual_seed(SEED)
    x = torch.rand(args.batch, 3, args.size, args.size, generator=gen)
    y = torch.randint(0, NUM_CLASSES, (args.batch,), generator=gen)
    check = check_same_function(ours, theirs, x, y, train_mode=name != "efficientnet_b0")
    print(f"{name}: same function: {check}")
    if not check["same_function"]:
        raise RuntimeError(f"{name}: the two models do not compute the same function: {check}")
    n_params = (
        sum(p.numel() for p in ours.parameters()),
        sum(p.numel() for p in hf_model.parameters()),
    )
    # Separate copies: the optimizer steps must not feed one side's update into the other.
    theirs_side = Side(theirs, x, y, args.steps)
    ours_side = Side(ours, x, y, args.steps)
    images = args.steps * args.batch
    notes = (
        f"Workload: {name}, 1000-class head, batch {args.batch} x 3 x {args.size} x {args.size} "
        f"(random images and labels, fixed), {args.steps} training steps per round and "
        "contender: zero_grad, forward, cross-entropy, backward, SGD(lr=1e-3, momentum=0.9) "
        f"step. Parameters: replearn {n_params[0]:,}, transformers {n_params[1]:,}.\n\n"
        "- `replearn`: `X.from_hf(hf_model)` (same config, every tensor copied), "
        "`model(x)`.\n"
        "- `transformers` (peer): `XForImageClassification(config)`, "
        "`model(pixel_values=x).logits`.\n\n"
        f"Same function checked before timing: {check}.\n\n"
        "Throughput = images per round / median round time; the claim is throughput ratio "
        ">= 1.0x, i.e. the time ratio of medians <= 1.0. The machine was shared with other "
        "jobs (see the load average): quote the ratios, not the absolute times."
    )
    result = compare(
        f"cnn_{name}_{args.size}px",
        {
            "replearn": ours_side.train,
            "transformers": theirs_side.train,
        },
        rounds=args.rounds,
        warmup=args.warmup,
        baseline="transformers",
        threshold=1.0,
        command=command,
        threads=args.threads,
        out_dir=args.out,
        notes=notes,
        extra={
            "model": name,
            "batch": args.batch,
            "size": args.size,
            "steps_per_round": args.steps,
            "images_per_round": images,
            "parameters": {"replearn": n_params[0], "transformers": n_params[1]},
            "same_function_check": check,
        },
        progress=print,
    )
    return add_throughput(result, images, args.out)


def add_throughput(result: BenchResult, images: int, out: Path) -> BenchResult:
    """Add images/s (images per round / median round time) to the notes and JSON; rewrite."""
    harness.add_throughput(result, images, "images", digits=1)
    result.write(out)
    return result


def bench_conv2d(args: argparse.Namespace, command: str) -> BenchResult:
    """From-scratch im2col convolution vs ``F.conv2d`` (forward), reported, no threshold."""
    gen = torch.Generator().manual_seed(SEED)
    x = torch.randn(8, 64, 32, 32, generator=gen)
    w = torch.randn(64, 64, 3, 3, generator=gen) / 24
    b = torch.randn(64, generator=gen)
    diff = _max_diff(conv2d(x, w, b, padding=1), F.conv2d(x, w, b, padding=1))
    print(f"conv2d: max |ours - F.conv2d| = {diff:g}")
    if diff > 1e-3:
        raise RuntimeError(f"conv2d differs from F.conv2d by {diff}")
    reps = args.conv_reps

    def ours() -> Tensor:
        with torch.no_grad():
            for _ in range(reps):
                out = conv2d(x, w, b, padding=1)
        return out

    def torch_conv() -> Tensor:
        with torch.no_grad():
            for _ in range(reps):
                out = F.conv2d(x, w, b, padding=1)
        return out

    notes = (
        "Workload: forward of one convolution, input 8 x 64 x 32 x 32, 64 filters 3 x 3, "
        f"padding 1, bias, float32, {reps} calls per round, no autograd.\n\n"
        "- `replearn-scratch`: `replearn.cnn.layers.conv2d` (pad, im2col by strided view, one "
        "batched matrix product): the readable, verified reference of the course.\n"
        "- `F.conv2d` (peer): torch's kernel (oneDNN on CPU).\n\n"
        f"Max |difference| of the outputs: {diff:.2e}. No threshold: the from-scratch "
        "convolution is a reference for reading, not a fast path; the ratio says how much "
        "slower it is."
    )
    return compare(
        "cnn_conv2d_scratch",
        {"replearn-scratch": ours, "F.conv2d": torch_conv},
        rounds=args.rounds,
        warmup=args.warmup,
        baseline="F.conv2d",
        threshold=None,
        command=command,
        threads=args.threads,
        out_dir=args.out,
        notes=notes,
        extra={"max_abs_diff": diff, "calls_per_round": reps},
        progress=print,
    )


def write_summary(results: list[BenchResult], out: Path, command: str, size: int) -> Path:
    """``cnn_summary_<size>px.md``: images/s and ratios of every model (and the conv2d ratio)."""
    lines = [
        "# Benchmark `cnn`: training throughput vs Hugging Face, from-scratch conv vs F.conv2d",
        "",
        "| benchmark | replearn | peer | ratio | paired ratio (95% CI) | claim | verdict |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in results:
        ours = next(k for k in r.stats if k != r.baseline)
        ci = r.paired_ratio_ci95.get(ours)
        ci_text = f" ({ci[0]:.3f}–{ci[1]:.3f})" if ci else ""
        if "images_per_s_median" in r.extra:
            rate = r.extra["images_per_s_median"]
            lines.append(
                f"| {r.name} (images/s) | {rate[ours]:.1f} | {rate[r.baseline]:.1f} | "
                f"{r.extra['throughput_ratio']:.3f}x throughput | "
                f"{1 / r.paired_ratio[ours]:.3f}x{_inverse(ci)} | >= 1.0x | "
                f"**{r.verdicts.get(ours, '-')}** |"
            )
        else:
            lines.append(
                f"| {r.name} (median s per round) | {r.stats[ours].median:.4f} | "
                f"{r.stats[r.baseline].median:.4f} | {r.ratio_of_medians[ours]:.1f}x time | "
                f"{r.paired_ratio[ours]:.1f}{ci_text} | reported only | - |"
            )
    m = results[0].machine if results else {}
    lines += [
        "",
        f"Machine: {m.get('cpu_count', '?')} CPUs, torch {m.get('torch', '?')}, torch threads "
        f"{results[0].threads if results else '?'}, load average (1 min) at the start of the "
        f"first benchmark {m.get('load_average_start', ['?'])[0]}. Details and raw timings: "
        "`cnn_<name>.md` / `.json`.",
        "",
        "Reproduce:",
        "",
        "```sh",
        command,
        "```",
        "",
    ]
    path = out / f"cnn_summary_{size}px.md"
    write_atomic(path, "\n".join(lines))
    return path


def _inverse(ci: tuple[float, float] | None) -> str:
    return f" ({1 / ci[1]:.3f}–{1 / ci[0]:.3f})" if ci else ""


def main(argv: list[str] | None = None) -> list[BenchResult]:
    """Parse arguments, check each pair computes the same function, time, write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=21, help="timed rounds (default 21)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    parser.add_argument("--batch", type=int, default=8, help="images per step (default 8)")
    parser.add_argument("--size", type=int, default=64, help="image side (default 64)")
    parser.add_argument("--steps", type=int, default=5, help="training steps per round")
    parser.add_argument("--conv-reps", type=int, default=20, help="conv2d calls per round")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=(*hf_configs_names(), "conv2d"),
        default=None,
        help="run only these benchmarks",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder")
    args = parser.parse_args(argv)
    if min(args.rounds, args.batch, args.size, args.steps, args.conv_reps) < 1:
        parser.error("--rounds, --batch, --size, --steps and --conv-reps must be >= 1")
    command = shlex.join(["python", "benchmarks/bench_cnn.py", *(argv or sys.argv[1:])])
    chosen = args.only or [*hf_configs_names(), "conv2d"]
    results = []
    for name in chosen:
        if name == "conv2d":
            results.append(bench_conv2d(args, command))
        else:
            results.append(bench_model(name, args, command))
        print(results[-1].to_markdown())
    if len(results) > 1:
        summary = write_summary(results, args.out, command, args.size)
        print(summary.read_text(encoding="utf-8"))
    return results


def hf_configs_names() -> tuple[str, ...]:
    """The architectures compared with ``transformers``."""
    return ("resnet18", "convnext_tiny", "efficientnet_b0")


if __name__ == "__main__":
    main()
