"""The claim verdicts of the GAN experiments on hand-made metrics (t bound, whole statement)."""

from __future__ import annotations

from replearn.experiments.gan import gan_cycle, gan_images, gan_metrics, gan_mixture


def _mixture_metrics(minimax, **others):
    m = {"minimax_modes_covered_seeds": minimax, "minimax_modes_covered_mean": sum(minimax) / 3}
    for name in gan_mixture.STABILIZERS:
        seeds = others.get(name.replace("-", "_"), [8.0, 8.0, 8.0])
        m[f"{name}_modes_covered_seeds"] = seeds
        m[f"{name}_modes_covered_mean"] = sum(seeds) / len(seeds)
    return m


def test_mixture_verdict_needs_every_stabilizer_above_the_t_bound():
    holds, _ = gan_mixture._verdict_stabilizers(_mixture_metrics([1.0, 2.0, 1.0]))
    assert holds  # every stabilizer +6.67 modes (SE 0.33): lower bound 5.69 > 0
    # one stabilizer whose 95% lower bound is below 0 fails the whole statement
    holds, text = gan_mixture._verdict_stabilizers(
        _mixture_metrics([1.0, 2.0, 1.0], unrolled=[1.0, 8.0, 1.0])
    )
    assert not holds and "unrolled - minimax" in text
    holds, text = gan_mixture._verdict_stabilizers({"minimax_modes_covered_seeds": [1.0]})
    assert not holds and "not measured" in text
    m = _mixture_metrics([1.0, 2.0, 1.0])
    m = {k: v[:2] if isinstance(v, list) else v for k, v in m.items()}
    holds, text = gan_mixture._verdict_stabilizers(m)
    assert not holds and "needs >= 3 training seeds" in text


def test_mixture_verdict_uses_the_student_t_bound():
    # minibatch - minimax = (1, 2, 0): mean 1, SE 1/sqrt(3) = 0.577; the old rule (> 2 SE,
    # i.e. 1.155) failed it and so does the t bound 1 - 2.920 * 0.577 = -0.686
    m = _mixture_metrics([2.0, 4.0, 6.0], minibatch=[3.0, 6.0, 6.0])
    holds, text = gan_mixture._verdict_stabilizers(m)
    assert not holds
    assert "minibatch - minimax = +1 (SE 0.5774 over 3 seeds" in text
    assert "95% lower bound -0.6859 <= margin +0" in text
    # (1.5, 2.5, 0.5): mean 1.5 exceeds 2 SE (1.155), but the t bound 1.5 - 2.920 * 0.577
    # = -0.186 does not exceed 0: the old rule held, the new one fails
    m = _mixture_metrics([2.0, 2.0, 2.0], minibatch=[3.5, 4.5, 2.5])
    holds, text = gan_mixture._verdict_stabilizers(m)
    assert not holds and "95% lower bound -0.1859 <= margin +0" in text


def test_truncation_cycle_and_metric_verdicts():
    def sweep(p_low: float, r_low: float, p_none: float, r_none: float) -> list[dict]:
        return [
            {"threshold": 0.5, "precision": p_low, "recall": r_low, "fid": 9.0,
             "inception_score": 2.0},
            {"threshold": "inf", "precision": p_none, "recall": r_none, "fid": 3.0,
             "inception_score": 2.0},
        ]  # fmt: skip

    good = [sweep(0.9, 0.1, 0.8, 0.5), sweep(0.92, 0.12, 0.8, 0.5), sweep(0.88, 0.1, 0.79, 0.4)]
    holds, text = gan_images._verdict_truncation({"biggan_truncation_seeds": good})
    assert holds and "over 3 seeds, paired-t" in text
    # precision higher on two seeds only: the t bound of the mean difference falls below 0
    bad = [*good[:2], sweep(0.5, 0.1, 0.8, 0.5)]
    holds, text = gan_images._verdict_truncation({"biggan_truncation_seeds": bad})
    assert not holds and "precision t=0.5 - none" in text
    # recall lower on every seed but precision not: the whole statement fails
    bad = [sweep(0.7, 0.1, 0.8, 0.5)] * 3
    assert not gan_images._verdict_truncation({"biggan_truncation_seeds": bad})[0]
    holds, text = gan_images._verdict_truncation({"biggan_truncation_seeds": good[:1]})
    assert not holds and "needs >= 3 training seeds, got 1" in text
    assert not gan_images._verdict_truncation({})[0]
    base = {f"{k}_seeds": [0.1, 0.1, 0.1] for k in ("cycle_error_x", "cycle_error_y")}
    base.update(translation_error_seeds=[0.3, 0.3, 0.3], pair_distance=0.5)
    assert gan_cycle._verdict({**base, "cycle_error_seeds": [0.1, 0.12, 0.1]})[0]
    # one seed at or above the bound 0.125 fails the statement "for every seed"
    holds, text = gan_cycle._verdict({**base, "cycle_error_seeds": [0.1, 0.13, 0.1]})
    assert not holds and "worst 0.130" in text
    holds, text = gan_cycle._verdict({**base, "cycle_error_seeds": [0.1]})
    assert not holds and "needs >= 3 training seeds, got 1" in text
    m = {}
    for i, s in enumerate(gan_metrics.SETS):
        m[f"{s}_fid"], m[f"{s}_kid"] = float(i), float(i) / 10
    assert gan_metrics._verdict_agree(m)[0]
    m["noisy_kid"] = 100.0
    assert not gan_metrics._verdict_agree(m)[0]
