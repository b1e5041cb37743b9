"""``gan-stability``: Eq. (1)-(3) against scipy / closed forms, the task's evaluation, the verdicts
on fabricated metrics (no training here; the experiment runs in the CLI smoke test and the slow
claims test)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr, wasserstein_distance

from replearn.experiments.gan import gan_stability as S
from replearn.experiments.gan.toy import build_players


def test_w1_matches_scipy_on_a_line():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(60, generator=g, dtype=torch.float64), torch.rand(60, generator=g) * 3
    x = torch.stack([a, torch.zeros(60, dtype=torch.float64)], 1)
    y = torch.stack([b.double(), torch.zeros(60, dtype=torch.float64)], 1)
    assert S.empirical_w1(x, y) == pytest.approx(wasserstein_distance(a, b), rel=1e-12)


def test_w1_of_a_translation_is_its_length():
    x = torch.randn(40, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    v = torch.tensor([0.3, -0.4], dtype=torch.float64)
    assert S.empirical_w1(x, x + v) == pytest.approx(0.5, rel=1e-12)
    # a permutation: 0 up to torch.cdist's matrix-product path (sqrt of ~1e-18 residues)
    assert S.empirical_w1(x, x[torch.randperm(40)]) == pytest.approx(0.0, abs=1e-8)


def test_w1_rejects_unequal_sets():
    with pytest.raises(ValueError, match="equal size"):
        S.empirical_w1(torch.zeros(3, 2), torch.zeros(4, 2))


@pytest.mark.parametrize(
    ("curve", "expected"),
    [([3.0, 2.0, 1.5, 1.0], 0.0), ([0.0, 1.0, 0.0, 1.0, 0.0], 1.0), ([0.0, 2.0, 1.0], 1.0)],
)
def test_oscillation_closed_form(curve, expected):
    assert S.oscillation(curve) == pytest.approx(expected, abs=1e-12)


def test_oscillation_needs_two_points():
    with pytest.raises(ValueError, match=">= 2"):
        S.oscillation([1.0])


def test_tracking_correlation():
    rng = np.random.default_rng(0)
    e, w = rng.normal(size=20), rng.normal(size=20)
    assert S.tracking_correlation(e, w) == pytest.approx(spearmanr(e, w).statistic, abs=1e-12)
    assert S.tracking_correlation([1.0, 2.0, 5.0], [0.1, 0.2, 0.3]) == pytest.approx(1.0)
    assert S.tracking_correlation([1.0, 1.0, 1.0], [0.1, 0.2, 0.3]) == 0.0  # tracks nothing


@pytest.mark.parametrize("method", ["wgan", "minimax"])
def test_validate_measures_w1_and_the_discriminator_estimate(method):
    torch.manual_seed(0)
    g, d = build_players(method, z_dim=4, hidden=8, depth=1, pack_m=1)
    real, z = torch.randn(16, 2), torch.randn(16, 4)
    task = S.QualityTask(method, g, d, z_dim=4, eval_real=real, eval_z=z)
    out = task.validate(SimpleNamespace())
    assert task.training  # restored
    with torch.no_grad():
        fake = g(z)
        fr, ff = d(real).squeeze(1), d(fake).squeeze(1)
    if method == "wgan":
        expected = float(fr.mean() - ff.mean())
    else:
        expected = float(
            torch.log(torch.sigmoid(fr)).mean() + torch.log1p(-torch.sigmoid(ff)).mean()
        )
    assert out["val_d_estimate"] == pytest.approx(expected, rel=1e-5, abs=1e-7)
    assert out["val_w1"] == pytest.approx(S.empirical_w1(fake, real), rel=1e-9)


def test_config_checks():
    with pytest.raises(ValueError, match="lr in lrs"):
        S.Config(lr=3e-3)
    with pytest.raises(ValueError, match="eval_every"):
        S.Config(engine=S.EngineConfig(max_steps=10, eval_every=5))


def _metrics(**over):
    m = {
        "seeds": [0, 1, 2],
        "lrs": [2e-4, 1e-3, 5e-3],
        "corr_threshold": 0.7,
        "w1_threshold": 0.35,
        "spearman": {"wgan": [0.9, 0.8, 0.85], "minimax": [0.1, -0.2, 0.3]},
        "oscillation": {"wgan-gp": [0.01, 0.02, 0.015], "wgan": [0.1, 0.12, 0.09], "sn": [0] * 3},
        "reached": {"sn": [3, 3, 3], "wgan": [1, 2, 1], "wgan-gp": [2, 1, 2]},
    }
    m.update(over)
    return m


def _verdicts(m):
    return [c.verdict(m) for c in S.CLAIMS]


def test_verdicts_hold_on_fabricated_metrics():
    for holds, evidence in _verdicts(_metrics()):
        assert holds, evidence


def test_tracking_fails_when_one_wgan_seed_is_low_or_one_minimax_seed_high():
    low = _metrics(spearman={"wgan": [0.9, 0.69, 0.85], "minimax": [0.1, -0.2, 0.3]})
    assert not S.CLAIMS[0].verdict(low)[0]
    high = _metrics(spearman={"wgan": [0.9, 0.8, 0.85], "minimax": [0.1, 0.7, 0.3]})
    holds, evidence = S.CLAIMS[0].verdict(high)
    assert not holds and "not all < 0.7" in evidence


def test_smoothness_fails_when_clipping_is_as_smooth():
    m = _metrics(oscillation={"wgan-gp": [0.01, 0.05, 0.02], "wgan": [0.02, 0.01, 0.03]})
    assert not S.CLAIMS[1].verdict(m)[0]


def test_lr_claim_needs_sn_above_both():
    m = _metrics(reached={"sn": [3, 3, 3], "wgan": [1, 1, 1], "wgan-gp": [3, 3, 3]})
    holds, evidence = S.CLAIMS[2].verdict(m)
    assert not holds and "SN - wgan-gp = +0" in evidence


def test_verdicts_not_measured_or_diverged():
    for holds, evidence in _verdicts(_metrics(seeds=[0])):
        assert not holds and "not measured" in evidence
    assert all("not measured" in e for _, e in _verdicts({"seeds": [0, 1, 2]}))
    m = _metrics(spearman={"wgan": [0.9, None, 0.85], "minimax": [0.1, -0.2, 0.3]})
    holds, evidence = S.CLAIMS[0].verdict(m)
    assert not holds and "diverged" in evidence
    assert not math.isnan(S.oscillation([1.0, 1.0]))
