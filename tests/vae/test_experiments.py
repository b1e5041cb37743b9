"""The VAE experiments' glue: data, binarization, the training task, the pen strokes, configs."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.experiments.stats import mean_se
from replearn.experiments.vae import iaf_fashion, iwae_fashion, vae_fashion, vae_manifold
from replearn.experiments.vae.common import VAETask, load_images
from replearn.experiments.vae.vrnn_pen import pen_trajectories
from replearn.vae.model import VAE


def test_held_out_images_are_binarized_once_and_the_same_every_time() -> None:
    a = load_images("digits", seed=0, n_test=50)
    b = load_images("digits", seed=1, n_test=50)
    assert torch.equal(a.test, b.test)  # independent of the seed
    assert set(a.test.unique().tolist()) <= {0.0, 1.0}
    assert a.train.tensors[0].max() <= 1 and a.x_dim == 64 and a.side == (8, 8)
    # binarizing draws Bernoulli(grey level): about as many ones as the grey mass
    assert abs(float(a.test.mean() - a.test_grey.mean())) < 0.02


def test_task_binarizes_dynamically_and_both_objectives_train() -> None:
    torch.manual_seed(0)
    model = VAE(16, 2, hidden=(8,))
    x = torch.full((32, 16), 0.5)
    for objective, k in (("elbo", 1), ("iwae", 4)):
        task = VAETask(model, objective=objective, k=k)
        loss1, _ = task.training_step((x,))
        loss2, _ = task.training_step((x,))
        assert torch.isfinite(loss1) and loss1 != loss2  # a fresh binarization each call
        loss1.backward()
    assert "kl" in VAETask(model).validation_step((x.round(),))
    with pytest.raises(ValueError, match="objective"):
        VAETask(model, objective="wake-sleep")  # type: ignore[arg-type]


def test_pen_strokes_keep_turning_with_probability_p_keep() -> None:
    g = torch.Generator().manual_seed(0)
    x = pen_trajectories(400, 30, generator=g, noise=0.0, p_keep=0.8, kappa=0.6)
    assert x.shape == (400, 30, 2)
    angle = torch.atan2(x[..., 1], x[..., 0])
    turn = torch.remainder(angle[:, 1:] - angle[:, :-1] + math.pi, 2 * math.pi) - math.pi
    torch.testing.assert_close(turn.abs(), torch.full_like(turn, 0.6), rtol=0, atol=1e-4)
    keep = (turn[:, 1:].sign() == turn[:, :-1].sign()).double().mean()
    assert abs(float(keep) - 0.8) < 0.02
    speed = x.norm(dim=-1)
    assert torch.allclose(speed, speed[:, :1].expand_as(speed), atol=1e-5)  # one speed a stroke
    y = pen_trajectories(400, 30, generator=torch.Generator().manual_seed(0), noise=0.0)
    assert torch.equal(x, y)


def test_gradient_variances_are_positive_and_reparameterization_is_lower() -> None:
    torch.manual_seed(0)
    model = VAE(16, 3, hidden=(16,))
    x = torch.rand(2, 16).round()
    out = vae_fashion.gradient_variances(model, x, 200, torch.Generator().manual_seed(0))
    assert all(len(v) == 2 for v in out.values())
    assert all(r < s for r, s in zip(out["rep"], out["sf"], strict=True))


def test_config_validation_and_mean_se() -> None:
    with pytest.raises(ValueError, match="contain 1"):
        vae_fashion.Config(betas=(2.0, 4.0))
    with pytest.raises(ValueError, match="eval_ks"):
        iwae_fashion.Config(eval_ks=(5, 1))
    with pytest.raises(ValueError, match="k_eval"):
        iwae_fashion.Config(eval_ks=(1, 5), k_eval=5)
    with pytest.raises(ValueError):
        iaf_fashion.Config(seeds=0)
    with pytest.raises(ValueError, match="z_sizes"):
        vae_manifold.Config(z_sizes=(4,))
    m, se = mean_se([1.0, 2.0, 3.0])
    assert m == 2.0 and abs(se - 1 / math.sqrt(3)) < 1e-12
    assert mean_se([5.0]) == (5.0, math.inf)  # one seed: no spread estimate


def test_paired_nll_metrics() -> None:
    from replearn.experiments.vae.common import paired_nll

    nll = {"base": [90.0, 92.0, 91.0], "new": [89.0, 90.0, 90.5]}
    m = paired_nll(nll, "base", "new", label_x="new", label_y="base")
    d = [1.0, 2.0, 0.5]  # base - new per seed: positive favours "new"
    mean = sum(d) / 3
    se = math.sqrt(sum((x - mean) ** 2 for x in d) / 2 / 3)
    c = m["nll_comparison"]
    assert c["diffs"] == pytest.approx(d, abs=1e-12) and c["n_seeds"] == 3
    assert math.isclose(c["mean"], mean) and math.isclose(c["se"], se)
    assert math.isclose(c["lower"], mean - 2.919986 * se, abs_tol=1e-6)  # t_{0.95, 2 dof}
    assert c["holds"] is False and c["method"] == "paired-t"  # mean = 2.65 SE < 2.92 SE
    assert m["base_nll_mean"] == 91.0 and m["new_nll_mean"] == 89.833333333333333
    assert m["new_nll_per_seed"] == nll["new"]
    one = paired_nll({"base": [90.0], "new": [89.0]}, "base", "new", label_x="a", label_y="b")
    assert one["nll_comparison"] is None  # one seed: no comparison


def test_train_seeds_and_variants_pairs_initial_weights(tmp_path) -> None:
    from replearn.engine import RunContext
    from replearn.experiments.vae.common import engine, train_seeds_and_variants

    data = load_images("digits", seed=0, n_train=100, n_test=10)
    ctx = RunContext(out=tmp_path, seed=3)
    firsts = {}

    def build(variant: str) -> VAE:
        model = VAE(data.x_dim, 2, hidden=(8,))
        firsts[variant] = [p.detach().clone() for p in model.parameters()]
        return model

    runs = list(train_seeds_and_variants(
        ("a", "b"), 2, build, data, engine(2, batch_size=20), ctx, lr=1e-3,
        options=lambda v: {"beta": 0.5 if v == "b" else 1.0},
    ))  # fmt: skip
    assert [(s, v) for s, v, _, _ in runs] == [(0, "a"), (0, "b"), (1, "a"), (1, "b")]
    assert all(torch.equal(x, y) for x, y in zip(firsts["a"], firsts["b"], strict=True))
    assert (tmp_path / "a-seed1").is_dir() and runs[-1][3].step == 2
