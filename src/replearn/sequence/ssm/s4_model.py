r"""S4 models: a stack of S4 layers as a sequence classifier or a causal language model.

Paper: A. Gu, K. Goel & C. Ré, "Efficiently Modeling Long Sequences with Structured State
Spaces" (S4), ICLR 2022, arXiv:2111.00396 (Sec. 3.4 and App. D: the deep S4 architecture);
the layers are the diagonal S4D ones of :mod:`replearn.sequence.ssm.s4` (Gu, Gupta, Goel & Ré
2022, arXiv:2206.11893).

The architecture is a residual stack, like a Transformer with the attention replaced by S4:

.. math::

    h^{(0)} = \mathrm{Encoder}(x), \qquad
    h^{(\ell)} = h^{(\ell-1)} + \mathrm{Dropout}\big(\mathrm{S4}(\mathrm{Norm}(h^{(\ell-1)}))\big)
    \qquad (1)

(pre-norm; ``prenorm=False`` normalises after the residual sum instead), then a final norm
and a head: for classification the mean of :math:`h^{(L)}` over time (or its last position)
goes through a linear layer; for language modelling every position predicts the next token.
The encoder is a linear map of each input vector (pixels, features) or a token embedding.

Because every S4 layer is causal and the norms act per position, the LM can generate with
the recurrence (:meth:`S4Model.step`, O(1) per token, a state per layer) and gives the same
logits as the full convolution pass.

Deviations: LayerNorm rather than S4's BatchNorm option; plain dropout (S4 ties the mask
over the sequence); no learning-rate groups inside the model: experiments give the SSM
parameters (``*.kernel.*``) their own smaller learning rate without weight decay, as the
paper does (:meth:`S4Model.ssm_parameters`).

Tests check: the stepwise logits equal the full causal pass (float64); causality by gradient
for the LM; classification pooling; the greedy generation of :meth:`S4Model.generate` equals
argmax decoding with full passes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.norm.layernorm import LayerNorm
from replearn.registry import Example, register
from replearn.sequence.ssm.s4 import S4Layer

__all__ = ["S4Block", "S4Model"]


class S4Block(nn.Module):
    """One residual block of Eq. (1): norm, S4 layer, dropout, residual (pre- or post-norm)."""

    def __init__(self, d_model: int, *, prenorm: bool, dropout: float, **s4_kwargs) -> None:
        super().__init__()
        self.prenorm = prenorm
        self.norm = LayerNorm(d_model, fast=True)
        self.s4 = S4Layer(d_model, dropout=dropout, **s4_kwargs)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: Tensor) -> Tensor:
        """Shape: (B, L, H) -> (B, L, H)."""
        z = self.s4(self.norm(h) if self.prenorm else h)
        h = h + self.dropout(z)
        return h if self.prenorm else self.norm(h)

    def step(self, h_t: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """One position. Shape: (B, H), state (B, H, N/2) -> (B, H), new state."""
        z, state = self.s4.step(self.norm(h_t) if self.prenorm else h_t, state)
        h_t = h_t + self.dropout(z)
        return (h_t if self.prenorm else self.norm(h_t)), state


def _example() -> Example:
    model = S4Model(d_input=3, d_output=5, d_model=8, n_layers=2, d_state=8)
    return Example(model, (torch.randn(2, 12, 3),), (2, 5))


@register(
    "sequence.s4-model",
    paper="Gu, Goel & Ré 2022, arXiv:2111.00396 (deep S4 stack); S4D layers arXiv:2206.11893",
    reference="recurrent step-by-step logits == full convolution pass (float64); causality",
    example=_example,
)
class S4Model(nn.Module):
    """A deep S4 network: encoder, residual S4 blocks, norm, a classification or LM head.

    Args:
        d_output: classes (``task="classify"``) or the vocabulary for the LM
            (default ``vocab_size``).
        d_input: features per time step (a linear encoder); or
        vocab_size: tokens (an embedding encoder); exactly one of the two.
        d_model: H, the width.
        n_layers: S4 blocks.
        d_state: N of every SSM.
        dropout: in every block.
        prenorm: LayerNorm before each S4 layer (True) or after the residual sum.
        task: ``"classify"`` (one output per sequence) or ``"lm"`` (one per position).
        pool: ``"mean"`` over time or ``"last"`` position, for classification.
        s4_kwargs: passed to :class:`~replearn.sequence.ssm.S4Layer` (init, dt_min, ...).

    Shape:
        x: (B, L, d_input) float or (B, L) int64 -> (B, d_output) or (B, L, d_output).
    """

    def __init__(
        self,
        *,
        d_output: int | None = None,
        d_input: int | None = None,
        vocab_size: int | None = None,
        d_model: int = 64,
        n_layers: int = 4,
        d_state: int = 64,
        dropout: float = 0.0,
        prenorm: bool = True,
        task: str = "classify",
        pool: str = "mean",
        **s4_kwargs,
    ) -> None:
        super().__init__()
        if (d_input is None) == (vocab_size is None):
            raise ValueError("give exactly one of d_input (features) and vocab_size (tokens)")
        if task not in ("classify", "lm"):
            raise ValueError(f"task must be 'classify' or 'lm', got {task!r}")
        if pool not in ("mean", "last"):
            raise ValueError(f"pool must be 'mean' or 'last', got {pool!r}")
        d_output = d_output if d_output is not None else vocab_size
        if d_output is None or d_output < 1 or d_model < 1 or n_layers < 1:
            raise ValueError(f"need d_output, d_model, n_layers >= 1, got {d_output}, {d_model}")
        self.task, self.pool, self.d_model = task, pool, d_model
        self.encoder = (
            nn.Embedding(vocab_size, d_model) if vocab_size else nn.Linear(d_input, d_model)
        )
        self.blocks = nn.ModuleList(
            S4Block(d_model, prenorm=prenorm, dropout=dropout, d_state=d_state, **s4_kwargs)
            for _ in range(n_layers)
        )
        self.norm = LayerNorm(d_model, fast=True)
        self.head = nn.Linear(d_model, d_output)

    def features(self, x: Tensor) -> Tensor:
        """Encoder and blocks, the final norm. Shape: x -> (B, L, H)."""
        h = self.encoder(x)  # (B, L, H)
        for block in self.blocks:
            h = block(h)
        return self.norm(h)

    def forward(self, x: Tensor) -> Tensor:
        h = self.features(x)  # (B, L, H)
        if self.task == "lm":
            return self.head(h)  # (B, L, V): position t predicts x[t + 1]
        return self.head(h.mean(dim=1) if self.pool == "mean" else h[:, -1])

    def ssm_parameters(self) -> list[nn.Parameter]:
        """Λ, Δ, C of every SSM: S4 trains them with a smaller learning rate, no weight decay."""
        return [p for n, p in self.named_parameters() if ".kernel." in n]

    def default_state(self, batch_size: int) -> list[Tensor]:
        """Zero states, one (B, H, N/2) complex tensor per block."""
        return [b.s4.default_state(batch_size) for b in self.blocks]

    def step(self, x_t: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """Recurrent mode: the output at one position from its input and the states.

        Shape:
            x_t: (B,) tokens or (B, d_input) -> (B, d_output), new states.
        """
        h = self.encoder(x_t)  # (B, H)
        new = []
        for block, s in zip(self.blocks, state, strict=True):
            h, s = block.step(h, s)
            new.append(s)
        return self.head(self.norm(h)), new

    @torch.no_grad()
    def generate(
        self,
        prime: Tensor,
        n_tokens: int,
        *,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Sample ``n_tokens`` after ``prime`` with the recurrence (LM over tokens only).

        Temperature 0 is greedy. Shape: prime (B, T0) int64 -> (B, n_tokens).
        """
        if self.task != "lm" or not isinstance(self.encoder, nn.Embedding):
            raise ValueError("generate needs task='lm' over tokens (vocab_size)")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        state = self.default_state(prime.shape[0])
        for t in range(prime.shape[1]):  # read the prime token by token
            logits, state = self.step(prime[:, t], state)
        out = []
        for i in range(n_tokens):
            if temperature == 0:
                x_t = logits.argmax(dim=-1)
            else:
                probs = F.softmax(logits.double() / temperature, dim=-1)
                x_t = torch.multinomial(probs, 1, generator=generator)[:, 0]
            out.append(x_t)
            if i + 1 < n_tokens:
                logits, state = self.step(x_t, state)
        return torch.stack(out, dim=1)

    def extra_repr(self) -> str:
        return f"task={self.task!r}, pool={self.pool!r}, n_layers={len(self.blocks)}"
