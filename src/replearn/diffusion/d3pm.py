r"""D3PM: discrete denoising diffusion with uniform and absorbing ([MASK]) transitions.

Paper: J. Austin, D. D. Johnson, J. Ho, D. Tarlow & R. van den Berg, "Structured
Denoising Diffusion Models in Discrete State-Spaces", NeurIPS 2021, arXiv:2107.03006.

Each token is a one-hot row vector :math:`x` over :math:`K` categories; step :math:`t`
(0-indexed, :math:`t = 0, \dots, T-1`) applies a row-stochastic matrix :math:`Q_t`:

.. math::

    q(x_t \mid x_{t-1}) = \mathrm{Cat}(x_t;\, x_{t-1} Q_t), \qquad
    q(x_t \mid x_0) = \mathrm{Cat}(x_t;\, x_0 \bar Q_t),\quad \bar Q_t = Q_0 Q_1 \cdots Q_t
                                                                                   \qquad (1)

    q(x_{t-1} \mid x_t, x_0) = \mathrm{Cat}\Big(x_{t-1};\,
      \frac{x_t Q_t^\top \odot x_0 \bar Q_{t-1}}{x_0 \bar Q_t x_t^\top}\Big)       \qquad (3)

    p_\theta(x_{t-1} \mid x_t) \propto \sum_{\tilde x_0} q(x_{t-1}, x_t \mid \tilde x_0)\,
      \tilde p_\theta(\tilde x_0 \mid x_t) = x_t Q_t^\top \odot
      \tilde p_\theta(\cdot \mid x_t) \bar Q_{t-1}                                   \qquad (4)

Transitions (Sec. 3 and App. A): uniform :math:`Q_t = (1 - \beta_t) I + \beta_t
\mathbb 1 \mathbb 1^\top / K` with the cosine schedule on :math:`\bar\alpha_t =
\prod (1 - \beta_s)`, so :math:`\bar Q_t = \bar\alpha_t I + (1 - \bar\alpha_t) \mathbb 1
\mathbb 1^\top / K`; absorbing :math:`Q_t = (1 - \beta_t) I + \beta_t \mathbb 1 e_m^\top`
with :math:`\beta_t = 1 / (T - t)` (the paper's :math:`(T - t + 1)^{-1}` 1-indexed), so
every token is [MASK] at :math:`t = T - 1`. The loss is the hybrid of Eq. (5):
:math:`L_{vb} + \lambda\, \mathbb E[-\log \tilde p_\theta(x_0 \mid x_t)]`, where
:math:`L_{vb}` at step :math:`t > 0` is :math:`D_{KL}(q(x_{t-1}|x_t, x_0) \|
p_\theta(x_{t-1}|x_t))` and at :math:`t = 0` is :math:`-\log \tilde p_\theta(x_0|x_0')`.

Deviations: explicit :math:`K \times K` matrices (fine for characters and binary pixels);
for the absorbing process the [MASK] category is index ``K - 1`` and the network's
logit for it is ignored in :math:`\tilde p_\theta(x_0|x_t)`; one :math:`t` per sequence.

Tests (``tests/diffusion/test_d3pm.py``): rows of :math:`Q_t, \bar Q_t` sum to one and
:math:`\bar Q_t` equals its closed form for both processes; Eq. (3) equals Bayes' rule
computed entry by entry; empirical frequencies of :func:`q_sample` match :math:`\bar Q_t`;
with a perfect :math:`x_0` predictor Eq. (4) equals Eq. (3) and the KL vanishes.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.diffusion.schedules import cosine_betas
from replearn.norm.layernorm import LayerNorm
from replearn.registry import Example, register

__all__ = [
    "D3PM",
    "absorbing_transitions",
    "cumulative_transitions",
    "d3pm_posterior_logits",
    "d3pm_q_posterior",
    "d3pm_q_sample",
    "uniform_transitions",
]

Kind = Literal["uniform", "absorbing"]


def uniform_transitions(betas: Tensor, num_classes: int) -> Tensor:
    r""":math:`Q_t = (1 - \beta_t) I + \beta_t \mathbb 1 \mathbb 1^\top / K` for every t.

    Shape:
        betas: (T,) -> (T, K, K).
    """
    eye = torch.eye(num_classes, dtype=betas.dtype)
    return (1 - betas)[:, None, None] * eye + betas[:, None, None] / num_classes


def absorbing_transitions(betas: Tensor, num_classes: int) -> Tensor:
    r""":math:`Q_t = (1 - \beta_t) I + \beta_t \mathbb 1 e_m^\top`, [MASK] ``m = K - 1`` absorbing.

    Shape:
        betas: (T,) -> (T, K, K).
    """
    eye = torch.eye(num_classes, dtype=betas.dtype)
    to_mask = torch.zeros(num_classes, num_classes, dtype=betas.dtype)
    to_mask[:, -1] = 1.0
    return (1 - betas)[:, None, None] * eye + betas[:, None, None] * to_mask


def cumulative_transitions(q: Tensor) -> Tensor:
    r"""Eq. (1): :math:`\bar Q_t = Q_0 Q_1 \cdots Q_t`.

    Shape:
        (T, K, K) -> (T, K, K).
    """
    out, acc = [], torch.eye(q.shape[-1], dtype=q.dtype)
    for q_t in q:
        acc = acc @ q_t
        out.append(acc)
    return torch.stack(out)


def d3pm_q_sample(
    x0: Tensor, t: Tensor, q_bar: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    r"""Eq. (1): :math:`x_t \sim \mathrm{Cat}(x_0 \bar Q_t)`, one ``t`` per sequence.

    Shape:
        x0: (B, L) int; t: (B,) int; q_bar: (T, K, K) -> (B, L) int.
    """
    probs = q_bar[t[:, None], x0]  # (B, L, K)
    flat = probs.reshape(-1, probs.shape[-1]).float()
    return torch.multinomial(flat, 1, generator=generator).reshape(x0.shape)


def d3pm_q_posterior(x0_probs: Tensor, x_t: Tensor, t: Tensor, q: Tensor, q_bar: Tensor) -> Tensor:
    r"""Eqs. (3)-(4): :math:`\propto x_t Q_t^\top \odot \pi \bar Q_{t-1}` for a distribution
    :math:`\pi` over :math:`x_0` (one-hot: the true posterior; :math:`\tilde p_\theta`: the
    model's), normalized. Requires :math:`t \ge 1`.

    Shape:
        x0_probs: (B, L, K); x_t: (B, L) int; t: (B,) int >= 1 -> (B, L, K).
    """
    fact1 = q[t[:, None], :, x_t]  # (B, L, K): Q_t[i, x_t] over i = x_{t-1}
    fact2 = torch.einsum("blk,bkj->blj", x0_probs, q_bar[t - 1])  # (B, L, K)
    unnorm = fact1 * fact2
    return unnorm / unnorm.sum(-1, keepdim=True).clamp_min(1e-30)


def d3pm_posterior_logits(
    x0_logits: Tensor, x_t: Tensor, t: Tensor, q: Tensor, q_bar: Tensor
) -> Tensor:
    """Eq. (4) in log space from the network's :math:`x_0` logits.

    Shape:
        x0_logits: (B, L, K); x_t: (B, L); t: (B,) >= 1 -> (B, L, K) log-probabilities.
    """
    probs = d3pm_q_posterior(F.softmax(x0_logits, -1), x_t, t, q, q_bar)
    return probs.clamp_min(1e-30).log()


def _example() -> Example:
    net = SequenceDenoiser(num_classes=6, length=5, dim=16, depth=1, heads=2, timesteps=10)
    return Example(
        D3PM(net, num_classes=6, timesteps=10, kind="absorbing"), (torch.randint(0, 5, (3, 5)),), ()
    )


@register(
    "diffusion.d3pm",
    paper="Austin, Johnson, Ho, Tarlow & van den Berg 2021, NeurIPS, arXiv:2107.03006",
    reference="closed-form Q-bar, Bayes' rule posterior, empirical q(x_t|x0) frequencies",
    example=_example,
)
class D3PM(nn.Module):
    r"""Discrete diffusion on token sequences: hybrid loss (forward) and ancestral sampling.

    Args:
        model: network ``model(x_t, t) -> logits (B, L, K)`` predicting :math:`x_0`.
        num_classes: :math:`K`; for ``absorbing`` this includes [MASK] (index ``K - 1``),
            so data tokens are ``0 .. K - 2``.
        timesteps: :math:`T`.
        kind: ``"uniform"`` or ``"absorbing"``.
        hybrid_coef: :math:`\lambda` of the hybrid loss (D3PM: 0.01).

    Shape:
        forward: x0 (B, L) int -> loss ().
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        num_classes: int,
        timesteps: int = 100,
        kind: Kind = "uniform",
        hybrid_coef: float = 0.01,
    ) -> None:
        super().__init__()
        if num_classes < 2 or timesteps < 1 or hybrid_coef < 0:
            raise ValueError("need num_classes >= 2, timesteps >= 1 and hybrid_coef >= 0")
        if kind == "uniform":
            betas = cosine_betas(timesteps)
            q = uniform_transitions(betas, num_classes)
        elif kind == "absorbing":
            betas = 1.0 / (timesteps - torch.arange(timesteps, dtype=torch.float64))
            q = absorbing_transitions(betas, num_classes)
        else:
            raise ValueError(f"kind must be 'uniform' or 'absorbing', got {kind!r}")
        self.model, self.num_classes, self.timesteps, self.kind = (
            model,
            num_classes,
            timesteps,
            kind,
        )
        self.hybrid_coef = hybrid_coef
        self.register_buffer("q", q.float(), persistent=False)
        self.register_buffer("q_bar", cumulative_transitions(q).float(), persistent=False)

    def x0_logits(self, x_t: Tensor, t: Tensor) -> Tensor:
        r""":math:`\tilde p_\theta(x_0 \mid x_t)` as logits ([MASK] excluded when absorbing)."""
        logits = self.model(x_t, t)  # (B, L, K)
        if self.kind == "absorbing":
            logits = logits.clone()
            logits[..., -1] = -math.inf
        return logits

    def loss_terms(self, x0: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """Per-sequence :math:`L_{vb}` term at ``t`` and cross-entropy of :math:`x_0`, nats/token.

        Shape:
            x0: (B, L); t: (B,) -> (B,), (B,).
        """
        x_t = d3pm_q_sample(x0, t, self.q_bar)
        logits = self.x0_logits(x_t, t)
        ce = F.cross_entropy(logits.transpose(1, 2), x0, reduction="none").mean(1)  # (B,)
        ts = t.clamp_min(1)
        true = d3pm_q_posterior(
            F.one_hot(x0, self.num_classes).to(self.q), x_t, ts, self.q, self.q_bar
        )
        log_pred = d3pm_posterior_logits(logits, x_t, ts, self.q, self.q_bar)
        kl = (true * (true.clamp_min(1e-30).log() - log_pred)).sum(-1).mean(1)  # (B,)
        return torch.where(t == 0, ce, kl), ce

    def forward(self, x0: Tensor) -> Tensor:
        """Eq. (5), the hybrid loss at one uniform ``t`` per sequence."""
        t = torch.randint(0, self.timesteps, (x0.shape[0],), device=x0.device)
        vb, ce = self.loss_terms(x0, t)
        return (vb + self.hybrid_coef * ce).mean()

    @torch.no_grad()
    def bits_per_token(self, x0: Tensor) -> Tensor:
        r"""The full bound :math:`L_T + \sum_t L_t` in bits per token (T network calls).

        Shape:
            x0: (B, L) -> (B,).
        """
        total = torch.zeros(x0.shape[0], device=x0.device)
        for t in range(self.timesteps):
            tt = torch.full((x0.shape[0],), t, dtype=torch.long, device=x0.device)
            total += self.loss_terms(x0, tt)[0]
        last = self.q_bar[-1][x0]  # (B, L, K): q(x_{T-1} | x0)
        prior = self._prior().to(last)
        total += (
            (last * (last.clamp_min(1e-30).log() - prior.clamp_min(1e-30).log())).sum(-1).mean(1)
        )
        return total / math.log(2.0)

    def _prior(self) -> Tensor:
        if self.kind == "uniform":
            return torch.full((self.num_classes,), 1.0 / self.num_classes)
        return F.one_hot(torch.tensor(self.num_classes - 1), self.num_classes).double()

    @torch.no_grad()
    def sample(self, n: int, length: int, *, generator: torch.Generator | None = None) -> Tensor:
        """Ancestral sampling with Eq. (4), from the stationary distribution down to x_0.

        Shape:
            -> (n, length) int.
        """
        device = self.q.device
        # draws on the generator's device (a CPU generator: the same tokens on every device)
        where = generator.device if generator is not None else device
        probs = self._prior().to(device).float().expand(n * length, -1)
        x = torch.multinomial(probs.to(where), 1, generator=generator).to(device)
        x = x.reshape(n, length)
        for t in reversed(range(self.timesteps)):
            tt = torch.full((n,), t, dtype=torch.long, device=device)
            logits = self.x0_logits(x, tt)
            if t > 0:
                logp = d3pm_posterior_logits(logits, x, tt, self.q, self.q_bar)
            else:
                logp = F.log_softmax(logits, -1)
            x = (
                torch.multinomial(
                    logp.exp().reshape(n * length, -1).to(where), 1, generator=generator
                )
                .to(device)
                .reshape(n, length)
            )
        return x

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, timesteps={self.timesteps}, kind={self.kind!r}"


class SequenceDenoiser(nn.Module):
    r""":math:`\tilde p_\theta(x_0 \mid x_t, t)`: a bidirectional pre-LN transformer (ViT's
    :class:`~replearn.transformer.vit.EncoderBlock`) with token, position and time embeddings.

    Shape:
        x_t: (B, L) int; t: (B,) int -> logits (B, L, K).
    """

    def __init__(
        self,
        *,
        num_classes: int,
        length: int,
        dim: int = 128,
        depth: int = 4,
        heads: int = 4,
        timesteps: int,
    ) -> None:
        super().__init__()
        from replearn.diffusion.denoisers import TimeEmbedding
        from replearn.transformer.vit.model import EncoderBlock

        self.num_classes, self.length = num_classes, length
        self.tok = nn.Embedding(num_classes, dim)
        self.pos = nn.Parameter(torch.randn(length, dim) * 0.02)
        self.time = TimeEmbedding(dim, dim)
        self.blocks = nn.ModuleList(EncoderBlock(dim, heads, 4 * dim) for _ in range(depth))
        self.norm = LayerNorm(dim, fast=True)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x_t: Tensor, t: Tensor) -> Tensor:
        if x_t.shape[1] > self.length:
            raise ValueError(f"sequence length {x_t.shape[1]} exceeds {self.length}")
        h = self.tok(x_t) + self.pos[: x_t.shape[1]] + self.time(t)[:, None]  # (B, L, D)
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm(h))  # (B, L, K)
