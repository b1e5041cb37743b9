"""``norm-compare``'s ``batchnorm-larger-lr`` is judged on every one of >= 3 training seeds (the
sweep is repeated per seed; issue 21). Fabricated metrics, no training."""

from __future__ import annotations

from replearn.experiments.norm.norm_compare import CLAIMS


def verdict(m: dict) -> tuple[bool, str]:
    (claim,) = [c for c in CLAIMS if c.id == "batchnorm-larger-lr"]
    return claim.verdict(m)


def metrics(batch: list[float], none: list[float]) -> dict:
    """Sweep 0.05, 0.2, 1, 5; final losses consistent with the largest stable rates given."""
    lrs = (0.05, 0.2, 1.0, 5.0)
    m: dict = {"seeds": list(range(len(batch))), "stable_loss": 1.0, "sweep_lrs": "0.05,0.2,1,5"}
    for v, best in (("batch", batch), ("none", none)):
        m[f"{v}_max_stable_lr_seeds"] = best
        for lr in lrs:
            m[f"{v}_lr{lr:g}_final_loss_seeds"] = [0.5 if lr <= b else None for b in best]
    return m


def test_holds_when_batchnorm_tolerates_a_larger_rate_on_every_seed() -> None:
    holds, evidence = verdict(metrics([1.0, 1.0, 5.0], [0.2, 0.2, 0.2]))
    assert holds is True and "higher for BatchNorm on 3/3 seeds" in evidence
    assert "lr 5: none diverged/diverged/diverged / batch diverged/diverged/0.500" in evidence


def test_fails_when_one_seed_ties() -> None:
    holds, evidence = verdict(metrics([1.0, 0.2, 1.0], [0.2, 0.2, 0.2]))
    assert holds is False and "higher for BatchNorm on 2/3 seeds" in evidence


def test_fewer_than_three_seeds_is_not_measured() -> None:
    holds, evidence = verdict(metrics([1.0], [0.2]))
    assert holds is False and evidence.startswith("not measured: needs >= 3 training seeds")
