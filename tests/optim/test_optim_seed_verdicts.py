"""The optim experiments' verdicts over training seeds (issue 21), on hand-made per-seed numbers.

``adam-sparse`` is a comparison (``compare_seeds``: paired by seed, one-sided 95% Student-t lower
bound > 0); ``adamw-differs`` and ``adagrad-step-decays`` are properties of one trained model,
checked at every seed.
"""

from __future__ import annotations

from replearn.experiments.optim import optim_adaptive, optim_compare, optim_variants


def _verdict(module, claim_id: str):
    return next(c for c in module.CLAIMS if c.id == claim_id).verdict


def _sparse(adam: list, sgd: list) -> dict:
    return {
        "seeds": list(range(len(adam))),
        "rare_items_seeds": [900] * len(adam),
        "adam_best_rare_loss_seeds": adam,
        "sgd_best_rare_loss_seeds": sgd,
        "adam_best_rare_loss": sum(a for a in adam if a is not None) / len(adam),
        "sgd_best_rare_loss": sum(a for a in sgd if a is not None) / len(sgd),
        "adam_best_lr": 0.1,
        "sgd_best_lr": 10.0,
    }


def test_adam_sparse_needs_the_lower_bound_over_seeds() -> None:
    verdict = _verdict(optim_adaptive, "adam-sparse")
    holds, evidence = verdict(_sparse([0.6, 0.5, 0.7], [2.7, 2.6, 2.5]))
    assert holds and "over 3 seeds, paired-t" in evidence
    # lower on average, but the spread over seeds swamps it
    assert not verdict(_sparse([0.5, 2.9, 0.6], [2.7, 2.6, 2.5]))[0]
    assert not verdict(_sparse([2.8, 2.7, 2.6], [2.7, 2.6, 2.5]))[0]
    assert not verdict(_sparse([0.6, None, 0.7], [2.7, 2.6, 2.5]))[0]  # diverged at one seed
    holds, evidence = verdict(_sparse([0.6], [2.7]))
    assert not holds and evidence.startswith("not measured")


def _decay(apart: list, converged: list) -> dict:
    m = {"decay_seeds": [0, 1, 2]}
    per_seed = {
        "adamw_to_adam_l2": apart,
        "adam_l2_to_ridge": converged,
        "adamw_to_ridge": [0.3, 0.3, 0.3],
        "adamw_nearest_ridge": [0.1, 0.1, 0.1],
        "adamw_nearest_lambda": [0.01, 0.01, 0.01],
    }
    m.update({f"decay_{k}_seeds": v for k, v in per_seed.items()})
    return m


def test_adamw_differs_must_hold_at_every_seed() -> None:
    verdict = _verdict(optim_variants, "adamw-differs")
    assert verdict(_decay([0.3, 0.5, 0.35], [0.006, 0.012, 0.006]))[0]
    assert not verdict(_decay([0.3, 0.04, 0.35], [0.006, 0.012, 0.006]))[0]
    assert not verdict(_decay([0.3, 0.5, 0.35], [0.006, 0.025, 0.006]))[0]


def _adagrad(first: list, last: list, monotone: list) -> dict:
    return {
        "adagrad_step_first": first[0],
        "adagrad_seeds": [0, 1, 2],
        "adagrad_last_step": 1500,
        "adagrad_step_first_seeds": first,
        "adagrad_step_last_seeds": last,
        "adagrad_step_monotone_seeds": monotone,
        "adagrad_step_slope_seeds": [-0.5, -0.5, -0.5],
    }


def test_adagrad_step_decays_must_hold_at_every_seed() -> None:
    verdict = _verdict(optim_compare, "adagrad-step-decays")
    assert verdict(_adagrad([10.0, 12.0, 11.0], [1.0, 2.0, 1.5], [True, True, True]))[0]
    assert not verdict(_adagrad([10.0, 12.0, 11.0], [1.0, 7.0, 1.5], [True, True, True]))[0]
    assert not verdict(_adagrad([10.0, 12.0, 11.0], [1.0, 2.0, 1.5], [True, False, True]))[0]
    assert not verdict({})[0]  # adagrad not run


def test_a_run_that_diverges_for_good_scores_inf_instead_of_aborting(tmp_path) -> None:
    from replearn.engine import RunContext
    from replearn.experiments.optim.tasks import zipf_items
    from replearn.optim import SGD

    cfg = optim_adaptive.Config(num_items=50, sparse_steps=20, batch=8)
    stream, labels, _ = zipf_items(50, cfg.num_classes, 1.1, steps=20, batch=8, seed=0)
    ctx = RunContext(out=tmp_path, seed=0, progress=False)
    ctx.start()
    try:
        per_item = optim_adaptive.train_items(cfg, SGD, 1e30, stream, labels, 0, ctx, "sgd")
    finally:
        ctx.close()
    assert per_item.shape == (50,) and bool((per_item == float("inf")).all())
