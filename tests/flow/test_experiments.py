"""Helpers of the flow experiments: AUROC, standard errors, builders, OOD sets, configs."""

from __future__ import annotations

import pytest
import torch

from replearn.experiments.flow import flow_images, flow_toy2d
from replearn.experiments.flow.common import auroc, build_flow


def test_auroc_matches_sklearn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    gen = torch.Generator().manual_seed(0)
    s_in = torch.randn(200, generator=gen)
    s_out = torch.randn(150, generator=gen) + 0.7
    s_out[:10] = s_in[:10]  # ties count one half
    labels = [0] * 200 + [1] * 150
    ref = metrics.roc_auc_score(labels, torch.cat([s_in, s_out]).numpy())
    assert auroc(s_in, s_out) == pytest.approx(ref, abs=1e-12)


def test_build_flow_names() -> None:
    for name in ("planar", "realnvp", "glow", "iresnet"):
        flow = build_flow(name, (2,), hidden=8, depth=2)
        assert flow(torch.randn(4, 2))[0].shape == (4, 2)
    with pytest.raises(ValueError, match="unknown flow"):
        build_flow("maf", (2,), hidden=8, depth=2)


def test_ood_sets_are_on_the_pixel_grid() -> None:
    _, test = flow_images.load_images("digits", seed=0)
    sets = flow_images.ood_sets("digits", test, 16, seed=0)
    assert set(sets) == {"noise", "inverted", "photo-patches"}
    for x in sets.values():
        assert x.shape == (16, 1, 8, 8)
        torch.testing.assert_close(x, flow_images.quantize(x, 17), rtol=0, atol=0)


def test_bits_per_dim_of_a_trained_free_model_is_finite() -> None:
    train, test = flow_images.load_images("digits", seed=0)
    shape = tuple(train.shape[1:])
    flow = build_flow("realnvp", shape, hidden=4, depth=1)
    task = flow_images.FlowNLLTask(flow, flow_images.Preprocess(shape, 17, 0.05))
    b1, b2 = flow_images.bpd(task, test[:8], seed=3), flow_images.bpd(task, test[:8], seed=3)
    torch.testing.assert_close(b1, b2, rtol=0, atol=0)  # a fixed dequantization draw
    assert torch.isfinite(b1).all() and (b1 > 0).all()


def test_configs_validate() -> None:
    with pytest.raises(ValueError, match="timing_dims"):
        flow_toy2d.Config(timing_dims=(4,))
    with pytest.raises(ValueError, match="n_seeds"):
        flow_images.Config(n_seeds=-1)


def test_inverse_vs_lipschitz_measures_both_sides() -> None:
    points = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    out = flow_toy2d.inverse_vs_lipschitz(points, (0.5, 3.0))
    assert out["converged_fraction"][0] == 1.0
    assert out["converged_fraction"][1] < 0.5


def test_mixing_verdict_uses_the_student_t_bound() -> None:
    m = {"mixing_n_seeds": 3, "bpd_conv_lu_mean": 2.0, "bpd_reverse_mean": 2.1}
    # reverse - conv = (0.1, 0.2, 0.0): mean 0.1, SE 0.0577; fails the old rule (0.1 is
    # below 2 SE = 0.1155) and the t bound 0.1 - 2.920 * 0.0577 = -0.0686 < 0
    m.update(bpd_conv_lu=[2.0, 2.0, 2.0], bpd_reverse=[2.1, 2.2, 2.0])
    holds, text = flow_images._verdict_mixing(m)
    assert not holds and "over 3 seeds, paired-t" in text and "lower bound -0.06859" in text
    # (0.15, 0.25, 0.05): mean 0.15 > 2 SE (0.1155), but the t bound -0.0186 fails
    m.update(bpd_reverse=[2.15, 2.25, 2.05])
    assert not flow_images._verdict_mixing(m)[0]
    m.update(bpd_reverse=[2.11, 2.12, 2.10])  # mean 0.11, SE 0.0058: bound 0.093 > 0
    assert flow_images._verdict_mixing(m)[0]
    holds, text = flow_images._verdict_mixing({"mixing_n_seeds": 0})
    assert not holds and "needs >= 3 training seeds" in text


def test_ood_verdict_checks_every_seed_and_set() -> None:
    m = {"test_bpd": 2.0, "ood_bpd_noise": 9.0, "ood_bpd_inverted": 8.0}
    m["ood_auroc_seeds"] = {"noise": [1.0, 0.99, 0.95], "inverted": [0.92, 0.97, 0.9]}
    holds, text = flow_images._verdict_ood(m)
    assert holds and "over 3 training seeds" in text and "inverted min 0.900" in text
    m["ood_auroc_seeds"]["inverted"][1] = 0.4  # one seed of one set below 0.9 fails it
    holds, text = flow_images._verdict_ood(m)
    assert not holds and "HIGHER likelihood" in text
    m["ood_auroc_seeds"] = {"noise": [1.0], "inverted": [1.0]}
    holds, text = flow_images._verdict_ood(m)
    assert not holds and "needs >= 3 training seeds, got 1" in text
