"""Shared by the optimizer tests: two small float64 problems and a run-and-compare oracle.

``net``: a 4-8-3 tanh network on 16 fixed examples (mean squared error), four
parameter tensors. ``rosenbrock``: one (2,) tensor started at (-1.5, 2).
The fixture ``oracle`` gives :class:`Oracle`: ``run`` trains a fresh copy of a
problem with an optimizer factory; ``assert_same`` compares parameters and state.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping

import pytest
import torch
from torch import Tensor

from replearn.experiments.optim.tasks import ROSENBROCK_START, rosenbrock

PROBLEMS = ("net", "rosenbrock")
RTOL, ATOL = 1e-9, 1e-12  # float64, 200 steps
_GEN = torch.Generator().manual_seed(123)
_NET_DATA = (
    torch.randn(16, 4, generator=_GEN, dtype=torch.float64),
    torch.randn(16, 3, generator=_GEN, dtype=torch.float64),
)


class Oracle:
    """Helpers of the equivalence tests (float64 throughout)."""

    steps = 200

    @staticmethod
    def params(problem: str) -> list[Tensor]:
        """Fresh leaf parameters of ``problem`` (always the same values)."""
        if problem == "rosenbrock":
            return [torch.tensor(ROSENBROCK_START, dtype=torch.float64, requires_grad=True)]
        gen = torch.Generator().manual_seed(0)
        shapes = [(8, 4), (8,), (3, 8), (3,)]
        return [
            (0.5 * torch.randn(s, generator=gen, dtype=torch.float64)).requires_grad_()
            for s in shapes
        ]

    @staticmethod
    def loss(problem: str, params: list[Tensor]) -> Tensor:
        """The problem's loss at ``params``."""
        if problem == "rosenbrock":
            return rosenbrock(params[0])
        x, y = _NET_DATA
        w1, b1, w2, b2 = params
        pred = torch.tanh(x @ w1.T + b1) @ w2.T + b2  # (16, 3)
        return ((pred - y) ** 2).mean()

    @classmethod
    def negated(cls) -> type[Oracle]:
        """The same problems with the loss negated (to test ``maximize=True``)."""
        loss = cls.loss
        return type("NegatedOracle", (cls,), {"loss": staticmethod(lambda p, x: -loss(p, x))})

    @staticmethod
    def signature(cls: type) -> list[tuple[str, object, object]]:
        """(name, kind, default) of every constructor argument."""
        params = inspect.signature(cls.__init__).parameters.values()  # type: ignore[misc]
        return [(p.name, p.kind, p.default) for p in params]

    @classmethod
    def run(
        cls,
        problem: str,
        make_opt: Callable[[list[Tensor]], torch.optim.Optimizer],
        steps: int | None = None,
        *,
        params: list[Tensor] | None = None,
        opt: torch.optim.Optimizer | None = None,
        schedule: Callable[[torch.optim.Optimizer], object] | None = None,
    ) -> tuple[list[Tensor], torch.optim.Optimizer]:
        """Train ``problem`` for ``steps`` updates (fresh parameters and optimizer unless given)."""
        params = cls.params(problem) if params is None else params
        opt = make_opt(params) if opt is None else opt
        sched = schedule(opt) if schedule is not None else None
        for _ in range(cls.steps if steps is None else steps):
            opt.zero_grad()
            cls.loss(problem, params).backward()
            opt.step()
            if sched is not None:
                sched.step()  # type: ignore[attr-defined]
        return params, opt

    @staticmethod
    def assert_same(
        ours: tuple[list[Tensor], torch.optim.Optimizer],
        ref: tuple[list[Tensor], torch.optim.Optimizer],
        state_keys: Mapping[str, str | tuple[str, float]],
        *,
        rtol: float = RTOL,
        atol: float = ATOL,
    ) -> None:
        """Parameters and state agree; ``state_keys`` maps our key to the reference's key,
        or to ``(key, factor)`` when ours is ``factor`` times the reference's."""
        (p_ours, o_ours), (p_ref, o_ref) = ours, ref
        for a, b in zip(p_ours, p_ref, strict=True):
            torch.testing.assert_close(a, b, rtol=rtol, atol=atol)
        for a, b in zip(p_ours, p_ref, strict=True):
            s_ours, s_ref = o_ours.state[a], o_ref.state[b]
            for key, spec in state_keys.items():
                ref_key, factor = (spec, 1.0) if isinstance(spec, str) else spec
                expected = torch.as_tensor(s_ref[ref_key]) * factor
                got = torch.as_tensor(s_ours[key])
                torch.testing.assert_close(
                    got.to(expected.dtype), expected, rtol=rtol, atol=atol, msg=key
                )


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: a second intra-op thread only adds synchronisation on a busy machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def oracle() -> type[Oracle]:
    """The :class:`Oracle` helpers."""
    return Oracle
