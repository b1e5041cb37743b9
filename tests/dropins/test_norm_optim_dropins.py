"""replearn's norms and optimizers against their torch twins: every input form, every refusal.

Norms: every input form torch documents (BatchNorm1d (N, C) and (N, C, L); InstanceNorm
batched and unbatched; GroupNorm (N, C, *); LayerNorm/RMSNorm over one or more trailing axes)
and constructor variants (affine, track_running_stats, momentum=None, elementwise_affine, bias,
eps=None), torch's state_dict loaded, float64, training then evaluation mode: outputs, gradients
of the input and the affine parameters, running statistics; fast and reference paths.
Optimizers: five steps on a float64 problem equal torch's, on the reference and foreach paths.
Refusals: every argument torch refuses (when built, or at the first training forward or step),
ours refuse when built, with an exception that is an instance of torch's type; the deviations
(``fused``, ``capturable``, ``differentiable``, tensor hyperparameters) are refused naming
docs/deviations.md.
"""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn

import replearn.norm as N
import replearn.optim as R

F64 = torch.float64
TOL = dict(rtol=1e-10, atol=1e-12)

# (class name, constructor args, constructor keywords, input shape)
NORMS = [
    ("BatchNorm1d", (3,), {}, (4, 3)),
    ("BatchNorm1d", (3,), {}, (4, 3, 5)),
    ("BatchNorm1d", (3,), {"momentum": None}, (4, 3, 5)),
    ("BatchNorm1d", (3,), {"affine": False}, (4, 3)),
    ("BatchNorm2d", (3,), {}, (4, 3, 5, 5)),
    ("BatchNorm2d", (3,), {"track_running_stats": False}, (4, 3, 5, 5)),
    ("BatchNorm2d", (3,), {"bias": False}, (4, 3, 5, 5)),
    ("InstanceNorm1d", (3,), {}, (4, 3, 5)),
    ("InstanceNorm1d", (3,), {}, (3, 5)),
    ("InstanceNorm1d", (3,), {"affine": True, "track_running_stats": True}, (4, 3, 5)),
    ("InstanceNorm2d", (3,), {"affine": True}, (4, 3, 5, 5)),
    ("InstanceNorm2d", (3,), {"affine": True, "track_running_stats": True}, (3, 5, 5)),
    ("GroupNorm", (2, 6), {}, (4, 6)),
    ("GroupNorm", (2, 6), {}, (4, 6, 5)),
    ("GroupNorm", (3, 6), {"affine": False}, (4, 6, 5, 5)),
    ("LayerNorm", (5,), {}, (4, 5)),
    ("LayerNorm", ((4, 5),), {}, (2, 4, 5)),
    ("LayerNorm", (5,), {"bias": False}, (2, 4, 5)),
    ("LayerNorm", (5,), {"elementwise_affine": False}, (2, 4, 5)),
    ("RMSNorm", (5,), {}, (2, 4, 5)),
    ("RMSNorm", ((4, 5),), {"eps": 1e-6}, (2, 4, 5)),
]


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "reference"])
@pytest.mark.parametrize("name,args,kw,shape", NORMS, ids=[f"{n}-{k}-{s}" for n, _, k, s in NORMS])
def test_norm_forward_backward_and_statistics_equal_torch(name, args, kw, shape, fast):
    theirs = getattr(nn, name)(*args, dtype=F64, **kw)
    ours = getattr(N, name)(*args, dtype=F64, fast=fast, **kw)
    with torch.no_grad():  # non-trivial affine parameters
        for p in theirs.parameters():
            p.add_(torch.randn(p.shape, dtype=F64))
    ours.load_state_dict(theirs.state_dict())  # same names, strict
    x = torch.randn(shape, dtype=F64) * 3 + 1
    r = torch.randn(shape, dtype=F64)
    for train in (True, False):
        results = []
        for model in (theirs, ours):
            model.train(train)
            xi = x.clone().requires_grad_()
            out = model(xi)
            (out * r).sum().backward()
            grads = [xi.grad] + [p.grad.clone() for _, p in sorted(model.named_parameters())]
            model.zero_grad()
            results.append((out, grads, dict(model.named_buffers())))
        (o1, g1, b1), (o2, g2, b2) = results
        torch.testing.assert_close(o2, o1, **TOL)
        assert len(g1) == len(g2)
        for a, b in zip(g2, g1, strict=True):
            torch.testing.assert_close(a, b, **TOL)
        assert b1.keys() == b2.keys()
        for key in b1:
            torch.testing.assert_close(b2[key], b1[key], **TOL)


def _refusal(build, use) -> type[BaseException] | None:
    """The exception torch raises when built or first used (training forward / step)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            use(build())
    except Exception as e:
        return type(e)
    return None


NORM_REFUSALS = [
    ("BatchNorm1d", (3,), {"eps": 0.0}, (4, 3)),  # torch: at the first training forward
    ("BatchNorm2d", (3,), {"eps": -1e-5}, (4, 3, 2, 2)),
    ("BatchNorm1d", (3.0,), {}, (4, 3)),
    ("InstanceNorm2d", (3.0,), {"affine": True}, (4, 3, 2, 2)),
    ("GroupNorm", (4, 6), {}, (4, 6)),
    ("GroupNorm", (2, 6.0), {}, (4, 6)),
    ("LayerNorm", ((5.0,),), {}, (4, 5)),
    ("RMSNorm", ((2.5,),), {}, (4, 5)),
]


@pytest.mark.parametrize(
    "name,args,kw,shape", NORM_REFUSALS, ids=[f"{n}-{a}-{k}" for n, a, k, _ in NORM_REFUSALS]
)
def test_norm_refuses_what_torch_refuses(name, args, kw, shape):
    expected = _refusal(
        lambda: getattr(nn, name)(*args, **kw), lambda m: m.train()(torch.randn(shape))
    )
    assert expected is not None, "torch accepts these arguments"
    for fast in (True, False):
        with pytest.raises(expected):
            getattr(N, name)(*args, fast=fast, **kw)  # at construction


# (class name, keywords): the configurations compared step by step
OPTIMIZERS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "maximize": True}),
    ("Adam", {"lr": 0.05, "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "decoupled_weight_decay": True, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.05}),
    ("AdamW", {"lr": 0.05, "amsgrad": True, "maximize": True}),
    (
        "Adagrad",
        {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.5},
    ),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "centered": True, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01}),
]


@pytest.mark.parametrize("foreach", [False, True], ids=["reference", "foreach"])
@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=[f"{n}-{k}" for n, k in OPTIMIZERS])
def test_optimizer_steps_equal_torch(name: str, kw: dict, foreach: bool):
    g = torch.Generator().manual_seed(0)
    a = torch.randn(6, 6, generator=g, dtype=F64)
    start = [torch.randn(6, generator=g, dtype=F64), torch.randn(3, 2, generator=g, dtype=F64)]
    trajectories = []
    for module in (torch.optim, R):
        params = [nn.Parameter(p.clone()) for p in start]
        opt = getattr(module, name)(params, foreach=foreach, **kw)
        for _ in range(5):
            opt.zero_grad()
            loss = (a @ params[0]).square().sum() + params[1].pow(4).sum()
            loss.backward()
            opt.step()
        trajectories.append(params)
    for ours, theirs in zip(trajectories[1], trajectories[0], strict=True):
        torch.testing.assert_close(ours, theirs, **TOL)


OPTIM_REFUSALS = [
    ("SGD", {"lr": -1.0}),
    ("SGD", {"momentum": -0.1}),
    ("SGD", {"weight_decay": -1e-4}),
    ("SGD", {"nesterov": True}),
    ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}),
    ("SGD", {"lr": "0.1"}),
    ("Adam", {"lr": -1e-3}),
    ("Adam", {"betas": (1.0, 0.9)}),
    ("Adam", {"betas": (0.9, -0.1)}),
    ("Adam", {"eps": -1e-8}),
    ("Adam", {"weight_decay": -1.0}),
    ("Adam", {"lr": torch.tensor(0.1), "foreach": True}),
    ("AdamW", {"weight_decay": -1.0}),
    ("AdamW", {"eps": -1e-8}),
    ("Adagrad", {"lr": -1.0}),
    ("Adagrad", {"lr_decay": -1.0}),
    ("Adagrad", {"initial_accumulator_value": -1.0}),
    ("Adagrad", {"eps": -1.0}),
    ("RMSprop", {"alpha": -0.1}),
    ("RMSprop", {"momentum": -1.0}),
    ("RMSprop", {"eps": -1.0}),
    ("RMSprop", {"weight_decay": -1.0}),
]


def _step(opt: torch.optim.Optimizer) -> None:
    for group in opt.param_groups:
        for p in group["params"]:
            p.grad = torch.ones_like(p)
    opt.step()


@pytest.mark.parametrize("name,kw", OPTIM_REFUSALS, ids=[f"{n}-{k}" for n, k in OPTIM_REFUSALS])
def test_optimizer_refuses_what_torch_refuses(name: str, kw: dict):
    expected = _refusal(
        lambda: getattr(torch.optim, name)([nn.Parameter(torch.zeros(3))], **kw), _step
    )
    assert expected is not None, "torch accepts these arguments"
    with pytest.raises(expected):
        getattr(R, name)([nn.Parameter(torch.zeros(3))], **kw)  # at construction


DEVIATIONS = [
    ("SGD", {"fused": True}),
    ("Adam", {"fused": True}),
    ("AdamW", {"fused": True}),
    ("Adagrad", {"fused": True}),
    ("Adam", {"capturable": True}),
    ("RMSprop", {"capturable": True}),
    ("SGD", {"differentiable": True}),
    ("Adam", {"differentiable": True}),
    ("Adam", {"lr": torch.tensor(1e-3)}),
    ("SGD", {"weight_decay": torch.tensor(0.1)}),
]


@pytest.mark.parametrize("name,kw", DEVIATIONS, ids=[f"{n}-{next(iter(k))}" for n, k in DEVIATIONS])
def test_torch_only_switches_are_refused_naming_the_deviation(name: str, kw: dict):
    with pytest.raises(ValueError, match=r"docs/deviations\.md"):
        getattr(R, name)([nn.Parameter(torch.zeros(3))], **kw)


@pytest.mark.parametrize(
    "name,kw",
    [
        ("Adam", {"lr": 0.1, "amsgrad": True}),
        ("AdamW", {"lr": 0.1}),
        ("Adagrad", {"lr": 0.1}),
        ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    ],
)
def test_torch_optimizer_state_dict_loads_and_continues(name: str, kw: dict):
    """torch's state keys: a torch optimizer's state_dict, loaded into ours, steps on as torch's
    (SGD keeps a velocity instead: see docs/deviations.md)."""
    start = torch.randn(4, dtype=F64)
    p_torch, p_ours = nn.Parameter(start.clone()), nn.Parameter(start.clone())
    theirs = getattr(torch.optim, name)([p_torch], **kw)
    for _ in range(3):
        p_torch.grad = p_torch.detach() ** 2 - 1
        theirs.step()
    with torch.no_grad():
        p_ours.copy_(p_torch)
    ours = getattr(R, name)([p_ours], **kw)
    ours.load_state_dict(copy.deepcopy(theirs.state_dict()))
    for _ in range(2):
        for opt, p in ((theirs, p_torch), (ours, p_ours)):
            p.grad = p.detach() ** 2 - 1
            opt.step()
    torch.testing.assert_close(p_ours, p_torch, **TOL)
