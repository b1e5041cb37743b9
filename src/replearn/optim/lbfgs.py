r"""L-BFGS: a quasi-Newton method that keeps the last ``m`` curvature pairs.

Papers: D. C. Liu & J. Nocedal, "On the limited memory BFGS method for large scale
optimization", Mathematical Programming 45, 1989 (doi:10.1007/BF01589116); J. Nocedal &
S. J. Wright, *Numerical Optimization*, 2nd ed. 2006, Algorithm 7.4 (two-loop recursion).

With iterate :math:`x_k`, gradient :math:`g_k` and the stored pairs
:math:`s_i = x_{i+1} - x_i`, :math:`y_i = g_{i+1} - g_i` (:math:`i = k-m, \dots, k-1`):

.. math::

    \rho_i = 1 / (y_i^\top s_i), \quad \text{a pair is stored only if } y_i^\top s_i > 10^{-10}
                                                                    \qquad (1)\ \text{curvature}

    H^0_k = \gamma_k I, \quad \gamma_k = \frac{s_{k-1}^\top y_{k-1}}{y_{k-1}^\top y_{k-1}}
                                                            \qquad (2)\ \text{initial scaling}

    q \leftarrow -g_k;\ \ \alpha_i = \rho_i s_i^\top q,\ q \leftarrow q - \alpha_i y_i
    \ (i = k-1 \dots k-m);\ \ r \leftarrow H^0_k q;\ \
    \beta_i = \rho_i y_i^\top r,\ r \leftarrow r + (\alpha_i - \beta_i) s_i\ (i = k-m \dots k-1)
                                                                    \qquad (3)\ \text{two loops}

    d_k = r = -H_k g_k, \qquad x_{k+1} = x_k + t_k d_k             \qquad (4)\ \text{step}

The step length :math:`t_k` is the learning rate (the first step of a run is
:math:`\min(1, 1/\|g_0\|_1)\,\eta` as in torch), or comes from a backtracking line search
on the Armijo condition :math:`f(x + t d) \le f(x) + c_1 t\, g^\top d` (halving :math:`t`
from :math:`\eta`; Nocedal & Wright Algorithm 3.1), which makes the method converge on
non-convex problems such as Rosenbrock without tuning.

Deviations: torch's ``strong_wolfe`` line search is not implemented (``"backtracking"``
is ours and has no torch twin). Like ``torch.optim.LBFGS``, one :meth:`LBFGS.step` runs up
to ``max_iter`` iterations, needs a closure, takes a single parameter group and keeps its
state on the first parameter; the stopping rules (gradient, change, evaluations) are
torch's.

Tests (tests/optim/test_lbfgs.py): float64, parameters and the loss after every
``step`` against ``torch.optim.LBFGS`` (no line search) on an ill-conditioned quadratic and
on Rosenbrock; :func:`lbfgs_direction` with full memory on a quadratic equals the Newton
direction after ``d`` exact line-search steps (BFGS's finite termination); the line-search
variant reaches Rosenbrock's minimum.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from replearn.optim.base import ReplearnOptimizer, check_number
from replearn.registry import register

__all__ = ["LBFGS", "armijo_backtracking", "lbfgs_direction"]

CURVATURE_EPS = 1e-10  # Eq. (1): torch's threshold on y^T s


def lbfgs_direction(
    grad: Tensor, old_steps: list[Tensor], old_dirs: list[Tensor], gamma: float | Tensor
) -> Tensor:
    r"""The two-loop recursion (Eq. 3): :math:`d = -H_k g` without forming :math:`H_k`.

    Args:
        grad: :math:`g_k`.
        old_steps: the stored :math:`s_i`, oldest first.
        old_dirs: the stored :math:`y_i`, oldest first.
        gamma: :math:`\gamma_k` of Eq. (2).

    Shape:
        grad, every :math:`s_i, y_i`: (n,); returns (n,).
    """
    rho = [1.0 / y.dot(s) for s, y in zip(old_steps, old_dirs, strict=True)]  # Eq. (1)
    alpha: list[Tensor] = [torch.zeros(())] * len(old_steps)
    q = grad.neg()
    for i in range(len(old_steps) - 1, -1, -1):  # first loop, newest pair first
        alpha[i] = old_steps[i].dot(q) * rho[i]
        q.add_(old_dirs[i], alpha=-alpha[i])
    r = torch.mul(q, gamma)  # Eq. (2): H^0 q
    for i in range(len(old_steps)):  # second loop, oldest pair first
        beta = old_dirs[i].dot(r) * rho[i]
        r.add_(old_steps[i], alpha=alpha[i] - beta)
    return r  # Eq. (4): d = -H g


def armijo_backtracking(
    f: Callable[[float], float],
    loss: float,
    gtd: float,
    t: float,
    *,
    c1: float = 1e-4,
    shrink: float = 0.5,
    max_evals: int = 30,
) -> tuple[float, int]:
    r"""Largest :math:`t\,\text{shrink}^j` with :math:`f(t) \le f(0) + c_1 t\, g^\top d`.

    Args:
        f: the loss along the direction, :math:`t \mapsto f(x + t d)`.
        loss: :math:`f(x)`.
        gtd: the directional derivative :math:`g^\top d` (< 0 for a descent direction).
        t: the first trial step.
        c1: Armijo's sufficient-decrease constant.
        shrink: factor applied to :math:`t` after a rejected trial.
        max_evals: trials at most (the last trial is accepted whatever its value).

    Returns:
        the accepted step and the number of evaluations of ``f``.
    """
    for evals in range(1, max_evals + 1):
        if f(t) <= loss + c1 * t * gtd or evals == max_evals:
            return t, evals
        t *= shrink
    return t, max_evals  # pragma: no cover - the loop always returns


@register(
    "optim.lbfgs",
    paper="Liu & Nocedal 1989, Math. Programming 45 (L-BFGS); Nocedal & Wright 2006, Alg. 7.4",
    reference="torch.optim.LBFGS (line_search_fn=None), float64, quadratic and Rosenbrock",
)
class LBFGS(ReplearnOptimizer):
    """L-BFGS (Eqs. 1-4), drop-in for ``torch.optim.LBFGS``; ``step`` needs a closure.

    Args:
        params: the parameters (a single group).
        lr: :math:`\\eta`, the step length (the first trial step with a line search).
        max_iter: iterations per :meth:`step`.
        max_eval: closure evaluations per :meth:`step` (None: 1.25 ``max_iter``).
        tolerance_grad: stop when :math:`\\|g\\|_\\infty` is below it.
        tolerance_change: stop when the step or the loss change is below it.
        history_size: :math:`m`, the pairs kept.
        line_search_fn: None (fixed step, torch's) or ``"backtracking"`` (Armijo).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1.0,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn,
                        maximize=False, foreach=None)  # fmt: skip
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS takes a single parameter group (as torch.optim.LBFGS)")
        self._params: list[Tensor] = self.param_groups[0]["params"]

    def check_group(self, group: dict[str, Any]) -> None:
        check_number("lr", group["lr"], low_open=True)
        for name in ("max_iter", "max_eval", "history_size"):
            if isinstance(group[name], bool) or not isinstance(group[name], int):
                raise ValueError(f"{name} must be an int >= 1, got {group[name]!r}")
            check_number(name, group[name], low=1)
        check_number("tolerance_grad", group["tolerance_grad"])
        check_number("tolerance_change", group["tolerance_change"])
        if group["line_search_fn"] not in (None, "backtracking"):
            raise ValueError(
                f"line_search_fn must be None or 'backtracking', got {group['line_search_fn']!r}"
            )

    def _flat_grad(self) -> Tensor:
        return torch.cat(
            [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
             for p in self._params]
        )  # fmt: skip

    @torch.no_grad()
    def _add(self, t: float, d: Tensor) -> None:
        offset = 0
        for p in self._params:
            n = p.numel()
            p.add_(d[offset : offset + n].view_as(p), alpha=t)
            offset += n

    def _loss_at(self, closure: Callable[[], Tensor], d: Tensor, t: float) -> float:
        """f(x + t d), parameters left unchanged."""
        self._add(t, d)
        with torch.enable_grad():
            value = float(closure().detach())
        self._add(-t, d)
        return value

    def step(self, closure: Callable[[], Tensor]) -> Tensor:  # type: ignore[override]
        """Run up to ``max_iter`` L-BFGS iterations; returns the loss at the start."""
        if closure is None:
            raise ValueError("LBFGS.step needs a closure that re-evaluates the loss")
        closure = torch.enable_grad()(closure)
        group = self.param_groups[0]
        lr, history = group["lr"], group["history_size"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        orig_loss = closure()
        loss, evals = float(orig_loss.detach()), 1
        state["func_evals"] += 1
        g = self._flat_grad()
        if g.abs().max() <= group["tolerance_grad"]:
            return orig_loss
        d, t = state.get("d"), state.get("t")
        steps, dirs, gamma = state.get("old_stps"), state.get("old_dirs"), state.get("H_diag")
        prev_g = state.get("prev_flat_grad")
        n_iter = 0
        while n_iter < group["max_iter"]:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d, steps, dirs, gamma = g.neg(), [], [], 1.0
            else:
                y, s = g.sub(prev_g), d.mul(t)
                ys = y.dot(s)
                if ys > CURVATURE_EPS:  # Eq. (1)
                    if len(dirs) == history:
                        steps.pop(0)
                        dirs.pop(0)
                    steps.append(s)
                    dirs.append(y)
                    gamma = ys / y.dot(y)  # Eq. (2)
                d = lbfgs_direction(g, steps, dirs, gamma)  # Eq. (3)
            prev_g = g.clone()
            prev_loss = loss
            t = min(1.0, 1.0 / float(g.abs().sum())) * lr if state["n_iter"] == 1 else lr
            gtd = float(g.dot(d))
            if gtd > -group["tolerance_change"]:
                break
            ls_evals = 0
            if group["line_search_fn"] == "backtracking":
                along = functools.partial(self._loss_at, closure, d)
                t, ls_evals = armijo_backtracking(along, loss, gtd, t)
            self._add(t, d)  # Eq. (4)
            if n_iter != group["max_iter"]:
                with torch.enable_grad():
                    loss = float(closure().detach())
                g = self._flat_grad()
                ls_evals += 1
            evals += ls_evals
            state["func_evals"] += ls_evals
            if n_iter == group["max_iter"] or evals >= group["max_eval"]:
                break
            if g.abs().max() <= group["tolerance_grad"]:
                break
            if d.mul(t).abs().max() <= group["tolerance_change"]:
                break
            if abs(loss - prev_loss) < group["tolerance_change"]:
                break
        state.update(d=d, t=t, old_stps=steps, old_dirs=dirs, H_diag=gamma,
                     prev_flat_grad=prev_g, prev_loss=loss)  # fmt: skip
        return orig_loss
