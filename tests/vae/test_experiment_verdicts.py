"""The VAE experiments' verdicts on synthetic per-seed numbers: compare_seeds' Student-t rule.

Each "X beats Y" claim is judged by :func:`replearn.experiments.stats.compare_seeds` (one-sided
95% lower bound of the mean paired difference, t with S - 1 dof); with one seed it reads "not
measured". The numbers below are chosen so that the old rule (mean > 2 SE) and the new one
disagree where it matters: d = (1.0, 0.2, 0.5) has mean/SE = 2.43, above 2 but below
t_{0.95,2} = 2.92.
"""

from __future__ import annotations

import pytest

from replearn.experiments.vae import iaf_fashion, iwae_fashion, vae_fashion, vae_manifold, vrnn_pen

BETWEEN = (1.0, 0.2, 0.5)  # mean/SE = 2.43: > 2 SE, but the t bound (2.92 SE) is below 0
CLEAR = (1.0, 0.8, 1.2)  # mean/SE = 8.66


def _nll_metrics(better: str, worse: str, gains: tuple[float, ...], **extra) -> dict:
    base = [22.0 + 0.1 * i for i in range(len(gains))]
    m = {"seeds": len(gains), "k_eval": 5000, f"{worse}_nll_per_seed": base,
         f"{better}_nll_per_seed": [b - g for b, g in zip(base, gains, strict=True)]}  # fmt: skip
    for v in (better, worse):
        m[f"{v}_nll_mean"] = sum(m[f"{v}_nll_per_seed"]) / len(gains)
    return m | extra


@pytest.mark.parametrize(
    ("gains", "expected"), [(CLEAR, True), (BETWEEN, False), ((-0.2,) * 3, False)]
)
def test_iaf_and_iwae_nll_verdicts_use_the_t_bound(gains, expected) -> None:
    m = _nll_metrics("iaf", "gaussian", gains, gaussian_gap_mean=0.4, iaf_gap_mean=0.3)
    holds, evidence = iaf_fashion._verdict(m)
    assert holds is expected and "95% lower bound" in evidence and "3 seeds" in evidence
    m = _nll_metrics("iwae", "elbo", gains, k_train=5)
    m |= {"elbo_active_units_mean": 5.0, "iwae_active_units_mean": 7.0}
    holds, evidence = iwae_fashion._nll_verdict(m)
    assert holds is expected and "ELBO-trained - IWAE-trained = " in evidence  # lower is better


def test_one_seed_is_not_measured() -> None:
    m = _nll_metrics("iaf", "gaussian", (5.0,), gaussian_gap_mean=0.4, iaf_gap_mean=0.3)
    holds, evidence = iaf_fashion._verdict(m)
    assert holds is False and "not measured: needs >= 3" in evidence
    m = {"seeds": 1, "k_eval": 4, "vrnn_elbo_per_seed": [-1.0], "rnn_ll_per_seed": [-2.0],
         "vrnn_elbo_mean": -1.0, "vrnn_ll_mean": -0.9, "rnn_ll_mean": -2.0}  # fmt: skip
    holds, evidence = vrnn_pen._verdict(m)
    assert holds is False and "not measured" in evidence


@pytest.mark.parametrize(("gains", "expected"), [(CLEAR, True), (BETWEEN, False)])
def test_vrnn_verdict(gains, expected) -> None:
    rnn = [-0.30, -0.29, -0.31]
    vrnn = [r + 0.01 * g for r, g in zip(rnn, gains, strict=True)]
    m = {"seeds": 3, "k_eval": 100, "vrnn_elbo_per_seed": vrnn, "rnn_ll_per_seed": rnn,
         "vrnn_elbo_mean": sum(vrnn) / 3, "vrnn_ll_mean": 0.0,
         "rnn_ll_mean": sum(rnn) / 3}  # fmt: skip
    holds, evidence = vrnn_pen._verdict(m)
    assert holds is expected and "VRNN ELBO - RNN log p = +" in evidence


def _vae_fashion_metrics(kl: dict[float, list[float]], au: dict[float, list[int]]) -> dict:
    m: dict = {"betas": list(kl), "seeds": len(kl[1.0]), "z_dim": 8}
    for b in kl:
        m[f"beta{b:g}_kl_nats"] = sum(kl[b]) / len(kl[b])
        m[f"beta{b:g}_kl_nats_per_seed"] = kl[b]
        m[f"beta{b:g}_active_units_per_seed"] = au[b]
    return m


def test_kl_verdict_needs_every_step_of_beta_and_every_seed() -> None:
    kl = {0.5: [8.6, 8.7, 8.8], 1.0: [4.2, 4.3, 4.1], 2.0: [1.5, 1.6, 1.6]}
    au = {0.5: [8, 8, 8], 1.0: [5, 6, 5], 2.0: [4, 4, 3]}
    holds, evidence = vae_fashion._kl_verdict(_vae_fashion_metrics(kl, au))
    assert holds and "weakest step" in evidence
    steps = vae_fashion.kl_steps(_vae_fashion_metrics(kl, au))
    assert steps is not None and [c.label_x for c in steps] == ["beta 1", "beta 2"]
    assert steps[1].diffs == pytest.approx((4.2 - 1.5, 4.3 - 1.6, 4.1 - 1.6))
    noisy = kl | {2.0: [4.1, 4.4, 3.9]}  # the last step is not consistently lower
    assert vae_fashion._kl_verdict(_vae_fashion_metrics(noisy, au))[0] is False
    rises = au | {2.0: [4, 7, 3]}  # one seed gains active units
    assert vae_fashion._kl_verdict(_vae_fashion_metrics(kl, rises))[0] is False
    one = _vae_fashion_metrics({0.5: [8.6], 1.0: [4.2]}, {0.5: [8], 1.0: [5]})
    holds, evidence = vae_fashion._kl_verdict(one)
    assert holds is False and "not measured" in evidence


def test_sharpness_verdict_every_seed_and_over_seeds() -> None:
    m = {"seeds": 3, "sharpness_data": 0.28, "sharpness_samples": 0.18,
         "sharpness_reconstructions": 0.19, "sharpness_samples_per_seed": [0.18, 0.17, 0.19],
         "sharpness_z_per_seed": [30.0, 35.0, 28.0]}  # fmt: skip
    assert vae_fashion._sharp_verdict(m)[0] is True
    c = vae_fashion.sharpness_comparison(m)
    assert c is not None and c.mean == pytest.approx(0.10)
    assert vae_fashion._sharp_verdict(m | {"sharpness_z_per_seed": [30.0, 1.5, 28.0]})[0] is False
    assert (
        vae_fashion._sharp_verdict(m | {"sharpness_samples_per_seed": [0.1, 0.5, 0.1]})[0] is False
    )


def test_manifold_verdict_needs_every_seed() -> None:
    m = {"z_sizes": [1, 4, 16], "recon_nats": [23.0, 18.0, 17.0], "seeds": 3, "dstar": 4,
         "twonn_dimension": 3.5, "reduction_at_dstar_per_seed": [0.8, 0.9, 0.85]}  # fmt: skip
    assert vae_manifold._flat_verdict(m)[0] is True
    assert (
        vae_manifold._flat_verdict(m | {"reduction_at_dstar_per_seed": [0.8, 0.7, 0.9]})[0] is False
    )
