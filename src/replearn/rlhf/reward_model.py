r"""Reward model: a GPT backbone with a scalar head, trained on pairwise preferences.

Papers: R. A. Bradley & M. E. Terry, "Rank analysis of incomplete block designs: I. The method of
paired comparisons", Biometrika 39 (1952); P. Christiano, J. Leike, T. Brown et al., "Deep
reinforcement learning from human preferences", 2017, arXiv:1706.03741; N. Stiennon et al.,
"Learning to summarize from human feedback", 2020, arXiv:2009.01325, Eq. (1); L. Ouyang et al.
(InstructGPT) 2022, arXiv:2203.02155, Eq. (1).

A preference pair is a preferred sequence :math:`s_w` and a rejected one :math:`s_l` for the same
prompt. Bradley–Terry models the annotator as

.. math::

    P(s_w \succ s_l) = \sigma\Big(\frac{R(s_w) - R(s_l)}{\tau}\Big)                 \qquad (1)

and the reward model :math:`R_\phi` is fitted by maximum likelihood with an L2 penalty on the
rewards (Bradley–Terry is invariant to a shift of :math:`R`; the penalty pins the mean at 0 and
bounds the scale, as the reward-centring term of Eisenstein et al. 2023, arXiv:2312.09244):

.. math::

    \mathcal L(\phi, \tau) = -\frac1N \sum_{n} \log \sigma\Big(
        \frac{R_\phi(s_w^n) - R_\phi(s_l^n)}{\tau}\Big)
      + \frac{\lambda}{N} \sum_n \big(R_\phi(s_w^n)^2 + R_\phi(s_l^n)^2\big)        \qquad (2)

The temperature :math:`\tau = e^{\log\tau}` is a learnable parameter of :class:`RewardModel`:
with the reward scale held by the penalty, :math:`\tau` sets how confident the predicted
probabilities (1) are, and its maximum-likelihood value calibrates them to the annotator's
noise. :math:`R_\phi(s)` is a linear head on the final hidden state (after the last layer norm)
of the sequence's last token, as InstructGPT's 6B reward model.

Tests: Bradley–Terry fitted to comparisons drawn from known utilities recovers their order
(Spearman >= 0.95); Eq. (2) against hand-computed values and its gradient by autograd vs the
closed form :math:`-\sigma(-\Delta/\tau)/\tau`; the head reads the last token only (changing
later padding leaves the reward unchanged).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.registry import Example, register
from replearn.transformer.gpt.model import GPT, GPTConfig

__all__ = ["RewardModel", "bradley_terry_loss", "final_hidden", "preference_probability"]


def preference_probability(r_w: Tensor, r_l: Tensor, tau: Tensor | float = 1.0) -> Tensor:
    r"""Eq. (1): :math:`P(s_w \succ s_l) = \sigma((R_w - R_l)/\tau)`.

    Shape:
        (N,), (N,) -> (N,).
    """
    return torch.sigmoid((r_w - r_l) / tau)


def bradley_terry_loss(
    r_w: Tensor, r_l: Tensor, tau: Tensor | float = 1.0, *, l2: float = 0.0
) -> Tensor:
    r"""Eq. (2): mean negative log-likelihood of the preferences plus the L2 penalty.

    Args:
        r_w: rewards of the preferred sequences.
        r_l: rewards of the rejected ones.
        tau: temperature :math:`\tau > 0` (a tensor to learn it).
        l2: penalty weight :math:`\lambda \ge 0`.

    Shape:
        (N,), (N,) -> ().
    """
    if l2 < 0:
        raise ValueError(f"l2 must be >= 0, got {l2}")
    nll = -F.logsigmoid((r_w - r_l) / tau).mean()
    return nll + l2 * (r_w.square() + r_l.square()).mean()


def final_hidden(model: GPT, idx: Tensor) -> tuple[Tensor, Tensor]:
    """Final hidden states (output of ``ln_f``) and logits of a :class:`GPT` in one pass.

    Shape:
        idx (B, T) -> hidden (B, T, C), logits (B, T, V).
    """
    store: dict[str, Tensor] = {}
    hook = model.transformer.ln_f.register_forward_hook(
        lambda _m, _i, out: store.__setitem__("h", out)
    )
    try:
        logits = model(idx)
    finally:
        hook.remove()
    return store["h"], logits


def _example() -> Example:
    cfg = GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=8, vocab_size=11)
    return Example(RewardModel(GPT(cfg)), (torch.randint(0, 11, (3, 8)),), (3,))


@register(
    "rlhf.reward_model",
    paper="Bradley & Terry 1952; Christiano et al. 2017, arXiv:1706.03741; Ouyang et al. 2022, "
    "arXiv:2203.02155",
    reference="Bradley-Terry MLE recovers synthetic utilities (Spearman >= 0.95); loss and its "
    "gradient vs closed forms",
    example=_example,
)
class RewardModel(nn.Module):
    """:math:`R_\\phi(s)`: a GPT backbone, a scalar head on the last token, a temperature.

    Args:
        backbone: the :class:`GPT` whose final hidden states are read (its LM head is unused).
        tau: initial temperature :math:`\\tau` of Eq. (1).
        learn_tau: learn :math:`\\log\\tau` (else it stays fixed).

    Shape:
        idx (B, T), last (B,) index of each sequence's last token (default T - 1) -> (B,).
    """

    def __init__(self, backbone: GPT, *, tau: float = 1.0, learn_tau: bool = True) -> None:
        super().__init__()
        if tau <= 0:
            raise ValueError(f"tau must be > 0, got {tau}")
        self.backbone = backbone
        self.head = nn.Linear(backbone.cfg.n_embd, 1)
        nn.init.normal_(self.head.weight, 0.0, 1.0 / math.sqrt(backbone.cfg.n_embd + 1))
        nn.init.zeros_(self.head.bias)
        self.log_tau = nn.Parameter(torch.tensor(math.log(tau)), requires_grad=learn_tau)

    @property
    def tau(self) -> Tensor:
        return self.log_tau.exp()

    def forward(self, idx: Tensor, last: Tensor | None = None) -> Tensor:
        hidden, _ = final_hidden(self.backbone, idx)  # (B, T, C)
        if last is None:
            h = hidden[:, -1]
        else:
            h = hidden[torch.arange(idx.shape[0], device=idx.device), last]  # (B, C)
        # tau enters the likelihood (Eq. 1), not R: 0 * log_tau keeps it in the graph
        return self.head(h).squeeze(-1) + 0.0 * self.log_tau

    def loss(self, win: Tensor, lose: Tensor, *, l2: float = 0.0, last_w: Tensor | None = None,
             last_l: Tensor | None = None) -> tuple[Tensor, Tensor]:  # fmt: skip
        """Eq. (2) on a batch of pairs; returns (loss, accuracy of the predicted preference)."""
        r_w, r_l = self(win, last_w), self(lose, last_l)
        loss = bradley_terry_loss(r_w, r_l, self.tau, l2=l2)
        return loss, (r_w > r_l).float().mean().detach()

    def extra_repr(self) -> str:
        return f"tau={float(self.tau.detach()):.3g}, learn_tau={self.log_tau.requires_grad}"
