r"""Evolution strategies: OpenAI-ES (antithetic sampling) and CMA-ES-lite (rank-mu, CSA).

Papers: T. Salimans, J. Ho, X. Chen, S. Sidor & I. Sutskever, "Evolution strategies as a
scalable alternative to reinforcement learning", 2017, arXiv:1703.03864 (Algorithm 1,
antithetic "mirrored" sampling, Sec. 2.2; fitness shaping by ranks); N. Hansen, "The CMA
evolution strategy: a tutorial", 2016, arXiv:1604.00772 (Eqs. (9), (11), (30), (43)-(44));
N. Hansen & A. Ostermeier, Evolutionary Computation 9(2), 2001 (CMA-ES).

Both use only loss values: no gradient. **OpenAI-ES** estimates the gradient of the
Gaussian-smoothed loss :math:`f_\sigma(\theta) = \mathbb{E}_\epsilon f(\theta + \sigma\epsilon)`
with :math:`n` mirrored pairs and takes a gradient step:

.. math::

    \hat g = \frac{1}{2 n \sigma} \sum_{i=1}^{n} \big(f(\theta + \sigma\epsilon_i)
             - f(\theta - \sigma\epsilon_i)\big)\, \epsilon_i, \quad
             \epsilon_i \sim \mathcal N(0, I)                     \qquad (1)\ \text{estimate}

    \theta \leftarrow \theta - \eta\, \hat g                          \qquad (2)\ \text{step}

For a quadratic :math:`f` the mirrored difference is exactly :math:`2\sigma\,\nabla
f(\theta)^\top\epsilon_i`, so :math:`\hat g = \frac1n \sum_i \epsilon_i\epsilon_i^\top \nabla f`
(unbiased, and independent of :math:`\sigma`). With ``rank_shaping`` the differences are
replaced by centred ranks, as in the paper (invariant to monotone transforms of :math:`f`).

**CMA-ES-lite** samples :math:`\lambda` points :math:`x_k = m + \sigma y_k`,
:math:`y_k \sim \mathcal N(0, C)`, sorts them by loss and, with weights
:math:`w_i \propto \ln\frac{\lambda+1}{2} - \ln i` over the best :math:`\mu = \lfloor
\lambda/2\rfloor` (:math:`\sum w_i = 1`, :math:`\mu_{\rm eff} = 1/\sum w_i^2`):

.. math::

    m \leftarrow m + \sigma \textstyle\sum_{i \le \mu} w_i y_{i:\lambda}   \qquad (3)\ \text{mean}

    p_\sigma \leftarrow (1 - c_\sigma) p_\sigma + \sqrt{c_\sigma (2 - c_\sigma) \mu_{\rm eff}}\,
    C^{-1/2} \textstyle\sum_i w_i y_{i:\lambda}                         \qquad (4)\ \text{path}

    \sigma \leftarrow \sigma \exp\!\Big(\frac{c_\sigma}{d_\sigma}
    \Big(\frac{\|p_\sigma\|}{\mathbb E\|\mathcal N(0, I)\|} - 1\Big)\Big) \qquad (5)\ \text{CSA}

    C \leftarrow (1 - c_\mu) C + c_\mu \textstyle\sum_{i \le \mu} w_i\, y_{i:\lambda}
    y_{i:\lambda}^\top                                                   \qquad (6)\ \text{rank-}\mu

with Hansen's defaults :math:`c_\sigma = (\mu_{\rm eff}+2)/(n+\mu_{\rm eff}+5)`,
:math:`d_\sigma = 1 + 2\max(0, \sqrt{(\mu_{\rm eff}-1)/(n+1)} - 1) + c_\sigma` and
:math:`c_\mu = \min(1, 2(\mu_{\rm eff} - 2 + 1/\mu_{\rm eff}) / ((n+2)^2 + \mu_{\rm eff}))`.

Deviations ("lite"): no rank-one update and no evolution path :math:`p_c` (Hansen's
Eq. 24, :math:`c_1 = 0`), no negative weights, no :math:`h_\sigma` stall; the
eigendecomposition of :math:`C` is recomputed every generation (small :math:`n`). The ES
uses plain SGD on :math:`\hat g` (the paper feeds it to Adam; any optimizer works on
:func:`es_gradient`).

Both are :class:`torch.optim.Optimizer` s over a closure that *returns the loss* (no
``backward``): one :meth:`step` is one generation. Tests (tests/optim/test_evolution.py):
Eq. (1) equals :math:`\frac1n\sum\epsilon\epsilon^\top\nabla f` on a quadratic; the
rank-:math:`\mu` update equals its closed form for given samples; CSA grows :math:`\sigma`
on a linear function and shrinks it near a minimum; both methods reach the minimum of
an ill-conditioned quadratic, and CMA-ES's :math:`C` aligns with the inverse Hessian.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from replearn.optim.base import ReplearnOptimizer, check_number
from replearn.registry import register

__all__ = [
    "CMAES",
    "EvolutionStrategy",
    "centered_ranks",
    "cma_weights",
    "csa_sigma",
    "es_gradient",
    "rank_mu_update",
]


def centered_ranks(values: Tensor) -> Tensor:
    """Ranks of ``values`` mapped to [-0.5, 0.5] (Salimans et al.'s fitness shaping).

    Shape:
        (k,) -> (k,)
    """
    ranks = torch.empty_like(values)
    ranks[values.argsort()] = torch.arange(values.numel(), dtype=values.dtype)
    return ranks / (values.numel() - 1) - 0.5


def es_gradient(f_plus: Tensor, f_minus: Tensor, eps: Tensor, sigma: float) -> Tensor:
    r"""Eq. (1): :math:`\frac{1}{2n\sigma}\sum_i (f^+_i - f^-_i)\,\epsilon_i`.

    Shape:
        f_plus, f_minus: (n,), eps: (n, d) -> (d,)
    """
    return (f_plus - f_minus) @ eps / (2 * eps.shape[0] * sigma)


def cma_weights(lam: int, dtype: torch.dtype = torch.float64) -> tuple[Tensor, float]:
    r"""Recombination weights :math:`w_1 \ge \dots \ge w_\mu > 0`, :math:`\sum w = 1`, and
    :math:`\mu_{\rm eff}`.

    Shape:
        -> (mu,), ()
    """
    mu = lam // 2
    w = math.log((lam + 1) / 2) - torch.log(torch.arange(1, mu + 1, dtype=dtype))
    w = w / w.sum()
    return w, float(1.0 / (w**2).sum())


def rank_mu_update(cov: Tensor, y_best: Tensor, weights: Tensor, c_mu: float) -> Tensor:
    r"""Eq. (6): :math:`(1 - c_\mu) C + c_\mu \sum_i w_i y_i y_i^\top`.

    Shape:
        cov: (d, d), y_best: (mu, d), weights: (mu,) -> (d, d)
    """
    return (1 - c_mu) * cov + c_mu * (y_best.T * weights) @ y_best


def csa_sigma(sigma: float, path_norm: float, dim: int, c_sigma: float, d_sigma: float) -> float:
    r"""Eq. (5): cumulative step-size adaptation, with
    :math:`\mathbb E\|\mathcal N(0, I)\| \approx \sqrt n (1 - \frac{1}{4n} + \frac{1}{21n^2})`.
    """
    chi_n = math.sqrt(dim) * (1 - 1 / (4 * dim) + 1 / (21 * dim**2))
    return sigma * math.exp(c_sigma / d_sigma * (path_norm / chi_n - 1))


class _FlatMixin(ReplearnOptimizer):
    """Flattened view of the parameters and a seeded generator (the sampling state)."""

    def _setup(self, seed: int) -> None:
        self._params = [p for g in self.param_groups for p in g["params"]]
        self.generator = torch.Generator().manual_seed(seed)

    def flat(self) -> Tensor:
        return torch.cat([p.detach().reshape(-1) for p in self._params])

    @torch.no_grad()
    def set_flat(self, x: Tensor) -> None:
        offset = 0
        for p in self._params:
            p.copy_(x[offset : offset + p.numel()].view_as(p))
            offset += p.numel()

    @torch.no_grad()
    def losses_at(self, closure: Callable[[], Tensor], points: Tensor) -> Tensor:
        """The closure's loss at every row of ``points`` (parameters restored after)."""
        start, out = self.flat(), []
        for x in points:
            self.set_flat(x)
            out.append(float(closure()))
        self.set_flat(start)
        return torch.tensor(out, dtype=points.dtype)

    def _randn(self, *shape: int, like: Tensor) -> Tensor:
        """Gaussian samples; the generator's state is kept in the optimizer state."""
        sample = torch.randn(*shape, generator=self.generator, dtype=like.dtype)
        self.state[self._params[0]]["rng_state"] = self.generator.get_state()
        return sample.to(like.device)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load the state, the sampling generator's included (a resumed run samples alike)."""
        super().load_state_dict(state_dict)
        rng = self.state[self._params[0]].get("rng_state")
        if rng is not None:
            self.generator.set_state(rng.to(torch.uint8).cpu())


@register(
    "optim.es",
    paper="Salimans, Ho, Chen, Sidor & Sutskever 2017, arXiv:1703.03864 (OpenAI-ES)",
    reference="closed form: mirrored estimate = mean(eps eps^T) grad on quadratics",
)
class EvolutionStrategy(_FlatMixin):
    """OpenAI-ES (Eqs. 1-2): mirrored Gaussian perturbations, SGD on the estimate.

    Args:
        params: the parameters.
        lr: :math:`\\eta`.
        sigma: perturbation scale :math:`\\sigma`.
        pairs: :math:`n` mirrored pairs per step (``2n`` loss evaluations).
        rank_shaping: centred-rank fitness shaping instead of raw losses.
        seed: seed of the perturbations.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-2,
        *,
        sigma: float = 0.1,
        pairs: int = 16,
        rank_shaping: bool = False,
        seed: int = 0,
    ) -> None:
        defaults = dict(lr=lr, sigma=sigma, pairs=pairs, rank_shaping=rank_shaping,
                        maximize=False, foreach=None)  # fmt: skip
        super().__init__(params, defaults)
        self._setup(seed)

    def check_group(self, group: dict[str, Any]) -> None:
        check_number("lr", group["lr"], low_open=True)
        check_number("sigma", group["sigma"], low_open=True)
        if isinstance(group["pairs"], bool) or not isinstance(group["pairs"], int):
            raise ValueError(f"pairs must be an int >= 1, got {group['pairs']!r}")
        check_number("pairs", group["pairs"], low=1)

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor]) -> Tensor:  # type: ignore[override]
        """One generation: 2n evaluations, one step; returns the loss at the start."""
        if closure is None:
            raise ValueError("EvolutionStrategy.step needs a closure that returns the loss")
        group = self.param_groups[0]
        theta, sigma = self.flat(), group["sigma"]
        loss = closure()
        eps = self._randn(group["pairs"], theta.numel(), like=theta)  # (n, d)
        f_plus = self.losses_at(closure, theta + sigma * eps)
        f_minus = self.losses_at(closure, theta - sigma * eps)
        if group["rank_shaping"]:
            ranks = centered_ranks(torch.cat([f_plus, f_minus]))
            f_plus, f_minus = ranks[: len(f_plus)], ranks[len(f_plus) :]
        g = es_gradient(f_plus, f_minus, eps, sigma)  # Eq. (1)
        self.set_flat(theta - group["lr"] * g)  # Eq. (2)
        state = self.state[self._params[0]]
        state["step"] = state.get("step", 0) + 1
        state["grad_estimate"] = g
        return loss


@register(
    "optim.cma_es",
    paper="Hansen 2016, arXiv:1604.00772 (CMA-ES tutorial); Hansen & Ostermeier 2001",
    reference="closed forms: rank-mu update, CSA on linear/sphere; C vs inverse Hessian",
)
class CMAES(_FlatMixin):
    """CMA-ES-lite (Eqs. 3-6): rank-mu covariance update and cumulative step-size adaptation.

    Args:
        params: the parameters (their values are the initial mean :math:`m`).
        sigma: initial step size :math:`\\sigma`.
        popsize: :math:`\\lambda` (None: Hansen's :math:`4 + \\lfloor 3 \\ln n \\rfloor`).
        seed: seed of the samples.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        *,
        sigma: float = 0.5,
        popsize: int | None = None,
        seed: int = 0,
    ) -> None:
        defaults = dict(sigma=sigma, popsize=popsize, maximize=False, foreach=None)
        super().__init__(params, defaults)
        self._setup(seed)
        n = self.flat().numel()
        lam = popsize if popsize is not None else 4 + int(3 * math.log(n))
        self.weights, self.mu_eff = cma_weights(lam)
        self.lam, self.dim = lam, n
        self.c_sigma = (self.mu_eff + 2) / (n + self.mu_eff + 5)
        self.d_sigma = 1 + 2 * max(0.0, math.sqrt((self.mu_eff - 1) / (n + 1)) - 1) + self.c_sigma
        self.c_mu = min(1.0, 2 * (self.mu_eff - 2 + 1 / self.mu_eff) / ((n + 2) ** 2 + self.mu_eff))
        dtype = self.flat().dtype
        self.state[self._params[0]].update(
            sigma=float(sigma),
            cov=torch.eye(n, dtype=dtype),
            path=torch.zeros(n, dtype=dtype),
            step=0,
        )

    def check_group(self, group: dict[str, Any]) -> None:
        check_number("sigma", group["sigma"], low_open=True)
        lam = group["popsize"]
        if lam is not None and (isinstance(lam, bool) or not isinstance(lam, int) or lam < 4):
            raise ValueError(f"popsize must be None or an int >= 4, got {lam!r}")

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor]) -> Tensor:  # type: ignore[override]
        """One generation: lambda evaluations; returns the loss at the mean before it."""
        if closure is None:
            raise ValueError("CMAES.step needs a closure that returns the loss")
        s = self.state[self._params[0]]
        m, cov, sigma = self.flat(), s["cov"], s["sigma"]
        loss = closure()
        evals, evecs = torch.linalg.eigh(cov)
        root = evecs * evals.clamp_min(1e-20).sqrt()  # C^{1/2} = B D
        z = self._randn(self.lam, self.dim, like=m)  # (lambda, n)
        y = z @ root.T  # (lambda, n), y ~ N(0, C)
        f = self.losses_at(closure, m + sigma * y)
        best = f.argsort()[: len(self.weights)]
        y_w = self.weights @ y[best]  # (n,)
        self.set_flat(m + sigma * y_w)  # Eq. (3)
        inv_root = (evecs / evals.clamp_min(1e-20).sqrt()) @ evecs.T  # C^{-1/2}
        c = self.c_sigma
        s["path"] = (1 - c) * s["path"] + math.sqrt(c * (2 - c) * self.mu_eff) * (inv_root @ y_w)
        s["sigma"] = csa_sigma(sigma, float(s["path"].norm()), self.dim, c, self.d_sigma)  # (5)
        s["cov"] = rank_mu_update(cov, y[best], self.weights, self.c_mu)  # Eq. (6)
        s["step"] += 1
        s["best_loss"] = float(f.min())
        return loss
