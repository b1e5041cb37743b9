"""``t5-text``'s verdicts over training seeds (issue 21), on synthetic per-seed numbers.

The pretraining claim is ``replearn.experiments.stats.compare_seeds`` on the per-seed mean
exact match (paired by seed, Student-t lower bound > 0); the multi-task claim needs 0.9 on
every task for every seed; with fewer than 3 seeds both say "not measured".
"""

from __future__ import annotations

import random

import pytest

from replearn.experiments.transformer import t5_text


def _verdict(claim_id: str):
    return next(c for c in t5_text.CLAIMS if c.id == claim_id).verdict


def _metrics(pre: list[float], scratch: list[float]) -> dict:
    return {
        "n_seeds": len(pre),
        "steps": 1000,
        "pretrain_steps": 200,
        "pretrain_loss": 2.2,
        "tasks": ["reverse", "sort", "date"],
        "exact_match_seeds": pre,
        "scratch_exact_match_seeds": scratch,
        "exact_match": sum(pre) / len(pre),
        "scratch_exact_match": sum(scratch) / len(scratch),
    }


def test_pretraining_claim_needs_a_gain_beyond_the_seed_spread() -> None:
    verdict = _verdict("t5-text-span-corruption-pretraining-helps")
    holds, evidence = verdict(_metrics([0.20, 0.22, 0.21], [0.15, 0.16, 0.17]))
    assert holds and "over 3 seeds" in evidence and "paired-t" in evidence
    # differences +0.01, +0.01, +0.10: mean +0.04, SE 0.03 -> lower bound 0.04 - 2.92 * 0.03 < 0
    holds, evidence = verdict(_metrics([0.16, 0.17, 0.27], [0.15, 0.16, 0.17]))
    assert not holds and "<= margin" in evidence
    # a bare "pretrained mean > scratch mean" would have held here
    assert sum([0.16, 0.17, 0.27]) > sum([0.15, 0.16, 0.17])


def test_multitask_claim_must_hold_for_every_seed_and_task() -> None:
    verdict = _verdict("t5-text-one-model-many-tasks")
    good = {"reverse": [0.95, 0.93, 0.97], "sort": [0.92, 0.99, 0.91], "date": [1.0, 0.98, 0.99]}
    m = _metrics([0.9] * 3, [0.9] * 3)
    m.update({f"exact_match_{t}_seeds": v for t, v in good.items()})
    holds, evidence = verdict(m)
    assert holds and "each of 3 seeds" in evidence and "worst 0.910" in evidence
    m["exact_match_sort_seeds"] = [0.95, 0.89, 0.99]  # one seed of one task below 0.9
    assert not verdict(m)[0]


def test_fewer_than_three_seeds_is_not_measured() -> None:
    m = _metrics([0.5], [0.1])
    m["exact_match_reverse_seeds"] = m["exact_match_sort_seeds"] = m["exact_match_date_seeds"] = [1]
    for claim in t5_text.CLAIMS:
        holds, evidence = claim.verdict(m)
        assert not holds and evidence.startswith("not measured: needs >= 3 training seeds")
    m = _metrics([0.5] * 3, [0.1] * 3)
    del m["scratch_exact_match_seeds"]
    holds, evidence = _verdict("t5-text-span-corruption-pretraining-helps")(m)
    assert not holds and "compare_scratch=False" in evidence
    with pytest.raises(ValueError, match="n_seeds"):
        t5_text.Config(n_seeds=0)
    assert t5_text.Config().n_seeds == 3 and t5_text.quick().n_seeds == 3


def test_generated_examples_are_correct_and_the_split_is_disjoint() -> None:
    rng = random.Random(0)
    cfg = t5_text.Config()
    for task in t5_text.TASKS:
        train = t5_text.sample_split(task, 50, test=False, rng=rng, cfg=cfg)
        test = t5_text.sample_split(task, 50, test=True, rng=rng, cfg=cfg)
        assert not {x for x, _ in train} & {x for x, _ in test}
        for x, y in train + test:
            arg = x.split(": ", 1)[1]
            if task == "reverse":
                assert y == arg[::-1]
            elif task == "sort":
                assert y == "".join(sorted(arg))
            else:
                assert len(y) == 10 and y[4] == y[7] == "-" and y[:4] in arg
