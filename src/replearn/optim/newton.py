r"""Newton's method on small problems: the exact Hessian, pure and damped with a line search.

References: J. Nocedal & S. J. Wright, *Numerical Optimization*, 2nd ed. 2006, Sec. 3.3
(Newton's method, quadratic convergence, Theorem 3.5), Sec. 3.4 (Newton with Hessian
modification: add :math:`\mu I` until the Cholesky factorization succeeds) and
Algorithm 3.1 (backtracking); K. Levenberg, Quart. Appl. Math. 2, 1944 (damping).

With the gradient :math:`g_k = \nabla f(x_k)` and Hessian :math:`H_k = \nabla^2 f(x_k)`:

.. math::

    H_k = \Big[\frac{\partial^2 f}{\partial x_i \partial x_j}(x_k)\Big]_{ij}
                                                            \qquad (1)\ \text{Hessian}

    (H_k + \mu_k I)\, d_k = -g_k                            \qquad (2)\ \text{(damped) Newton step}

    \mu_k = 0 \text{ (pure)}; \text{ else the smallest of } \mu_0, 2\mu_0, 4\mu_0, \dots
    \text{ (after } \mu = 0\text{) for which } H_k + \mu I \succ 0  \qquad (3)\ \text{modification}

    x_{k+1} = x_k + t_k d_k, \quad t_k = 1 \text{ (pure) or Armijo backtracking from } 1
                                                            \qquad (4)\ \text{update}

Pure Newton (:math:`\mu = 0, t = 1`) jumps to the minimum of a quadratic in one step and
converges quadratically near a minimum with a positive-definite Hessian, but it is
attracted by saddles and maxima as much as by minima (it solves :math:`\nabla f = 0`),
and it may diverge from far away. The damped variant (Eqs. 3-4) only takes descent
directions and shrinks the step until the loss decreases enough.

The Hessian costs :math:`n` backward passes and the solve :math:`O(n^3)`: for problems
with a few hundred parameters at most. Deviations: none of note; the modification is
Nocedal & Wright's "add a multiple of the identity" (their Algorithm 3.3) with
:math:`\mu` doubled from ``damping``.

Tests (tests/optim/test_newton.py): :func:`hessian` against
``torch.autograd.functional.hessian``; one pure step on a quadratic lands on
``torch.linalg.solve(A, b)``; quadratic convergence on Rosenbrock near the minimum
(:math:`e_{k+1} \le C e_k^2`); from a point near a maximum of a double well, pure Newton
climbs to the maximum while the damped variant descends to a minimum.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from replearn.optim.base import ReplearnOptimizer, check_number
from replearn.optim.lbfgs import armijo_backtracking
from replearn.registry import register

__all__ = ["Newton", "hessian", "modified_newton_direction", "newton_direction"]


def hessian(loss: Tensor, params: list[Tensor]) -> tuple[Tensor, Tensor]:
    r"""Gradient and Hessian (Eq. 1) of a scalar ``loss`` over the flattened ``params``.

    ``loss`` must still have its graph (computed with grad enabled).

    Shape:
        loss: (); returns g: (n,), H: (n, n) with n the total number of elements.
    """
    grads = torch.autograd.grad(loss, params, create_graph=True)
    g = torch.cat([gr.reshape(-1) for gr in grads])  # (n,)
    rows = []
    for i in range(g.numel()):
        row = torch.autograd.grad(g[i], params, retain_graph=True, allow_unused=True)
        rows.append(torch.cat([
            (r if r is not None else torch.zeros_like(p)).reshape(-1)
            for r, p in zip(row, params, strict=True)
        ]))  # fmt: skip
    h = torch.stack(rows)  # (n, n)
    return g.detach(), 0.5 * (h + h.T).detach()


def newton_direction(grad: Tensor, hess: Tensor, damping: float = 0.0) -> Tensor:
    r"""Solve :math:`(H + \mu I) d = -g` (Eq. 2).

    Shape:
        grad: (n,), hess: (n, n) -> (n,)
    """
    eye = torch.eye(grad.numel(), dtype=hess.dtype, device=hess.device)
    return torch.linalg.solve(hess + damping * eye, -grad)


def modified_newton_direction(
    grad: Tensor, hess: Tensor, damping: float, max_tries: int = 60
) -> tuple[Tensor, float]:
    r"""Eq. (3): the Newton direction of :math:`H + \mu I` with the smallest :math:`\mu` tried
    (0, then ``damping`` doubled) for which the Cholesky factorization succeeds.

    Returns:
        the direction (a descent direction: :math:`g^\top d < 0` unless :math:`g = 0`) and
        :math:`\mu`.

    Shape:
        grad: (n,), hess: (n, n) -> (n,), ()
    """
    eye = torch.eye(grad.numel(), dtype=hess.dtype, device=hess.device)
    mu = 0.0
    for i in range(max_tries):
        chol, info = torch.linalg.cholesky_ex(hess + mu * eye)
        if int(info) == 0:
            return torch.cholesky_solve(-grad.unsqueeze(-1), chol).squeeze(-1), mu
        mu = damping * 2.0**i
    raise RuntimeError(f"H + mu I is not positive definite even with mu = {mu:g}")


@register(
    "optim.newton",
    paper="Nocedal & Wright 2006, Numerical Optimization, Sec. 3.3-3.4 (Newton, modification)",
    reference="torch.linalg.solve on quadratics; torch.autograd.functional.hessian; closed forms",
)
class Newton(ReplearnOptimizer):
    """Newton's method (Eqs. 1-4) for small problems; ``step`` needs a closure.

    The closure returns the loss *without* calling ``backward`` (the optimizer
    differentiates it twice itself).

    Args:
        params: the parameters (a few hundred elements at most).
        lr: the step length (pure) or the first trial step (damped).
        damped: Hessian modification (Eq. 3) and Armijo backtracking (Eq. 4).
        damping: :math:`\\mu_0`, the first non-zero damping tried.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1.0,
        *,
        damped: bool = False,
        damping: float = 1e-3,
    ) -> None:
        defaults = dict(lr=lr, damped=damped, damping=damping, maximize=False, foreach=None)
        super().__init__(params, defaults)
        self._params = [p for g in self.param_groups for p in g["params"]]

    def check_group(self, group: dict[str, Any]) -> None:
        check_number("lr", group["lr"], low_open=True)
        check_number("damping", group["damping"], low_open=True)
        if not isinstance(group["damped"], bool):
            raise ValueError(f"damped must be True or False, got {group['damped']!r}")

    def extra_repr(self) -> str:
        group = self.param_groups[0]
        return f"lr={group['lr']}, damped={group['damped']}, damping={group['damping']}"

    @torch.no_grad()
    def _add(self, t: float, d: Tensor) -> None:
        offset = 0
        for p in self._params:
            p.add_(d[offset : offset + p.numel()].view_as(p), alpha=t)
            offset += p.numel()

    def _loss_at(self, closure: Callable[[], Tensor], d: Tensor, t: float) -> float:
        self._add(t, d)
        with torch.no_grad():
            value = float(closure())
        self._add(-t, d)
        return value

    def step(self, closure: Callable[[], Tensor]) -> Tensor:  # type: ignore[override]
        """One Newton iteration; returns the loss before it."""
        if closure is None:
            raise ValueError("Newton.step needs a closure that returns the loss")
        group = self.param_groups[0]
        with torch.enable_grad():
            loss = closure()
            g, h = hessian(loss, self._params)  # Eq. (1)
        state = self.state[self._params[0]]
        state["step"] = state.get("step", 0) + 1
        if group["damped"]:
            d, mu = modified_newton_direction(g, h, group["damping"])  # Eq. (3)
            along = functools.partial(self._loss_at, closure, d)
            t, _ = armijo_backtracking(along, float(loss.detach()), float(g @ d), group["lr"])
        else:
            d, mu, t = newton_direction(g, h), 0.0, group["lr"]  # Eq. (2)
        self._add(t, d)  # Eq. (4)
        state.update(damping=mu, step_length=t, grad_norm=float(g.norm()))
        return loss.detach()
