"""``bert-sst2`` and ``transformer-xl-text`` judge their "X beats Y" claims over training seeds
(``replearn.experiments.stats.compare_seeds``), not by a bare ``gain > 0`` on one seed."""

from __future__ import annotations

import pytest

from replearn.experiments.transformer import bert_sst2, transformer_xl_text


def _claim(module, claim_id: str):
    return next(c for c in module.CLAIMS if c.id == claim_id).verdict


def test_bert_pretraining_claim_needs_a_gain_beyond_the_seed_spread() -> None:
    verdict = _claim(bert_sst2, "pretraining-helps-finetuning")
    m = {
        "dev_accuracy_scratch_seeds": [0.80, 0.81, 0.79],
        "dev_accuracy_scratch": 0.80,
        "dev_accuracy_pretrained": 0.81,
        "nsp": True,
        "pretrain_steps": 750,
        "pretrain_mlm_accuracy": 0.15,
        "finetune_steps": 400,
    }
    holds, evidence = verdict({**m, "dev_accuracy_pretrained_seeds": [0.81, 0.822, 0.798]})
    assert holds and "over 3 seeds" in evidence
    # every seed better, but one by much more: mean +1.0, SE 0.67 -> lower bound < 0
    assert not verdict({**m, "dev_accuracy_pretrained_seeds": [0.801, 0.811, 0.818]})[0]
    with pytest.raises(ValueError, match=">= 3"):
        bert_sst2.Config(seeds=2)


def test_transformer_xl_claims_compare_losses_over_seeds() -> None:
    m = {
        "val_loss_vanilla_seeds": [2.02, 2.01, 2.03],
        "val_loss_xl_seeds": [1.96, 1.95, 1.97],
        "val_loss_xl_long_memory_seeds": [1.963, 1.949, 1.975],
        "val_loss_vanilla": 2.02,
        "val_loss_xl": 1.96,
        "val_loss_xl_long_memory": 1.962,
        "val_loss_xl_first_position": 2.0,
        "val_loss_vanilla_first_position": 2.6,
        "eval_chars": 32768,
        "mem_len": 32,
        "eval_mem_len": 128,
    }
    holds, evidence = _claim(transformer_xl_text, "memory-lowers-val-loss")(m)
    assert holds and "over 3 seeds" in evidence
    # the longer memory: -0.003, +0.001, -0.005 nats: no consistent reduction
    assert not _claim(transformer_xl_text, "longer-memory-at-evaluation-helps")(m)[0]
    with pytest.raises(ValueError, match=">= 3"):
        transformer_xl_text.Config(seeds=1)
