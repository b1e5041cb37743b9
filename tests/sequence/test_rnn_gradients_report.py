"""Verdicts and plots of ``rnn-gradients``: each verdict on metrics that hold and that fail."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from replearn.experiments.sequence import rnn_gradients_report as R


def holding_metrics() -> dict:
    """Final metrics under which every claim holds (the names ``run`` writes)."""
    m: dict = {"seq_len": 100, "vanish_radii": [0.5, 0.9], "explode_radius": 1.5}
    for r, slope in ((0.5, -1.2), (0.9, -0.3)):
        m |= {f"tanh_rho{r}_slope": slope, f"tanh_rho{r}_r2": 0.99}
        m |= {f"tanh_rho{r}_log10_ratio": slope * 100 / math.log(10), f"tanh_rho{r}_distance": 12}
    m |= {"linear_explode_slope": 0.39, "linear_explode_log10_ratio": 17.0}
    m |= {"relu_explode_slope": 0.1, "tanh_explode_slope": -0.05}
    # clipping: one entry per training seed (3 seeds)
    m |= {"clip_max_norm": 1.0, "clipped_finite": [True] * 3, "clipped_loss_first": [0.5] * 3}
    m |= {"clipped_loss_last": [0.1, 0.2, 0.15], "clipped_max_grad_norm": [1e3, 5e2, 2e3]}
    m |= {"unclipped_steps": [22, 30, 25], "unclipped_finite": [False] * 3}
    m |= {"unclipped_loss_first": [0.5] * 3, "unclipped_loss_last": [math.inf] * 3}
    m |= {"n_inits": 3, "ortho_seq_len": 60}
    m |= {"orthogonal_median_distance": 50, "orthogonal_distances": [40, 50, 61]}
    m |= {"gaussian_median_distance": 20, "gaussian_distances": [10, 20, 30]}
    m |= {"orthogonal_linear_slope": 0.0, "gaussian_linear_slope": -0.01}
    m |= {"orthogonal_linear_max_log10_drift": 1e-12, "gaussian_linear_min_log10_drift": 1.5}
    m |= {"gaussian_linear_max_log10_drift": 3.0}
    return m


def test_claims_are_the_five_of_the_experiment() -> None:
    ids = [c.id for c in R.CLAIMS]
    assert ids == [
        "vanishing-gradients",
        "exploding-gradients",
        "clipping-stabilises",
        "orthogonal-init-preserves-gradients",
        "orthogonal-init-isometry-linear",
    ]
    import replearn.experiments.sequence.rnn_gradients  # noqa: F401  (registers the experiment)
    from replearn.experiments.base import get_experiment

    assert get_experiment("rnn-gradients").claims == R.CLAIMS


def test_every_verdict_holds_on_holding_metrics_and_quotes_numbers() -> None:
    m = holding_metrics()
    for claim in R.CLAIMS:
        holds, evidence = claim.verdict(m)
        assert holds is True, (claim.id, evidence)
        assert any(ch.isdigit() for ch in evidence)
    assert "-1.200/step" in R.vanishing_verdict(m)[1]
    assert "x1e17.0" in R.exploding_verdict(m)[1]


@pytest.mark.parametrize(
    ("verdict", "change"),
    [
        (R.vanishing_verdict, {"tanh_rho0.9_slope": 0.01}),
        (R.vanishing_verdict, {"tanh_rho0.5_r2": 0.5}),
        (R.exploding_verdict, {"linear_explode_log10_ratio": 5.0}),
        (R.exploding_verdict, {"linear_explode_slope": -0.1}),
        (R.clipping_verdict, {"clipped_finite": [True, False, True]}),
        (R.clipping_verdict, {"clipped_loss_last": [0.1, 0.6, 0.1]}),
        (R.clipping_verdict, {"unclipped_finite": [True] * 3, "unclipped_loss_last": [0.2] * 3}),
        (
            R.clipping_verdict,
            {
                "unclipped_finite": [False, True, False],
                "unclipped_loss_last": [math.inf, 0.2, math.inf],
            },
        ),
        (R.orthogonal_verdict, {"orthogonal_distances": [9, 21, 29]}),
        (R.isometry_verdict, {"orthogonal_linear_max_log10_drift": 0.02}),
        (R.isometry_verdict, {"gaussian_linear_min_log10_drift": 0.5}),
    ],
)
def test_each_verdict_fails_when_its_condition_breaks(verdict, change) -> None:
    holds, _ = verdict(holding_metrics() | change)
    assert holds is False


def test_orthogonal_verdict_is_a_paired_t_bound_over_draws() -> None:
    # paired differences +30, +30, +31: mean 30.33, SE 0.33 over 3 draws, bound 29.4 > 0
    holds, evidence = R.orthogonal_verdict(holding_metrics())
    assert holds and "over 3 draws, paired-t" in evidence and "+30.33" in evidence
    # a larger median but a mean difference whose bound is not above 0: -200, +5, +5
    m = holding_metrics() | {
        "orthogonal_distances": [40, 50, 61],
        "gaussian_distances": [240, 45, 56],
    }
    assert R.orthogonal_verdict(m)[0] is False
    # fewer than 3 draws (the tiny preset): not measured, no crash
    m = holding_metrics() | {"n_inits": 2, "orthogonal_distances": [40, 60]}
    m |= {"gaussian_distances": [10, 30]}
    holds, evidence = R.orthogonal_verdict(m)
    assert holds is False and evidence.startswith("not measured: needs >= 3 draws")


def test_unclipped_run_that_stays_finite_but_stalls_counts_as_unstable() -> None:
    m = holding_metrics() | {"unclipped_finite": [True] * 3, "unclipped_loss_last": [0.5] * 3}
    assert R.clipping_verdict(m)[0] is True


def test_clipping_verdict_is_a_paired_t_bound_over_seeds() -> None:
    # decreases 0.4, 0.3, 0.35: mean 0.35, SE 0.02887, t(0.95, 2) = 2.92 -> bound 0.2657 > 0
    holds, evidence = R.clipping_verdict(holding_metrics())
    assert holds and "over 3 seeds, paired-t" in evidence and "+0.35 " in evidence
    assert "+0.2657" in evidence and "3/3 seeds" in evidence
    # improving on every seed, but too noisily: 0.01, 0.01, 0.9 -> bound 0.30 - 0.87 < 0
    m = holding_metrics() | {"clipped_loss_first": [0.11, 0.21, 1.0]}
    m |= {"clipped_loss_last": [0.1, 0.2, 0.1]}
    holds, evidence = R.clipping_verdict(m)
    assert holds is False and "<= margin" in evidence
    # fewer than 3 seeds (the tiny preset): not measured, no crash
    m = {k: v[:2] if isinstance(v, list) else v for k, v in holding_metrics().items()}
    holds, evidence = R.clipping_verdict(m)
    assert holds is False and evidence.startswith("not measured: needs >= 3 training seeds")


def test_plots_write_their_png(tmp_path) -> None:
    prof = torch.linspace(0, -5, 11, dtype=torch.float64)
    paths = [
        R.plot_profiles(tmp_path / "gradient_norms.png", {"tanh, rho=0.5": prof}),
        R.plot_clipping(
            tmp_path / "clipping.png",
            {
                "clipped": [{"loss": [0.5, 0.3, 0.2], "grad_norm": [5.0, 3.0, 2.0]}] * 2,
                "unclipped": [{"loss": [0.5, float("inf")], "grad_norm": [5.0, float("nan")]}],
            },
        ),
        R.plot_orthogonal(
            tmp_path / "orthogonal_vs_gaussian.png",
            {"orthogonal": [11, 11], "gaussian": [4, 6], "profiles": {
                "orthogonal": [prof / 10, prof / 20], "gaussian": [prof, prof * 2]}},
        ),
    ]  # fmt: skip
    for path in paths:
        data = Path(path).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
