"""The verdicts of ``gpt-claims`` and ``bert-claims`` compare trained models over training seeds
(``replearn.experiments.stats.compare_seeds``, issue 21): synthetic per-seed numbers, no
training. With fewer than 3 seeds every such verdict says "not measured" and is False. The
thresholds on one trained model (``bert-heads``' span head, ``icl-regression``'s closeness to
least squares) must hold on every seed."""

from __future__ import annotations

from typing import Any

import pytest

from replearn.experiments.transformer import bert_claims, gpt_claims


def _verdict(module: Any, claim_id: str):
    return next(c for c in module.CLAIMS if c.id == claim_id).verdict


def _positions(learned: list[float], sinus: list[float]) -> dict[str, Any]:
    return {
        "seeds": list(range(len(learned))), "position_tolerance": 0.05, "position_steps": 150,
        "val_loss_learned_seeds": learned, "val_loss_sinusoidal_seeds": sinus,
        "val_loss_learned": sum(learned) / len(learned),
        "val_loss_sinusoidal": sum(sinus) / len(sinus),
    }  # fmt: skip


def test_gpt_positions_is_an_equivalence_test_over_seeds() -> None:
    verdict = _verdict(gpt_claims, "gpt-positions-sinusoidal-equals-learned")
    holds, evidence = verdict(_positions([2.34, 2.36, 2.35], [2.33, 2.35, 2.35]))
    assert holds and "over 3 seeds" in evidence
    # every seed within 0.05, but the spread puts the upper bound of the gap beyond it:
    # diffs +0.04, +0.01, +0.045: mean 0.0317, SE 0.0109, upper bound 0.0635 > 0.05
    assert not verdict(_positions([2.39, 2.36, 2.395], [2.35, 2.35, 2.35]))[0]
    # a consistent gap of 0.06 (each way) fails
    assert not verdict(_positions([2.41, 2.42, 2.40], [2.35, 2.36, 2.34]))[0]
    assert not verdict(_positions([2.29, 2.30, 2.28], [2.35, 2.36, 2.34]))[0]
    holds, evidence = verdict(_positions([2.34], [2.34]))
    assert not holds and evidence.startswith("not measured: needs >= 3 training seeds")


def _scaling(per_size: list[list[float]]) -> dict[str, Any]:
    return {
        "seeds": list(range(len(per_size[0]))), "scaling_steps": 125,
        "scaling_parameters": [104_000, 15_000, 405_000][: len(per_size)],
        "scaling_val_loss_seeds": per_size,
        "scaling_val_loss": [sum(v) / len(v) for v in per_size],
    }  # fmt: skip


def test_gpt_scaling_needs_every_step_up_to_lower_the_loss() -> None:
    verdict = _verdict(gpt_claims, "gpt-larger-models-lower-loss")
    # listed out of order (104k, 15k, 405k): the verdict sorts by parameters
    good = [[2.46, 2.47, 2.45], [2.60, 2.61, 2.60], [2.38, 2.39, 2.37]]
    holds, evidence = verdict(_scaling(good))
    assert holds and evidence.count("over 3 seeds") == 2
    # the top step: -0.01, +0.005, -0.02 nats: lower on average, not beyond the seed spread
    flat = [[2.46, 2.47, 2.45], [2.60, 2.61, 2.60], [2.45, 2.475, 2.43]]
    holds, evidence = verdict(_scaling(flat))
    assert not holds and "every step up lowers the loss: False" in evidence
    assert not verdict(_scaling([[2.4], [2.6], [2.3]]))[0]


def _dropout(best_d: list[float], best_n: list[float], final_n: list[float]) -> dict[str, Any]:
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    return {
        "seeds": list(range(len(best_d))), "small_chars": 10_000, "dropout": 0.2,
        "best_val_loss_dropout_seeds": best_d, "best_val_loss_no_dropout_seeds": best_n,
        "final_val_loss_no_dropout_seeds": final_n, "best_val_loss_dropout": mean(best_d),
        "best_val_loss_no_dropout": mean(best_n), "final_val_loss_dropout": mean(best_d) + 0.05,
        "final_val_loss_no_dropout": mean(final_n), "final_train_loss_no_dropout": 1.5,
    }  # fmt: skip


def test_gpt_dropout_claim_checks_both_halves_over_seeds() -> None:
    verdict = _verdict(gpt_claims, "gpt-dropout-helps-small-data")
    best_n, final_n = [2.79, 2.80, 2.78], [2.92, 2.95, 2.90]
    holds, evidence = verdict(_dropout([2.70, 2.72, 2.69], best_n, final_n))
    assert holds and "overfits) on 3 of 3 seeds" in evidence
    # one seed does not overfit without dropout (final = best): the first half fails
    assert not verdict(_dropout([2.70, 2.72, 2.69], best_n, [2.92, 2.80, 2.90]))[0]
    # dropout's best lower on average (-0.03) but not beyond the seed spread
    assert not verdict(_dropout([2.70, 2.81, 2.75], best_n, final_n))[0]
    assert not verdict(_dropout([2.7], [2.8], [2.9]))[0]


def test_gpt_claims_config_needs_a_seed() -> None:
    with pytest.raises(ValueError, match="n_seeds"):
        gpt_claims.Config(n_seeds=0)


def _albert(albert: list[float], bert: list[float]) -> dict[str, Any]:
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    return {
        "seeds": list(range(len(albert))), "mlm_steps": 600,
        "albert_heldout_mlm_loss_seeds": albert, "bert_heldout_mlm_loss_seeds": bert,
        "albert_heldout_mlm_loss": mean(albert), "bert_heldout_mlm_loss": mean(bert),
    }  # fmt: skip


def test_albert_cost_is_non_inferiority_within_ten_percent_over_seeds() -> None:
    verdict = _verdict(bert_claims, "albert-small-cost")
    holds, evidence = verdict(_albert([6.31, 6.40, 6.35], [6.17, 6.20, 6.15]))
    assert holds and "1.10 x BERT" in evidence and "over 3 seeds" in evidence
    # 1.10 x BERT = 6.787, 6.82, 6.765: ALBERT below it on average (by 0.06) but one seed above
    assert not verdict(_albert([6.70, 6.85, 6.64], [6.17, 6.20, 6.15]))[0]
    assert not verdict(_albert([6.3], [6.2]))[0]


def _distil(student: list[float], teacher: list[float]) -> dict[str, Any]:
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    return {
        "seeds": list(range(len(student))), "teacher_parameters": 1_000_000,
        "student_parameters": 600_000, "student_dev_accuracy_seeds": student,
        "teacher_dev_accuracy_seeds": teacher, "student_dev_accuracy": mean(student),
        "teacher_dev_accuracy": mean(teacher),
        "student_retained_fraction": mean(student) / mean(teacher),
        "student_hard_labels_dev_accuracy": 0.79,
    }  # fmt: skip


def test_distilbert_retention_is_judged_over_seeds() -> None:
    verdict = _verdict(bert_claims, "distilbert-retains-97-percent")
    holds, evidence = verdict(_distil([0.80, 0.81, 0.79], [0.80, 0.80, 0.80]))
    assert holds and "0.97 x teacher" in evidence
    # 0.97 x 0.80 = 0.776: above it on average (+0.7 points), not beyond the seed spread
    assert not verdict(_distil([0.80, 0.77, 0.78], [0.80, 0.80, 0.80]))[0]
    holds, evidence = verdict(_distil([0.80], [0.80]))
    assert not holds and evidence.startswith("not measured")
    with pytest.raises(ValueError, match="n_seeds"):
        bert_claims.Config(n_seeds=0)


def test_span_head_target_must_hold_on_every_seed() -> None:
    from replearn.experiments.transformer import bert_heads

    verdict = _verdict(bert_heads, "span-head-finds-answers")
    assert verdict({"exact_match": [0.95, 0.92, 0.91], "qa_target": 0.9})[0]
    # mean 0.92 >= 0.9, but one seed below the target
    holds, evidence = verdict({"exact_match": [0.95, 0.92, 0.89], "qa_target": 0.9})
    assert not holds and "on every seed" in evidence


def test_icl_close_to_least_squares_on_every_seed() -> None:
    from replearn.experiments.transformer import icl_regression

    verdict = _verdict(icl_regression, "icl-matches-least-squares")
    m = {
        "sizes": [[1, 8], [2, 32]], "k": 6, "d": 2, "close_to_ls": 0.1,
        "knn_query_errors": [0.58, 0.59, 0.60], "averaging_query_errors": [0.50, 0.51, 0.52],
        "least_squares_curve": [1e-14], "knn_curve": [0.59], "averaging_curve": [0.51],
    }  # fmt: skip
    assert verdict({**m, "size1_query_errors": [0.05, 0.08, 0.06]})[0]
    # mean 0.083 <= 0.1, but one seed at 0.15
    assert not verdict({**m, "size1_query_errors": [0.05, 0.15, 0.05]})[0]
