"""GAN benchmarks: FID of 10k vs 10k features against scipy, and DCGAN engine overhead.

    python benchmarks/bench_gan.py                       # both, digits (embedded)
    python benchmarks/bench_gan.py --only fid --rounds 7
    python benchmarks/bench_gan.py --only dcgan --rounds 11 --steps 200

1. ``gan_fid_10k`` -- ``replearn.metrics.fid_from_features`` (float64 torch: mean,
   covariance, the Fréchet distance with ``eigh`` square roots) against the plain
   scipy implementation users compare with (pytorch-fid's ``calculate_frechet_distance``:
   ``np.mean``, ``np.cov``, ``scipy.linalg.sqrtm`` of the product, real part), on the
   same two sets of 10,000 x 128 features: replearn's digits classifier
   (``metrics.features.feature_classifier``) applied to 10,000 training-pool digits with
   Gaussian pixel noise (std 0.1) and to 10,000 with noise 0.3 (sampled with replacement,
   seeded). Claim: the two values agree to 1e-3 relative; the times are reported.
2. ``gan_dcgan_engine`` -- DCGAN training throughput: ``replearn.engine.fit`` on the
   ``gan-images`` task (:class:`replearn.experiments.gan.gan_images.ImageGANTask`, model
   ``dcgan``: one critic step and one generator step per update, non-saturating loss)
   vs a plain PyTorch loop doing the same work: the same initial weights, the same Adam
   optimizers, the same batches (the engine's seeded permutation per epoch), the same
   noise (global RNG seeded identically), the losses summed and turned into floats every
   ``log_every`` steps. The engine also runs its NaN guard, writes ``metrics.jsonl`` and a
   final checkpoint (in a temporary folder). Claim: ratio of medians engine / plain <= 1.05.
   Before timing, one untimed run of each checks that the final weights are bitwise equal.

Writes ``benchmarks/results/gan_fid_10k.{json,md}`` and ``gan_dcgan_engine.{json,md}``.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import scipy.linalg
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Contender, compare
from replearn.data.images import load_classification
from replearn.engine import EngineConfig, RunContext, fit
from replearn.experiments.gan.gan_images import ImageGANTask, build, optimizers
from replearn.gan import losses as L
from replearn.metrics import extract, feature_classifier, fid_from_features

SEED = 0


def scipy_fid(a: np.ndarray, b: np.ndarray) -> float:
    """pytorch-fid's computation: statistics with numpy, square root with scipy."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * 1e-6
        covmean = scipy.linalg.sqrtm((s1 + offset).dot(s2 + offset))
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


def fid_features(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two (n, 128) feature sets of noisy digits (noise 0.1 and 0.3)."""
    data = load_classification("digits", val_fraction=0.0)
    x = data.train.tensors[0]
    g = torch.Generator().manual_seed(SEED)
    extractor = feature_classifier("digits")
    sets = []
    for noise in (0.1, 0.3):
        idx = torch.randint(len(x), (n,), generator=g)
        imgs = (x[idx] + noise * torch.randn(n, *x.shape[1:], generator=g)).clamp(0, 1)
        sets.append(extract(extractor, imgs).numpy())
    return sets[0], sets[1]


def bench_fid(rounds: int, n: int, command: str) -> None:
    a, b = fid_features(n)
    ours, ref = fid_from_features(a, b), scipy_fid(a, b)
    rel = abs(ours - ref) / abs(ref)
    print(f"FID replearn {ours:.6f} scipy {ref:.6f} relative difference {rel:.2e}")
    compare(
        "gan_fid_10k",
        {"replearn": lambda: fid_from_features(a, b), "scipy": lambda: scipy_fid(a, b)},
        rounds=rounds,
        warmup=1,
        baseline="scipy",
        command=command,
        notes=(
            f"FID of two sets of {n} x {a.shape[1]} features (replearn's digits classifier on "
            "noisy digits). replearn: torch float64 mean/covariance and eigh square roots; "
            "scipy: numpy mean/cov and scipy.linalg.sqrtm of the product (pytorch-fid)."
        ),
        extra={"fid_replearn": ours, "fid_scipy": ref, "relative_difference": rel,
               "agrees_1e-3": rel <= 1e-3},
        progress=print,
    )  # fmt: skip


class Workload:
    """Same data, initial weights and settings for both DCGAN contenders."""

    def __init__(self, steps: int, batch: int, width: int, z_dim: int) -> None:
        data = load_classification("digits", val_fraction=0.0, seed=SEED)
        x, y = data.train.tensors
        self.train = torch.utils.data.TensorDataset(x * 2 - 1, y)
        self.steps, self.batch, self.z_dim, self.width = steps, batch, z_dim, width
        torch.manual_seed(SEED)
        g, d = build("dcgan", size=8, z_dim=z_dim, width=width, classes=10)
        self.init = {"g": g.state_dict(), "d": d.state_dict()}
        self.cfg = EngineConfig(
            max_steps=steps, batch_size=batch, log_every=50, checkpoint_every=0, progress=False
        )

    def fresh(self) -> tuple[ImageGANTask, dict[str, torch.optim.Optimizer]]:
        g, d = build("dcgan", size=8, z_dim=self.z_dim, width=self.width, classes=10)
        g.load_state_dict(self.init["g"])
        d.load_state_dict(self.init["d"])
        task = ImageGANTask("dcgan", g, d, z_dim=self.z_dim)
        return task, optimizers("dcgan", task, 2e-4)


def engine_run(work: Workload, task: ImageGANTask, opts: dict, tmp: Path) -> None:
    ctx = RunContext(out=tmp, seed=SEED, progress=False)
    torch.manual_seed(SEED)
    fit(task, opts, work.train, cfg=work.cfg, ctx=ctx)


def plain_run(work: Workload, task: ImageGANTask, opts: dict) -> list[dict[str, float]]:
    x = work.train.tensors[0]
    n, rows = len(x), []
    g, d, opt_g, opt_d = task.G, task.D, opts["g"], opts["d"]
    task.train()
    torch.manual_seed(SEED)
    d_sum, g_sum, count, step, epoch = torch.zeros(()), torch.zeros(()), 0, 0, 0
    while step < work.steps:
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(SEED * 1_000_003 + epoch))
        for b in range(n // work.batch):
            idx = perm[b * work.batch : (b + 1) * work.batch]
            real = x[idx]
            z = torch.randn(len(real), work.z_dim)
            fake = g(z).detach()
            d_loss = L.discriminator_minimax_loss(d(real).squeeze(1), d(fake).squeeze(1))
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            z = torch.randn(len(real), work.z_dim)
            g_loss = L.generator_nonsaturating_loss(d(g(z)).squeeze(1))
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            step += 1
            d_sum, g_sum, count = d_sum + d_loss.detach(), g_sum + g_loss.detach(), count + 1
            if step % work.cfg.log_every == 0 or step == work.steps:
                rows.append({"step": step, "d": float(d_sum) / count, "g": float(g_sum) / count})
                d_sum, g_sum, count = torch.zeros(()), torch.zeros(()), 0
            if step >= work.steps:
                break
        epoch += 1
    return rows


def bench_dcgan(rounds: int, steps: int, command: str) -> None:
    work = Workload(steps, batch=64, width=32, z_dim=48)
    # correctness: both sides end with the same weights
    t1, o1 = work.fresh()
    tmp = Path(tempfile.mkdtemp(prefix="bench-gan-"))
    engine_run(work, t1, o1, tmp)
    shutil.rmtree(tmp, ignore_errors=True)
    t2, o2 = work.fresh()
    plain_run(work, t2, o2)
    same = all(
        torch.equal(a, b)
        for a, b in zip(t1.state_dict().values(), t2.state_dict().values(), strict=True)
    )
    print(f"final weights bitwise equal: {same}")

    state: dict = {}

    def setup_engine() -> None:
        state["task"], state["opts"] = work.fresh()
        state["tmp"] = Path(tempfile.mkdtemp(prefix="bench-gan-"))

    def setup_plain() -> None:
        state["task"], state["opts"] = work.fresh()

    def teardown(_: object = None) -> None:
        if "tmp" in state:
            shutil.rmtree(state.pop("tmp"), ignore_errors=True)

    compare(
        "gan_dcgan_engine",
        {
            "replearn": Contender(
                lambda: engine_run(work, state["task"], state["opts"], state["tmp"]),
                setup=setup_engine, teardown=teardown,
            ),
            "torch-loop": Contender(
                lambda: plain_run(work, state["task"], state["opts"]), setup=setup_plain
            ),
        },
        rounds=rounds,
        warmup=1,
        baseline="torch-loop",
        threshold=1.05,
        command=command,
        notes=(
            f"{steps} DCGAN updates (one D and one G Adam step each) on 8x8 digits, batch 64, "
            "width 32, z 48, one thread. replearn: fit() with ImageGANTask (NaN guard, "
            "metrics.jsonl, final checkpoint); torch-loop: the same updates by hand."
        ),
        extra={"final_weights_bitwise_equal": same},
        progress=print,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["fid", "dcgan"], default=None)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--n", type=int, default=10_000)
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_gan.py " + shlex.join(argv or sys.argv[1:])
    if args.only in (None, "fid"):
        bench_fid(args.rounds, args.n, command)
    if args.only in (None, "dcgan"):
        bench_dcgan(args.rounds, args.steps, command)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
