r"""ELMo: a bidirectional LSTM language model and the scalar mix of its layers.

Paper: M. E. Peters, M. Neumann, M. Iyyer, M. Gardner, C. Clark, K. Lee &
L. Zettlemoyer, "Deep contextualized word representations", NAACL 2018,
arXiv:1802.05365 (Sec. 3).

A forward LM and a backward LM read the tokens :math:`t_1..t_N` in opposite
directions with separate LSTM stacks, but share the token representation
:math:`\Theta_x` and the softmax :math:`\Theta_s`; they are trained jointly on

.. math::

    \sum_{k=1}^{N} \Big( \log p(t_k \mid t_1, \dots, t_{k-1};
        \Theta_x, \overrightarrow{\Theta}_{LSTM}, \Theta_s)
      + \log p(t_k \mid t_{k+1}, \dots, t_N;
        \Theta_x, \overleftarrow{\Theta}_{LSTM}, \Theta_s) \Big)           \qquad (1)

Token :math:`k` then has :math:`2L + 1` representations, gathered as :math:`L + 1`
layers: :math:`h_{k,0} = [x_k; x_k]` (the token layer, duplicated to the width of the
others) and :math:`h_{k,j} = [\overrightarrow{h}_{k,j}; \overleftarrow{h}_{k,j}]`.
A downstream task learns one vector per token from them,

.. math::

    \mathrm{ELMo}_k = \gamma \sum_{j=0}^{L} s_j\, h_{k,j},
    \qquad s = \mathrm{softmax}(w)                                           \qquad (2)

with :math:`w \in \mathbb{R}^{L+1}` and the scale :math:`\gamma` learned by the task
while the biLM stays frozen.

Deviations: word-level tokens with an embedding table instead of the character CNN
and highway layers; no LSTM projection layer (``dim`` is both the token and the state
size); a residual connection from layer 2 on (the paper has one between its two
layers); no layer normalisation before the mix (the paper's optional variant). The
forward LM at position :math:`k` predicts :math:`t_{k+1}` and the backward LM
:math:`t_{k-1}` (no sentence-boundary tokens).

Tests check: :func:`scalar_mix` against the explicit sum; the forward states at
:math:`k` have zero gradient w.r.t. tokens after :math:`k` and the backward ones w.r.t.
tokens before it; each direction equals a ``torch.nn.LSTM`` with the same weights
(the backward one on the reversed sentence); padding changes nothing; the loss equals
the explicit cross-entropy of Eq. (1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.registry import Example, register
from replearn.sequence.rnn.birnn import reverse_padded
from replearn.sequence.rnn.layers import LSTM

__all__ = ["BiLM", "ScalarMix", "bilm_nll", "scalar_mix"]


def scalar_mix(layers: Tensor, weights: Tensor, gamma: Tensor | float = 1.0) -> Tensor:
    r"""Eq. (2): :math:`\gamma \sum_j \mathrm{softmax}(w)_j\, h_j`.

    Shape:
        layers: (J, ..., D); weights: (J,); gamma: scalar -> (..., D).
    """
    if layers.shape[0] != weights.shape[0]:
        raise ValueError(f"{layers.shape[0]} layers but {weights.shape[0]} mixing weights")
    s = torch.softmax(weights, dim=0)  # (J,)
    return gamma * torch.tensordot(s, layers, dims=1)


def bilm_nll(logits: Tensor, ids: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
    r"""Eq. (1) as two mean negative log-likelihoods (nats per predicted token).

    ``logits[0, :, k]`` (forward LM) predicts ``ids[:, k + 1]``; ``logits[1, :, k]``
    (backward LM) predicts ``ids[:, k - 1]``; padded positions are skipped.

    Shape:
        logits: (2, B, T, V); ids: (B, T); lengths: (B,) -> forward NLL, backward NLL.
    """
    b, t = ids.shape
    lengths = torch.full((b,), t, device=ids.device) if lengths is None else lengths
    real = torch.arange(t, device=ids.device)[None, :] < lengths[:, None]  # (B, T)
    nexts = ids[:, 1:].masked_fill(~real[:, 1:], -100)  # targets of the forward LM
    prevs = ids[:, :-1].masked_fill(~real[:, 1:], -100)  # targets of the backward LM
    fwd = F.cross_entropy(logits[0, :, :-1].transpose(1, 2), nexts, ignore_index=-100)
    bwd = F.cross_entropy(logits[1, :, 1:].transpose(1, 2), prevs, ignore_index=-100)
    return fwd, bwd


def _mix_example() -> Example:
    return Example(ScalarMix(3), (torch.randn(3, 2, 5, 4),), (2, 5, 4))


@register(
    "sequence.scalar_mix",
    paper="Peters et al. 2018, arXiv:1802.05365",
    reference="the explicit weighted sum of the layers (float64)",
    example=_mix_example,
)
class ScalarMix(nn.Module):
    """ELMo's task-specific mix of the biLM layers (Eq. 2): learned ``w`` (softmax) and ``γ``.

    Args:
        num_layers: J = L + 1 representations to mix.

    Shape:
        forward: layers (J, ..., D) -> (..., D).
    """

    def __init__(self, num_layers: int) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be positive, got {num_layers}")
        self.weights = nn.Parameter(torch.zeros(num_layers))  # s = softmax(w): uniform at start
        self.gamma = nn.Parameter(torch.ones(()))

    def forward(self, layers: Tensor) -> Tensor:
        return scalar_mix(layers, self.weights, self.gamma)

    def extra_repr(self) -> str:
        return f"num_layers={self.weights.numel()}"


def _example() -> Example:
    model = BiLM(vocab_size=11, dim=6, num_layers=2)
    return Example(model, (torch.randint(2, 11, (2, 5)), torch.tensor([5, 3])), (2, 2, 5, 11))


@register(
    "sequence.elmo",
    paper="Peters et al. 2018, arXiv:1802.05365",
    reference="each direction == torch.nn.LSTM, copied weights (float64); causality by gradient",
    example=_example,
)
class BiLM(nn.Module):
    """ELMo's biLM: shared embedding and softmax, separate forward and backward LSTM stacks.

    Args:
        vocab_size: word vocabulary size V.
        dim: token embedding and LSTM state size (each direction).
        num_layers: LSTM layers L per direction.
        pad_id: padding token (its embedding is zero and never predicted).
        dropout: dropout on every layer's output in training.
        fast: the LSTMs' fused kernels (else their reference loops).

    Shape:
        forward: ids (B, T), lengths (B,) or None -> logits (2, B, T, V), forward LM then
        backward LM. :meth:`layers` gives the L + 1 representations (L + 1, B, T, 2 dim).
    """

    def __init__(
        self,
        *,
        vocab_size: int,
        dim: int = 128,
        num_layers: int = 2,
        pad_id: int = 0,
        dropout: float = 0.0,
        fast: bool = True,
    ) -> None:
        super().__init__()
        if min(vocab_size, dim, num_layers) < 1:
            raise ValueError(f"vocab_size, dim, num_layers must be positive, got "
                             f"{vocab_size}, {dim}, {num_layers}")  # fmt: skip
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=pad_id)  # Theta_x
        self.forward_lstms = nn.ModuleList(
            LSTM(dim, dim, batch_first=True, fast=fast) for _ in range(num_layers)
        )
        self.backward_lstms = nn.ModuleList(
            LSTM(dim, dim, batch_first=True, fast=fast) for _ in range(num_layers)
        )
        self.drop = nn.Dropout(dropout)
        self.softmax = nn.Linear(dim, vocab_size)  # Theta_s, shared by both directions

    def _stack(self, lstms: nn.ModuleList, x: Tensor) -> list[Tensor]:
        """Every layer's states of one direction (residual from layer 2 on)."""
        states, h = [], x
        for j, lstm in enumerate(lstms):
            out = self.drop(lstm(h)[0])  # (B, T, D)
            h = out if j == 0 else h + out
            states.append(h)
        return states

    def directional_states(
        self, ids: Tensor, lengths: Tensor | None = None
    ) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        """Token layer x (B, T, D) and each layer's forward and backward states (B, T, D)."""
        x = self.drop(self.embed(ids))  # (B, T, D)
        forward = self._stack(self.forward_lstms, x)  # position k sees t_1..t_k
        backward = self._stack(self.backward_lstms, reverse_padded(x, lengths))
        return x, forward, [reverse_padded(h, lengths) for h in backward]  # k sees t_k..t_N

    def layers(self, ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        r"""The L + 1 representations :math:`h_{k,j}` of Eq. (2) (token layer duplicated).

        Shape:
            ids: (B, T) -> (L + 1, B, T, 2 dim).
        """
        x, fwd, bwd = self.directional_states(ids, lengths)
        reps = [torch.cat([x, x], dim=-1)]
        reps += [torch.cat([f, b], dim=-1) for f, b in zip(fwd, bwd, strict=True)]
        return torch.stack(reps)

    def forward(self, ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Logits of both LMs from their top layers (Eq. 1)."""
        _, fwd, bwd = self.directional_states(ids, lengths)
        return torch.stack([self.softmax(fwd[-1]), self.softmax(bwd[-1])])  # (2, B, T, V)

    def nll(self, ids: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """:func:`bilm_nll` of :meth:`forward`, with the softmax only where a token is predicted.

        Same value; skips the (B, T, V) logits of padded positions, which dominate the cost
        of a batch of short sentences with a large vocabulary.

        Shape:
            ids: (B, T); lengths: (B,) -> forward NLL, backward NLL (scalars).
        """
        b, t = ids.shape
        lengths = torch.full((b,), t, device=ids.device) if lengths is None else lengths
        _, fwd, bwd = self.directional_states(ids, lengths)
        pairs = torch.arange(t - 1, device=ids.device)[None, :] < lengths[:, None] - 1  # (B, T-1)
        f_logits = self.softmax(fwd[-1][:, :-1][pairs])  # (P, V): k predicts k + 1
        b_logits = self.softmax(bwd[-1][:, 1:][pairs])  # (P, V): k + 1 predicts k
        return (
            F.cross_entropy(f_logits, ids[:, 1:][pairs]),
            F.cross_entropy(b_logits, ids[:, :-1][pairs]),
        )

    def extra_repr(self) -> str:
        return f"vocab_size={self.softmax.out_features}, dim={self.embed.embedding_dim}"
