"""Diffusion benchmarks: DDIM (50 steps) vs DDPM (T = 1000) sampling, and U-Net engine overhead.

    python benchmarks/bench_diffusion.py                        # both, digits (embedded)
    python benchmarks/bench_diffusion.py --only sampling --train-steps 2000 --n 500
    python benchmarks/bench_diffusion.py --only engine --rounds 7 --steps 100

1. ``diffusion_sampling`` -- a class-conditional :class:`replearn.diffusion.UNet` (base 16,
   levels (1, 2), T = 1000, linear schedule) is trained on the 8x8 digits through the
   engine (``ddpm-fashion``'s :class:`DiffusionTask`, EMA weights); then the same ``n``
   starting noises and labels are sampled with DDPM ancestral sampling (1000 network
   calls; the baseline) and with deterministic DDIM on 50 steps, timed interleaved by the
   harness. FID of each sampler's images against the training images in replearn's
   digits feature space (:func:`replearn.metrics.feature_classifier`). Claims: DDIM-50 is
   >= 15x faster (ratio of medians <= 1/15) and its FID is at most 10% worse.
2. ``diffusion_unet_engine`` -- U-Net training throughput: ``replearn.engine.fit`` on
   :class:`DiffusionTask` (one L_simple Adam step and one EMA update per step) vs a plain
   PyTorch loop doing the same work (same initial weights, batches in the engine's seeded
   order, same global RNG stream for t, noise and label dropout, the loss turned into a
   float every ``log_every`` steps). The engine also runs its NaN guard, writes
   ``metrics.jsonl`` and a final checkpoint. Before timing, one untimed run of each checks
   that the final weights are bitwise equal. Claim: ratio of medians engine / plain <= 1.05.

Writes ``benchmarks/results/diffusion_sampling.{json,md}`` and
``diffusion_unet_engine.{json,md}``.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Contender, compare
from replearn.data.images import load_classification
from replearn.diffusion import GaussianDiffusion, UNet
from replearn.engine import EngineConfig, RunContext, fit
from replearn.experiments.diffusion.common import DiffusionTask
from replearn.metrics import extract, feature_classifier, fid_from_features

SEED = 0


def digits() -> TensorDataset:
    data = load_classification("digits", val_fraction=0.0, seed=SEED)
    x, y = data.train.tensors
    return TensorDataset(x * 2 - 1, y)


def build(timesteps: int = 1000) -> DiffusionTask:
    unet = UNet(in_channels=1, base=16, mults=(1, 2), num_classes=10)
    return DiffusionTask(
        GaussianDiffusion(unet, timesteps=timesteps, p_uncond=0.1), ema_decay=0.999
    )


def bench_sampling(rounds: int, train_steps: int, n: int, command: str) -> None:
    train = digits()
    torch.manual_seed(SEED)
    task = build()
    opt = torch.optim.Adam(task.diffusion.parameters(), lr=1e-3)
    cfg = EngineConfig(max_steps=train_steps, batch_size=128, log_every=100, checkpoint_every=0,
                       progress=False)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        fit(task, opt, train, cfg=cfg, ctx=RunContext(out=Path(tmp), seed=SEED, progress=False))
    model = task.sampler.eval()
    g = torch.Generator().manual_seed(SEED)
    x_T, y = torch.randn(n, 1, 8, 8, generator=g), torch.arange(n) % 10
    samplers = {
        "ddpm-1000": lambda: model.sample(x_T.shape, x_T=x_T, y=y,
                                          generator=torch.Generator().manual_seed(1)),
        "ddim-50": lambda: model.sample(x_T.shape, x_T=x_T, y=y, steps=50),
    }  # fmt: skip
    net = feature_classifier("digits")
    real = extract(net, train.tensors[0][:2000].add(1).div(2))
    fids = {
        k: fid_from_features(extract(net, (f().clamp(-1, 1) + 1) / 2), real)
        for k, f in samplers.items()
    }
    ratio = fids["ddim-50"] / fids["ddpm-1000"]
    print(
        f"FID DDPM-1000 {fids['ddpm-1000']:.3f}, DDIM-50 {fids['ddim-50']:.3f} (ratio {ratio:.3f})"
    )
    compare(
        "diffusion_sampling",
        samplers,
        rounds=rounds,
        warmup=1,
        baseline="ddpm-1000",
        threshold=1 / 15,
        command=command,
        notes=(
            f"{n} samples of 8x8 digits from a class-conditional U-Net (base 16, T=1000) trained "
            f"{train_steps} steps through the engine; DDPM ancestral (1000 calls) vs DDIM "
            "eta=0 on 50 steps, same noise and labels, one thread. FID in replearn's digits "
            "feature space against 2,000 training images. "
            f"FID DDPM-1000 {fids['ddpm-1000']:.2f}, DDIM-50 {fids['ddim-50']:.2f}: ratio "
            f"{ratio:.3f}, claim 'at most 10% worse' (ratio <= 1.10) "
            f"{'holds' if ratio <= 1.10 else 'fails'}."
        ),
        extra={"fid_ddpm_1000": fids["ddpm-1000"], "fid_ddim_50": fids["ddim-50"],
               "fid_ratio": ratio, "fid_at_most_10pct_worse": ratio <= 1.10},
        progress=print,
    )  # fmt: skip


def engine_run(task: DiffusionTask, opt: torch.optim.Optimizer, train: TensorDataset,
               cfg: EngineConfig, tmp: Path) -> None:  # fmt: skip
    torch.manual_seed(SEED)
    fit(task, opt, train, cfg=cfg, ctx=RunContext(out=tmp, seed=SEED, progress=False))


def plain_run(task: DiffusionTask, opt: torch.optim.Optimizer, train: TensorDataset,
              cfg: EngineConfig) -> list[float]:  # fmt: skip
    x, y = train.tensors
    n, rows = len(x), []
    task.train()
    torch.manual_seed(SEED)
    total, count, step, epoch = torch.zeros(()), 0, 0, 0
    while step < cfg.max_steps:
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(SEED * 1_000_003 + epoch))
        for b in range(n // cfg.batch_size):
            idx = perm[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            loss = task.diffusion(x[idx], y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            task.ema.update(task.diffusion, decay=min(task.ema_decay, (1 + step) / (10 + step)))
            step += 1
            total, count = total + loss.detach(), count + 1
            if step % cfg.log_every == 0 or step == cfg.max_steps:
                rows.append(float(total) / count)
                total, count = torch.zeros(()), 0
            if step >= cfg.max_steps:
                break
        epoch += 1
    return rows


def bench_engine(rounds: int, steps: int, command: str) -> None:
    train = digits()
    torch.manual_seed(SEED)
    init = build().state_dict()
    cfg = EngineConfig(max_steps=steps, batch_size=128, log_every=50, checkpoint_every=0,
                       progress=False)  # fmt: skip

    def fresh() -> tuple[DiffusionTask, torch.optim.Optimizer]:
        task = build()
        task.load_state_dict(init)
        return task, torch.optim.Adam(task.diffusion.parameters(), lr=1e-3)

    t1, o1 = fresh()
    tmp = Path(tempfile.mkdtemp(prefix="bench-diffusion-"))
    engine_run(t1, o1, train, cfg, tmp)
    shutil.rmtree(tmp, ignore_errors=True)
    t2, o2 = fresh()
    plain_run(t2, o2, train, cfg)
    same = all(
        torch.equal(a, b)
        for a, b in zip(t1.state_dict().values(), t2.state_dict().values(), strict=True)
    )
    print(f"final weights bitwise equal: {same}")
    state: dict = {}

    def setup_engine() -> None:
        state["task"], state["opt"] = fresh()
        state["tmp"] = Path(tempfile.mkdtemp(prefix="bench-diffusion-"))

    def setup_plain() -> None:
        state["task"], state["opt"] = fresh()

    def teardown(_: object = None) -> None:
        if "tmp" in state:
            shutil.rmtree(state.pop("tmp"), ignore_errors=True)

    compare(
        "diffusion_unet_engine",
        {
            "replearn": Contender(
                lambda: engine_run(state["task"], state["opt"], train, cfg, state["tmp"]),
                setup=setup_engine, teardown=teardown),
            "torch-loop": Contender(lambda: plain_run(state["task"], state["opt"], train, cfg),
                                    setup=setup_plain),
        },
        rounds=rounds,
        warmup=1,
        baseline="torch-loop",
        threshold=1.05,
        command=command,
        notes=(
            f"{steps} L_simple Adam steps + EMA updates of a class-conditional U-Net (base 16, "
            "levels (1, 2), T=1000) on 8x8 digits, batch 128, one thread. replearn: fit() with "
            "DiffusionTask (NaN guard, metrics.jsonl, final checkpoint); torch-loop: the same "
            "updates by hand."
        ),
        extra={"final_weights_bitwise_equal": same},
        progress=print,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["sampling", "engine"], default=None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100, help="training steps per engine round")
    parser.add_argument("--train-steps", type=int, default=2000, help="training before sampling")
    parser.add_argument("--n", type=int, default=500, help="samples per sampler")
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_diffusion.py " + shlex.join(argv or sys.argv[1:])
    if args.only in (None, "engine"):
        bench_engine(args.rounds, args.steps, command)
    if args.only in (None, "sampling"):
        bench_sampling(args.rounds, args.train_steps, args.n, command)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
