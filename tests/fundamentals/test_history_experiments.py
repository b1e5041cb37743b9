"""Pieces of the history experiments: xor-stuck, backprop-cost, deep-gradients, relu-speed,
small-data, mnist1d-shuffle and layerwise-pretraining (fast; the claims are in tests/claims)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from replearn.experiments.fundamentals import (
    backprop_cost,
    deep_gradients,
    layerwise_pretraining,
    mnist1d_shuffle,
    relu_speed,
    small_data,
    xor_stuck,
)
from replearn.experiments.fundamentals.mlp_xor import xor_data
from replearn.fundamentals.mlp import MLP
from replearn.fundamentals.rbm import RBM


def test_xor_population_gives_each_network_its_own_gradient():
    pop = xor_stuck.XORPopulation(5, 3, torch.Generator().manual_seed(0))
    x, y = xor_data()
    loss, _ = pop.training_step((x, y))
    loss.backward()
    for i in range(5):
        w1 = pop.w1[i].detach().clone().requires_grad_()
        b1 = pop.b1[i].detach().clone().requires_grad_()
        w2 = pop.w2[i].detach().clone().requires_grad_()
        b2 = pop.b2[i].detach().clone().requires_grad_()
        z = (torch.sigmoid(x @ w1 + b1) @ w2 + b2).squeeze(-1)
        F.binary_cross_entropy_with_logits(z, y).backward()
        torch.testing.assert_close(pop.w1.grad[i], w1.grad)
        torch.testing.assert_close(pop.w2.grad[i], w2.grad)
        torch.testing.assert_close(pop.b1.grad[i], b1.grad)


def test_stop_at_target_waits_for_a_full_window():
    stop = relu_speed.StopAtTarget(target=0.5, window=3)

    class FakeLoop:
        step, should_stop = 0, False

    loop = FakeLoop()
    for step, loss in enumerate([0.1, 0.1, 2.0, 0.2, 0.1, 0.1], start=1):
        loop.step = step
        stop.on_loss(loop, torch.tensor(loss))
        stop.on_step_end(loop)
        if loop.should_stop:
            break
    # windows: (0.1, 0.1, 2.0) mean 0.73; (0.1, 2.0, 0.2) 0.77; (2.0, 0.2, 0.1) 0.77;
    # (0.2, 0.1, 0.1) 0.13 <= 0.5 at step 6
    assert stop.reached_at == 6 and loop.should_stop


def test_backprop_cost_measure_is_correct_on_a_tiny_mlp():
    cfg = backprop_cost.Config(widths=(8, 16), batch=4, rounds=6, warmup=0)
    r = backprop_cost.measure(cfg, 8, seed=0)
    assert r["manual_rel_error"] < 1e-10
    assert r["weights"] == 256 * 8 + 8 * 8 * 2 + 8 * 10
    assert r["forward_s"] > 0 and r["flop_ratio"] < 2
    assert r["rounds"] == 6 and r["ratio_lo"] <= r["ratio"] <= r["ratio_hi"]


def test_deep_mlp_initializations_and_gradient_profile():
    torch.manual_seed(0)
    relu = deep_gradients.DeepMLP(64, 10, depth=4, width=512, variant="relu")
    assert abs(float(relu.hidden[1].weight.detach().var()) * 512 / 2 - 1) < 0.05  # He: 2 / fan_in
    tanh = deep_gradients.DeepMLP(64, 10, depth=4, width=512, variant="tanh+ln")
    assert abs(float(tanh.hidden[1].weight.detach().var()) * 512 - 1) < 0.05  # Glorot: 2/(in+out)
    x, y = torch.rand(16, 64), torch.randint(0, 10, (16,))
    norms = deep_gradients.gradient_norms(tanh, x, y)
    assert len(norms) == 4 and all(n > 0 for n in norms)
    assert all(p.grad is None for p in tanh.parameters())


@pytest.mark.parametrize("name", small_data.NETWORKS)
def test_small_data_networks_classify_8x8_digits(name):
    model = small_data.build(name, 10)
    assert model(torch.rand(3, 1, 8, 8)).shape == (3, 10)


def test_shuffling_positions_is_a_relabelling_for_an_mlp():
    torch.manual_seed(0)
    x, y = torch.randn(6, 1, 40), torch.arange(6)
    perm = torch.randperm(40)
    shuffled = mnist1d_shuffle.shuffle_positions(TensorDataset(x, y), perm)
    torch.testing.assert_close(shuffled.tensors[0], x[..., perm])
    mlp = MLP(40, (16,), 10)
    permuted = MLP(40, (16,), 10)
    permuted.load_state_dict(mlp.state_dict())
    with torch.no_grad():
        permuted.layers[0].weight.copy_(mlp.layers[0].weight[:, perm])
    torch.testing.assert_close(permuted(shuffled.tensors[0]), mlp(x))
    for name in mnist1d_shuffle.MODELS:
        assert mnist1d_shuffle.build(name, 10)(x).shape == (6, 10)


def test_layer_task_trains_an_rbm_and_scratch_needs_no_pretraining(tmp_path):
    task = layerwise_pretraining.LayerTask(RBM(8, 4))
    loss, logs = task.training_step((torch.rand(5, 8),))
    assert loss.shape == () and torch.isfinite(loss) and "reconstruction_sq_error" in logs
    cfg = dataclasses.replace(layerwise_pretraining.tiny(), hidden=(6, 5))
    mlp = layerwise_pretraining.pretrain(cfg, "scratch", torch.rand(4, 64), None, seed=0)
    assert mlp.hidden == (6, 5) and mlp.activation == "sigmoid"


def test_configs_refuse_fewer_than_three_seeds():
    for module in (deep_gradients, relu_speed, small_data, mnist1d_shuffle, layerwise_pretraining):
        with pytest.raises(ValueError, match="n_seeds"):
            module.Config(n_seeds=2)
    with pytest.raises(ValueError, match="batch_size must be 4"):
        xor_stuck.Config(engine=dataclasses.replace(xor_stuck.tiny().engine, batch_size=8))
