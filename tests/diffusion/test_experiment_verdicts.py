"""The diffusion experiments' verdicts on synthetic per-seed numbers (compare_seeds' t rule).

Comparisons of samplers and models are judged by
:func:`replearn.experiments.stats.compare_seeds` (paired by seed, one-sided 95% Student-t
lower bound with S - 1 dof); with fewer than 3 seeds they read "not measured". d = (1.0, 0.2,
0.5) has mean/SE = 2.43: above the old "2 SE" rule, below t_{0.95,2} = 2.92.
"""

from __future__ import annotations

import pytest

from replearn.experiments.diffusion import d3pm_text, ddpm_fashion, ddpm_toy2d

BETWEEN = (1.0, 0.2, 0.5)
CLEAR = (1.0, 0.8, 1.2)


def _d3pm(d3pm: list[float], ar: list[float]) -> dict:
    return {"kind": "absorbing", "n_seeds": len(d3pm), "updates": 500, "batch_size": 64,
            "d3pm_bits_per_seed": d3pm, "ar_bits_per_seed": ar, "uniform_bits_per_token": 1.0,
            "d3pm_bits_per_token": sum(d3pm) / len(d3pm),
            "ar_bits_per_token": sum(ar) / len(ar)}  # fmt: skip


@pytest.mark.parametrize(("gaps", "expected"), [(CLEAR, True), (BETWEEN, False)])
def test_d3pm_autoregressive_verdict_uses_the_t_bound(gaps, expected) -> None:
    ar = [0.44, 0.45, 0.43]
    m = _d3pm([a + 0.1 * g for a, g in zip(ar, gaps, strict=True)], ar)
    holds, evidence = d3pm_text._verdict_ar(m)
    assert holds is expected and "95% lower bound" in evidence
    c = d3pm_text.ar_comparison(m)
    assert c is not None and c.diffs == pytest.approx(tuple(0.1 * g for g in gaps))


def test_d3pm_runs_needs_every_seed_and_one_seed_is_not_measured() -> None:
    assert d3pm_text._verdict_runs(_d3pm([0.56, 0.55, 0.57], [0.44] * 3))[0] is True
    assert d3pm_text._verdict_runs(_d3pm([0.56, 1.2, 0.57], [0.44] * 3))[0] is False
    holds, evidence = d3pm_text._verdict_ar(_d3pm([0.9], [0.4]))
    assert holds is False and "not measured" in evidence


def _toy(mmd_few, mmd_many, speed, ddim_all, ddpm) -> dict:
    r, lo, hi = speed  # DDIM 10 over 50 steps: median paired time ratio and its 95% interval
    m = {"n_seeds": len(ddpm), "timesteps": 200, "steps_few": 10, "steps_many": 50,
         "mmd_gaussian": 0.07, "mmd_ddim10_per_seed": mmd_few, "mmd_ddim50_per_seed": mmd_many,
         "mmd_ddim200_per_seed": ddim_all, "mmd_ddpm_per_seed": ddpm,
         "steps_time_ratio": {"label_a": "ddim10", "label_b": "ddim50", "ratio": r, "lo": lo,
                              "hi": hi, "rounds": 15, "t_a": 0.4 * r, "t_b": 0.4}}  # fmt: skip
    for key in [k for k in m if k.endswith("_per_seed")]:
        m[key.removesuffix("_per_seed")] = sum(m[key]) / len(m[key])
    return m


FASTER = (0.25, 0.22, 0.28)


def test_toy2d_steps_tradeoff_needs_both_quality_and_time() -> None:
    many = [0.0125, 0.0124, 0.0130]
    few = [v + 0.0001 * g for v, g in zip(many, CLEAR, strict=True)]
    ok = _toy(few, many, FASTER, many, many)
    holds, evidence = ddpm_toy2d._verdict_steps(ok)
    assert holds and "MMD² saved by more steps" in evidence and "95% interval" in evidence
    noisy = [v + 0.0001 * g for v, g in zip(many, BETWEEN, strict=True)]
    assert ddpm_toy2d._verdict_steps(_toy(noisy, many, FASTER, many, many))[0] is False
    crossing = _toy(few, many, (0.9, 0.7, 1.1), many, many)  # time interval crosses 1
    assert ddpm_toy2d._verdict_steps(crossing)[0] is False
    holds, evidence = ddpm_toy2d._verdict_steps(_toy(few, many, (0.25, None, None), many, many))
    assert holds is False and "no 95% interval" in evidence


def test_toy2d_same_marginals_is_two_one_sided_tests() -> None:
    ddpm = [0.0120, 0.0125, 0.0130]  # tolerance 0.1 x 0.07 = 0.007
    near = ddpm_toy2d.marginals_comparisons(
        _toy(ddpm, ddpm, FASTER, [v + 0.001 for v in ddpm], ddpm)
    )
    assert (
        near is not None and all(c.holds for c in near) and near[0].margin == pytest.approx(-0.007)
    )
    far = _toy(ddpm, ddpm, FASTER, [v + 0.0065 + 0.001 * i for i, v in enumerate(ddpm)], ddpm)
    holds, evidence = ddpm_toy2d._verdict_marginals(far)  # mean 0.0075 above DDPM: outside
    assert holds is False and "tolerance" in evidence
    one = _toy([0.1], [0.1], FASTER, [0.1], [0.1])
    assert (
        ddpm_toy2d.steps_comparison(one) is None and ddpm_toy2d.marginals_comparisons(one) is None
    )


def _fashion(acc_w1, acc_w4, rec_w1, rec_w4, fid1, fid50) -> dict:
    m = {"n_seeds": len(acc_w1), "guidance_high": 4.0, "steps_one_shot": 1, "steps_many": 50,
         "ddim_steps": [1, 50], "accuracy_w1_per_seed": acc_w1, "accuracy_w4_per_seed": acc_w4,
         "recall_w1_per_seed": rec_w1, "recall_w4_per_seed": rec_w4, "fid_ddim1_per_seed": fid1,
         "fid_ddim50_per_seed": fid50, "fid_w1": 5.0, "fid_w4": 6.0, "precision_w1": 0.6,
         "precision_w4": 0.7}  # fmt: skip
    for key in [k for k in m if k.endswith("_per_seed")]:
        m[key.removesuffix("_per_seed")] = sum(m[key]) / len(m[key])
    return m


def test_ddpm_fashion_verdicts() -> None:
    m = _fashion([0.80, 0.82, 0.79], [0.95, 0.96, 0.94], [0.70, 0.72, 0.69], [0.50, 0.55, 0.52],
                 [80.0, 85.0, 79.0], [10.0, 11.0, 9.0])  # fmt: skip
    assert ddpm_fashion._verdict_guidance(m)[0] and ddpm_fashion._verdict_steps(m)[0]
    no_recall_loss = m | {"recall_w4_per_seed": [0.72, 0.70, 0.69]}
    holds, evidence = ddpm_fashion._verdict_guidance(no_recall_loss)
    assert holds is False and "recall loss" in evidence  # both parts are required
    one = _fashion([0.8], [0.9], [0.7], [0.5], [80.0], [10.0])
    assert ddpm_fashion.comparisons(one) is None
    assert "not measured" in ddpm_fashion._verdict_steps(one)[1]
