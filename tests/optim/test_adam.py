"""Adam, AdamW and AMSGrad vs torch.optim (float64, 200 steps, parameters and state)."""

from __future__ import annotations

import copy

import pytest
import torch

from replearn.optim.adam import Adam, AdamW, AMSGrad, adam_update

PROBLEMS = ("net", "rosenbrock")
STATE = {"step": "step", "exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq"}
AMS_STATE = {**STATE, "max_exp_avg_sq": "max_exp_avg_sq"}

ADAM_CASES = [
    {"lr": 1e-2},
    {"lr": 3e-3, "betas": (0.8, 0.99), "eps": 1e-6},
    {"lr": 1e-2, "weight_decay": 0.1},
    {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True},
    {"lr": 1e-2, "amsgrad": True, "weight_decay": 0.05},
    {"lr": 1e-2, "maximize": True},
]


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("kwargs", ADAM_CASES, ids=str)
def test_adam_matches_torch(oracle, problem, kwargs):
    if kwargs.get("maximize"):
        oracle = oracle.negated()  # ascend -f: converges like descending f
    ours = oracle.run(problem, lambda p: Adam(p, **kwargs, foreach=False))
    ref = oracle.run(problem, lambda p: torch.optim.Adam(p, **kwargs))
    oracle.assert_same(ours, ref, AMS_STATE if kwargs.get("amsgrad") else STATE)


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adamw_matches_torch(oracle, problem, amsgrad):
    kwargs = {"lr": 1e-2, "weight_decay": 0.1, "amsgrad": amsgrad}
    ours = oracle.run(problem, lambda p: AdamW(p, **kwargs))
    ref = oracle.run(problem, lambda p: torch.optim.AdamW(p, **kwargs))
    oracle.assert_same(ours, ref, AMS_STATE if amsgrad else STATE)


@pytest.mark.parametrize("problem", PROBLEMS)
def test_amsgrad_matches_torch_adam_amsgrad(oracle, problem):
    ours = oracle.run(problem, lambda p: AMSGrad(p, lr=1e-2))
    ref = oracle.run(problem, lambda p: torch.optim.Adam(p, lr=1e-2, amsgrad=True))
    oracle.assert_same(ours, ref, AMS_STATE)


def test_amsgrad_second_moment_never_decreases(oracle):
    params = oracle.params("net")
    opt = AMSGrad(params, lr=1e-2, betas=(0.9, 0.9))
    previous = None
    for _ in range(50):
        opt.zero_grad()
        oracle.loss("net", params).backward()
        opt.step()
        current = [opt.state[p]["max_exp_avg_sq"].clone() for p in params]
        if previous is not None:
            assert all((c >= p).all() for c, p in zip(current, previous, strict=True))
        previous = current


@pytest.mark.parametrize("decoupled", [False, True])
def test_foreach_equals_reference(oracle, decoupled):
    kwargs = {"lr": 1e-2, "weight_decay": 0.1, "amsgrad": decoupled, "maximize": decoupled}
    oracle = oracle.negated() if decoupled else oracle
    kwargs["decoupled_weight_decay"] = decoupled
    fast = oracle.run("net", lambda p: Adam(p, **kwargs, foreach=True))
    slow = oracle.run("net", lambda p: Adam(p, **kwargs, foreach=False))
    oracle.assert_same(fast, slow, AMS_STATE if decoupled else STATE, rtol=1e-13, atol=1e-15)


def test_adam_update_is_algorithm_1():
    """Kingma & Ba's Algorithm 1 written out, for one step of one tensor."""
    torch.manual_seed(0)
    theta, g = torch.randn(5, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    m, v = torch.randn(5, dtype=torch.float64), torch.rand(5, dtype=torch.float64)
    lr, b1, b2, eps, t = 1e-2, 0.9, 0.999, 1e-8, 7
    m_t = b1 * m + (1 - b1) * g
    v_t = b2 * v + (1 - b2) * g**2
    expected = theta - lr * (m_t / (1 - b1**t)) / ((v_t / (1 - b2**t)).sqrt() + eps)
    adam_update(theta, g, m, v, t, lr=lr, beta1=b1, beta2=b2, eps=eps)
    torch.testing.assert_close(theta, expected, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(m, m_t)
    torch.testing.assert_close(v, v_t)


@pytest.mark.parametrize(("ours", "ref"), [(Adam, torch.optim.Adam), (AdamW, torch.optim.AdamW)])
def test_signature_is_torchs(oracle, ours, ref):
    assert oracle.signature(ours) == oracle.signature(ref)


def test_amsgrad_signature_is_adams_without_amsgrad(oracle):
    adam = [a for a in oracle.signature(torch.optim.Adam) if a[0] != "amsgrad"]
    assert oracle.signature(AMSGrad) == adam


def test_torch_state_dict_loads_and_continues(oracle):
    """Drop-in: a checkpoint of torch.optim.Adam continues in ours exactly as in torch."""
    params, ref = oracle.run("net", lambda p: torch.optim.Adam(p, lr=1e-2, amsgrad=True), 50)
    saved_params = [p.detach().clone().requires_grad_() for p in params]
    ours = Adam(saved_params, lr=1e-2, amsgrad=True)
    ours.load_state_dict(copy.deepcopy(ref.state_dict()))
    continued_ref = oracle.run("net", None, 50, params=params, opt=ref)
    continued = oracle.run("net", None, 50, params=saved_params, opt=ours)
    oracle.assert_same(continued, continued_ref, AMS_STATE)


def test_adamw_and_adam_l2_differ(oracle):
    adam = oracle.run("net", lambda p: Adam(p, lr=1e-2, weight_decay=0.1))
    adamw = oracle.run("net", lambda p: AdamW(p, lr=1e-2, weight_decay=0.1))
    assert not torch.allclose(adam[0][0], adamw[0][0], rtol=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": -1.0}, r"lr must be in \[0, inf\), got -1.0"),
        ({"betas": (0.9, 1.0)}, r"betas\[1\] must be in \[0, 1\)"),
        ({"betas": 0.9}, "betas must be a tuple of 2 numbers"),
        ({"eps": -1e-8}, "eps must be in"),
        ({"weight_decay": "0.1"}, "weight_decay must be a real number"),
        ({"lr": torch.tensor(0.1)}, "lr must be a Python float"),
        ({"amsgrad": 1}, "amsgrad must be True or False"),
        ({"fused": True}, "fused=True is not implemented"),
        ({"capturable": True}, "capturable=True is not supported"),
        ({"foreach": "yes"}, "foreach must be None, True or False"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Adam([torch.zeros(2, requires_grad=True)], **kwargs)


def test_bad_group_hyperparameter_raises():
    opt = Adam([torch.zeros(2, requires_grad=True)])
    with pytest.raises(ValueError, match=r"betas\[0\] must be in"):
        opt.add_param_group({"params": [torch.zeros(1, requires_grad=True)], "betas": (1.5, 0.9)})
    assert len(opt.param_groups) == 1


def test_sparse_gradient_is_refused():
    emb = torch.nn.Embedding(5, 2, sparse=True)
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse gradients"):
        Adam(emb.parameters()).step()
