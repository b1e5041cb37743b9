r"""The restricted Boltzmann machine trained by contrastive divergence, and the deep
belief net it stacks into.

Papers: P. Smolensky, 1986 (harmonium); G. E. Hinton, "Training products of experts by
minimizing contrastive divergence", *Neural Computation* 14(8), 2002 (CD-k);
G. E. Hinton, S. Osindero & Y.-W. Teh, "A fast learning algorithm for deep belief nets",
*Neural Computation* 18(7), 2006 (greedy stacking); G. E. Hinton, "A practical guide to
training restricted Boltzmann machines", UTML TR 2010-003 (the free-energy form). A deep
belief net is not a deep Boltzmann machine (Salakhutdinov & Hinton, 2009; see
docs/corrections.md#fundamentals-and-history).

Binary visible units :math:`v \in \{0,1\}^{n_v}`, hidden :math:`h \in \{0,1\}^{n_h}`,
weights :math:`W \in \mathbb{R}^{n_h \times n_v}`, biases :math:`b` (visible), :math:`c` (hidden):

.. math::

    E(v, h) = -b^\top v - c^\top h - h^\top W v, \qquad
    p(v, h) = e^{-E(v, h)} / Z                                  \qquad (1)\ \text{energy}

    F(v) = -\log \textstyle\sum_h e^{-E(v,h)}
         = -b^\top v - \sum_j \operatorname{softplus}(c_j + W_j v)    \qquad (2)\ \text{free energy}

    p(h_j = 1 \mid v) = \sigma(c_j + W_j v), \qquad
    p(v_i = 1 \mid h) = \sigma(b_i + W_{:,i}^\top h)            \qquad (3)\ \text{conditionals}

    \log Z = \log \textstyle\sum_v e^{-F(v)}, \qquad
    \log p(v) = -F(v) - \log Z                                  \qquad (4)\ \text{likelihood}

The log-likelihood gradient is :math:`-\partial_\theta F(v) + \mathbb{E}_{p}[\partial_\theta F]`.
CD-k replaces the model expectation by the sample :math:`v_k` after :math:`k` steps of
block Gibbs sampling (3) started at the data :math:`v_0`:

.. math::

    \Delta\theta \propto -\partial_\theta F(v_0) + \partial_\theta F(v_k)
    = -\partial_\theta \big(F(v_0) - F(\operatorname{sg}(v_k))\big)
                                                                \qquad (5)\ \text{CD-k}

so minimizing :func:`cd_loss` (the mean of :math:`F(v_0) - F(v_k)` with :math:`v_k`
held fixed) by gradient descent is CD-k. A deep belief net stacks RBMs: the hidden
probabilities of one are the data of the next (greedy, layer by layer, Hinton et al. 2006).

Deviations: the Gibbs chain's last visible step samples binary states (the practical
guide also allows probabilities); :class:`DeepBeliefNet` is used for its up (recognition)
pass and mean-field reconstruction, not for generation by alternating Gibbs in the top RBM
(no wake-sleep fine-tuning).

Tests check (2) against a brute-force sum over :math:`h`, :math:`\log Z` of (4) against a
sum over all :math:`2^{n_v + n_h}` joint states (float64), the conditionals (3) against
ratios of joint probabilities, that :math:`p(v)` sums to 1, the sign of the CD gradient
(the positive phase lowers the free energy of the data), and that CD-k increases the exact
log-likelihood of a tiny RBM.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.fundamentals.mlp import MLP
from replearn.registry import Example, register

__all__ = [
    "RBM",
    "DeepBeliefNet",
    "cd_loss",
    "energy",
    "exact_log_partition",
    "free_energy",
    "gibbs_step",
    "hidden_probs",
    "visible_probs",
]


def energy(v: Tensor, h: Tensor, w: Tensor, b: Tensor, c: Tensor) -> Tensor:
    r"""Eq. (1): :math:`E(v, h) = -b^\top v - c^\top h - h^\top W v`.

    Shape:
        v: (N, n_v); h: (N, n_h); w: (n_h, n_v); b: (n_v,); c: (n_h,) -> (N,).
    """
    return -(v @ b) - (h @ c) - ((h @ w) * v).sum(-1)


def free_energy(v: Tensor, w: Tensor, b: Tensor, c: Tensor) -> Tensor:
    r"""Eq. (2): :math:`F(v) = -b^\top v - \sum_j \operatorname{softplus}(c_j + W_j v)`.

    Shape:
        v: (N, n_v); w: (n_h, n_v); b: (n_v,); c: (n_h,) -> (N,).
    """
    return -(v @ b) - F.softplus(v @ w.T + c).sum(-1)


def hidden_probs(v: Tensor, w: Tensor, c: Tensor) -> Tensor:
    r"""Eq. (3): :math:`p(h = 1 \mid v) = \sigma(c + W v)`.

    Shape:
        v: (N, n_v) -> (N, n_h).
    """
    return torch.sigmoid(v @ w.T + c)


def visible_probs(h: Tensor, w: Tensor, b: Tensor) -> Tensor:
    r"""Eq. (3): :math:`p(v = 1 \mid h) = \sigma(b + W^\top h)`.

    Shape:
        h: (N, n_h) -> (N, n_v).
    """
    return torch.sigmoid(h @ w + b)


def gibbs_step(
    v: Tensor, w: Tensor, b: Tensor, c: Tensor, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    r"""One block Gibbs step :math:`v \to h \sim p(h|v) \to v' \sim p(v|h)` (Eq. 3).

    Returns ``(v', h)``, binary samples.

    Shape:
        v: (N, n_v) -> ((N, n_v), (N, n_h)).
    """
    ph = hidden_probs(v, w, c)
    h = torch.bernoulli(ph, generator=generator)
    v_new = torch.bernoulli(visible_probs(h, w, b), generator=generator)
    return v_new, h


def cd_loss(
    v0: Tensor,
    w: Tensor,
    b: Tensor,
    c: Tensor,
    *,
    k: int = 1,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Eq. (5): CD-k surrogate :math:`\overline{F(v_0)} - \overline{F(\operatorname{sg}(v_k))}`.

    Its gradient is the CD-k estimate of the negative log-likelihood gradient. Returns
    ``(loss, v_k)``.

    Shape:
        v0: (N, n_v) -> ((), (N, n_v)).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    with torch.no_grad():
        vk = v0
        for _ in range(k):
            vk, _ = gibbs_step(vk, w, b, c, generator)
    return free_energy(v0, w, b, c).mean() - free_energy(vk, w, b, c).mean(), vk


def exact_log_partition(w: Tensor, b: Tensor, c: Tensor) -> Tensor:
    r"""Eq. (4): :math:`\log Z = \operatorname{logsumexp}_v (-F(v))` over :math:`2^{n_v}` states.

    Exponential in :math:`n_v` (at most 20 visible units): for tests and tiny models.

    Shape:
        w: (n_h, n_v) -> ().
    """
    n_v = w.shape[1]
    if n_v > 20:
        raise ValueError(f"enumerating 2^{n_v} visible states is too many")
    states = torch.tensor(list(itertools.product((0.0, 1.0), repeat=n_v)), dtype=w.dtype)
    return torch.logsumexp(-free_energy(states, w, b, c), dim=0)


def _rbm_example() -> Example:
    return Example(RBM(6, 4), ((torch.rand(3, 6) > 0.5).float(),), (3,))


@register(
    "fundamentals.rbm",
    paper="Hinton 2002, Neural Computation 14(8) (CD-k); Smolensky 1986",
    reference="brute-force sums over all states (F, log Z, conditionals), float64; CD sign",
    example=_rbm_example,
)
class RBM(nn.Module):
    """A binary RBM; ``forward`` gives the free energy :math:`F(v)` (Eq. 2).

    Args:
        n_visible: :math:`n_v`.
        n_hidden: :math:`n_h`.
        init_std: standard deviation of the initial weights (Hinton's guide: 0.01).

    Shape:
        (N, n_visible) -> (N,).
    """

    def __init__(self, n_visible: int, n_hidden: int, *, init_std: float = 0.01) -> None:
        super().__init__()
        if n_visible < 1 or n_hidden < 1:
            raise ValueError("n_visible and n_hidden must be >= 1")
        if init_std < 0:
            raise ValueError(f"init_std must be >= 0, got {init_std}")
        self.n_visible, self.n_hidden = n_visible, n_hidden
        self.weight = nn.Parameter(init_std * torch.randn(n_hidden, n_visible))
        self.v_bias = nn.Parameter(torch.zeros(n_visible))
        self.h_bias = nn.Parameter(torch.zeros(n_hidden))

    def forward(self, v: Tensor) -> Tensor:
        """Eq. (2)."""
        if v.shape[-1] != self.n_visible:
            raise ValueError(f"expected {self.n_visible} visible units, got {v.shape[-1]}")
        return free_energy(v, self.weight, self.v_bias, self.h_bias)

    def hidden(self, v: Tensor) -> Tensor:
        """:math:`p(h = 1 \\mid v)`, (N, n_hidden)."""
        return hidden_probs(v, self.weight, self.h_bias)

    def visible(self, h: Tensor) -> Tensor:
        """:math:`p(v = 1 \\mid h)`, (N, n_visible)."""
        return visible_probs(h, self.weight, self.v_bias)

    def cd_loss(
        self, v0: Tensor, *, k: int = 1, generator: torch.Generator | None = None
    ) -> Tensor:
        """Eq. (5) for this RBM's parameters."""
        return cd_loss(v0, self.weight, self.v_bias, self.h_bias, k=k, generator=generator)[0]

    def log_likelihood(self, v: Tensor) -> Tensor:
        """Exact :math:`\\log p(v)` by enumeration (Eq. 4; tiny models only). Shape: (N,)."""
        log_z = exact_log_partition(self.weight, self.v_bias, self.h_bias)
        return -self(v) - log_z

    def extra_repr(self) -> str:
        return f"n_visible={self.n_visible}, n_hidden={self.n_hidden}"


def _dbn_example() -> Example:
    return Example(DeepBeliefNet((6, 5, 4)), (torch.rand(3, 6),), (3, 6))


@register(
    "fundamentals.deep_belief_net",
    paper="Hinton, Osindero & Teh 2006, Neural Computation 18(7)",
    reference="layer l's up pass equals RBM l's hidden probabilities; shapes",
    example=_dbn_example,
)
class DeepBeliefNet(nn.Module):
    """RBMs stacked greedily: layer l's hidden probabilities are layer l+1's data.

    ``forward`` is the mean-field reconstruction (up through every layer, then down).

    Args:
        widths: :math:`(n_0, n_1, \\dots, n_L)`: visible units, then each hidden layer.

    Shape:
        (N, n_0) -> (N, n_0).
    """

    def __init__(self, widths: tuple[int, ...] | list[int], *, init_std: float = 0.01) -> None:
        super().__init__()
        if len(widths) < 2:
            raise ValueError("a deep belief net needs at least (n_visible, n_hidden)")
        self.widths = tuple(widths)
        self.rbms = nn.ModuleList(
            RBM(a, b, init_std=init_std)
            for a, b in zip(self.widths[:-1], self.widths[1:], strict=True)
        )

    def up(self, v: Tensor, depth: int | None = None) -> Tensor:
        """Hidden probabilities after ``depth`` layers (all by default): the data of the next RBM.

        Shape:
            (N, n_0) -> (N, n_depth).
        """
        h = v
        for rbm in self.rbms[: len(self.rbms) if depth is None else depth]:
            h = rbm.hidden(h)
        return h

    def forward(self, v: Tensor) -> Tensor:
        """Mean-field reconstruction: up through every RBM, then down."""
        h = self.up(v)
        for rbm in reversed(self.rbms):
            h = rbm.visible(h)
        return h

    @torch.no_grad()
    def init_mlp(self, mlp: MLP) -> MLP:
        """Copy each RBM's :math:`(W, c)` into the hidden layers of a sigmoid ``mlp``.

        The MLP's hidden layer l then computes :math:`p(h_l = 1 \\mid h_{l-1})`, the up pass.
        """
        if (
            mlp.activation != "sigmoid"
            or mlp.hidden != self.widths[1:]
            or mlp.in_features != (self.widths[0])
        ):
            raise ValueError(
                f"need a sigmoid MLP with in_features {self.widths[0]} and hidden "
                f"{self.widths[1:]}, got {mlp.activation!r}, {mlp.in_features}, {mlp.hidden}"
            )
        for rbm, target in zip(self.rbms, mlp.layers[:-1], strict=True):
            target.weight.copy_(rbm.weight)
            target.bias.copy_(rbm.h_bias)
        return mlp

    def extra_repr(self) -> str:
        return f"widths={self.widths}"
