r"""Mamba: a selective state-space block, the Mamba stack and its language model.

Paper: A. Gu & T. Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", 2023,
arXiv:2312.00752. (The course's notes call it a "Masked Multi-Head Attention RNN"; that is a
mistake: Mamba has no attention at all, it is a selective SSM.)

The Mamba block (Fig. 3) on an input :math:`u \in \mathbb{R}^{L \times H}`, with
:math:`E = \text{expand}` (:math:`D = EH` inner channels) and :math:`N` states per channel:

.. math::

    [x, z] = u W_{in}                                         \qquad \text{(in\_proj)}

    x = \mathrm{SiLU}(\mathrm{conv1d}_{\text{causal, depthwise}}(x))

    [\delta, B, C] = x W_x, \qquad \Delta = \mathrm{softplus}(\delta W_{dt} + b_{dt})
    \qquad \text{(Alg. 2: } s_B, s_C, s_\Delta \text{ of rank } R)

    y = \mathrm{SSM}(\bar{A}, \bar{B}, C)(x) + D x, \qquad
    \text{out} = (y \cdot \mathrm{SiLU}(z))\, W_{out}         \qquad (2), (4)

with :math:`A = -\exp(A_{\log})` (S4D-real init :math:`A_{dn} = -(n+1)`), the scan in
:mod:`~replearn.sequence.mamba.scan`. A residual layer is :math:`u +
\mathrm{Mixer}(\mathrm{RMSNorm}(u))`; :class:`MambaModel` is an embedding, layers and a final
RMSNorm; :class:`MambaLM` adds a head tied to the embedding.

Recurrent mode (generation): per layer a cache of the last ``d_conv - 1`` conv inputs and the SSM
state :math:`h` (B, D, N); :meth:`MambaLM.step` costs O(1) per token.

Parameter names and layout are those of Hugging Face ``transformers``' ``MambaModel`` /
``MambaForCausalLM`` (table in :mod:`replearn.sequence.mamba.hf`), so ``from_hf`` copies the
state dict.

Deviations: no padding mask; the residual stream stays in the parameters' dtype (HF keeps it in
float32 when ``residual_in_fp32``; identical in float32).

Tests: ``from_hf`` against ``transformers`` ``MambaModel``/``MambaForCausalLM`` (hidden states of
every layer and logits, atol 1e-5 float32; HF's cached decoding vs ours); cached step-by-step
logits equal the full pass at every position (float64); causality by gradient.

See docs/corrections.md#sequence-models (Mamba is not an acronym and has no attention).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.norm.layernorm import RMSNorm
from replearn.registry import Example, register
from replearn.sequence.mamba.scan import gate_output, selective_scan, selective_step, step_size

__all__ = [
    "MambaCache", "MambaLM", "MambaLayer", "MambaMixer", "MambaModel", "causal_depthwise_conv",
]  # fmt: skip


def causal_depthwise_conv(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """Causal depthwise convolution: output t sees inputs t - k + 1 .. t (zero before 0).

    Shape:
        x: (B, L, D); weight: (D, 1, k); bias: (D,) -> (B, L, D).
    """
    k = weight.shape[-1]
    out = F.conv1d(F.pad(x.transpose(1, 2), (k - 1, 0)), weight, bias, groups=weight.shape[0])
    return out.transpose(1, 2)


@dataclass
class MambaCache:
    """Recurrent state of every layer: ``conv[i]`` (B, D, d_conv - 1), ``ssm[i]`` (B, D, N)."""

    conv: list[Tensor]
    ssm: list[Tensor]


class MambaMixer(nn.Module):
    """The Mamba block of Fig. 3: in_proj, causal conv, SiLU, selective SSM, gate, out_proj.

    Args:
        d_model: H, channels in and out.
        d_state: N, states per inner channel.
        d_conv: kernel size of the causal depthwise convolution.
        expand: E, inner channels D = E * H.
        dt_rank: R, rank of the Δ projection; ``"auto"`` is ceil(H / 16).
        dt_min, dt_max: initial Δ drawn log-uniformly in this range (via dt_proj's bias).
        bias: biases in in_proj / out_proj.
        conv_bias: bias in the convolution.
        fast: chunked scan (else the sequential reference loop).

    Shape:
        (B, L, H) -> (B, L, H).
    """

    # fmt: off
    def __init__(
        self, d_model: int, *, d_state: int = 16, d_conv: int = 4, expand: int = 2,
        dt_rank: int | str = "auto", dt_min: float = 1e-3, dt_max: float = 0.1,
        bias: bool = False, conv_bias: bool = True, fast: bool = True,
    ) -> None:
        # fmt: on
        super().__init__()
        if min(d_model, d_state, d_conv, expand) < 1:
            raise ValueError(f"sizes must be >= 1, got {(d_model, d_state, d_conv, expand)}")
        rank = math.ceil(d_model / 16) if dt_rank == "auto" else dt_rank
        if not isinstance(rank, int) or rank < 1:
            raise ValueError(f"dt_rank must be 'auto' or a positive int, got {dt_rank!r}")
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"need 0 < dt_min <= dt_max, got {dt_min}, {dt_max}")
        d_inner = expand * d_model
        self.d_model, self.d_state, self.d_conv, self.d_inner = d_model, d_state, d_conv, d_inner
        self.dt_rank, self.fast = rank, fast
        self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=bias)
        self.conv1d = nn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner, bias=conv_bias)
        self.x_proj = nn.Linear(d_inner, rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(rank, d_inner, bias=True)
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(d_inner, 1)  # S4D-real
        self.A_log = nn.Parameter(torch.log(A))  # (D, N)
        self.D = nn.Parameter(torch.ones(d_inner))
        self.out_proj = nn.Linear(d_inner, d_model, bias=bias)
        with torch.no_grad():  # Delta = softplus(bias) log-uniform in [dt_min, dt_max]
            nn.init.uniform_(self.dt_proj.weight, -(rank**-0.5), rank**-0.5)
            dt = torch.exp(torch.rand(d_inner) * math.log(dt_max / dt_min) + math.log(dt_min))
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus^-1

    def _ssm_inputs(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """x -> (δ W_dt (pre-bias), A, B, C). Shape: (..., D) -> (..., D), (D, N), (..., N) x2."""
        dt, B, C = self.x_proj(x).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        return F.linear(dt, self.dt_proj.weight), -torch.exp(self.A_log), B, C

    def forward(
        self, u: Tensor, *, return_state: bool = False
    ) -> Tensor | tuple[Tensor, Tensor, Tensor]:
        """The full (parallel) pass; with ``return_state`` also the cache after the last token."""
        x, z = self.in_proj(u).chunk(2, dim=-1)  # (B, L, D) each
        x_conv = F.silu(causal_depthwise_conv(x, self.conv1d.weight, self.conv1d.bias))
        dt, A, B, C = self._ssm_inputs(x_conv)
        out = selective_scan(
            x_conv, dt, A, B, C, self.D, z, delta_bias=self.dt_proj.bias, delta_softplus=True,
            return_last_state=return_state, fast=self.fast,
        )  # fmt: skip
        if not return_state:
            return self.out_proj(out)
        y, h = out
        conv_state = F.pad(x.transpose(1, 2), (self.d_conv - 1, 0))[..., x.shape[1] :]
        return self.out_proj(y), conv_state, h

    def step(self, u_t: Tensor, conv_state: Tensor, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Recurrent mode, one token.

        Shape:
            u_t: (B, H); conv_state: (B, D, d_conv - 1); h: (B, D, N) -> (B, H), new states.
        """
        x, z = self.in_proj(u_t).chunk(2, dim=-1)  # (B, D)
        window = torch.cat([conv_state, x[..., None]], dim=-1)  # (B, D, d_conv)
        x = (window * self.conv1d.weight[:, 0]).sum(-1)
        x = F.silu(x + self.conv1d.bias if self.conv1d.bias is not None else x)
        dt, A, B, C = self._ssm_inputs(x)
        delta = step_size(dt, self.dt_proj.bias, softplus=True)
        y, h = selective_step(h, x, delta, A, B, C)
        return self.out_proj(gate_output(y, x, self.D, z)), window[..., 1:], h

    def extra_repr(self) -> str:
        return (
            f"d_model={self.d_model}, d_inner={self.d_inner}, d_state={self.d_state}, "
            f"d_conv={self.d_conv}, dt_rank={self.dt_rank}, fast={self.fast}"
        )


class MambaLayer(nn.Module):
    """Residual layer ``u + mixer(RMSNorm(u))`` (HF ``MambaBlock``). Shape: (B, L, H) -> same."""

    def __init__(self, d_model: int, *, eps: float = 1e-5, **mixer_kwargs: object) -> None:
        super().__init__()
        self.norm = RMSNorm(d_model, eps=eps, fast=True)
        self.mixer = MambaMixer(d_model, **mixer_kwargs)  # type: ignore[arg-type]

    def forward(self, u: Tensor) -> Tensor:
        return u + self.mixer(self.norm(u))


def _model_example() -> Example:
    model = MambaModel(vocab_size=11, d_model=8, n_layers=2, d_state=4)
    return Example(model, (torch.randint(0, 11, (2, 7)),), (2, 7, 8))


@register(
    "sequence.mamba",
    paper="Gu & Dao 2023, arXiv:2312.00752",
    reference="transformers MambaModel (from_hf, atol 1e-5); cached steps == full pass (float64)",
    example=_model_example,
)
class MambaModel(nn.Module):
    """A Mamba stack: token embedding, residual Mamba layers, final RMSNorm.

    Args:
        vocab_size: tokens (0 for a model fed vectors of size d_model directly).
        d_model: H.
        n_layers: number of residual Mamba layers.
        eps: RMSNorm epsilon.
        **mixer_kwargs: ``d_state``, ``d_conv``, ``expand``, ``dt_rank``, ``bias``,
            ``conv_bias``, ``fast`` of :class:`MambaMixer`.

    Shape:
        token ids (B, L) int64 (or vectors (B, L, H)) -> hidden states (B, L, H).
    """

    def __init__(
        self,
        *,
        vocab_size: int,
        d_model: int,
        n_layers: int,
        eps: float = 1e-5,
        **mixer_kwargs: object,
    ) -> None:
        super().__init__()
        if vocab_size < 0 or n_layers < 1:
            raise ValueError(f"need vocab_size >= 0, n_layers >= 1, got {vocab_size}, {n_layers}")
        self.vocab_size, self.d_model, self.n_layers = vocab_size, d_model, n_layers
        self.embeddings = nn.Embedding(vocab_size, d_model) if vocab_size else nn.Identity()
        if vocab_size:  # small logits through the tied head at initialization
            nn.init.normal_(self.embeddings.weight, std=0.02)
        self.layers = nn.ModuleList(
            MambaLayer(d_model, eps=eps, **mixer_kwargs) for _ in range(n_layers)
        )
        self.norm_f = RMSNorm(d_model, eps=eps, fast=True)

    def forward(self, x: Tensor, *, output_hidden_states: bool = False) -> Tensor | list[Tensor]:
        """Final hidden states; with ``output_hidden_states`` every layer's output (as HF)."""
        h = self.embeddings(x)  # (B, L, H)
        hidden = []
        for layer in self.layers:
            h = layer(h)
            hidden.append(h)
        h = self.norm_f(h)
        return [*hidden, h] if output_hidden_states else h

    def prefill(self, x: Tensor) -> tuple[Tensor, MambaCache]:
        """Full pass over a prompt: final hidden states and the cache after its last token."""
        h, cache = self.embeddings(x), MambaCache([], [])
        for layer in self.layers:
            out, conv, ssm = layer.mixer(layer.norm(h), return_state=True)
            h = h + out
            cache.conv.append(conv)
            cache.ssm.append(ssm)
        return self.norm_f(h), cache

    def init_cache(self, batch_size: int) -> MambaCache:
        """Zero conv inputs and SSM states: the state the full pass starts from."""
        m = self.layers[0].mixer
        w = m.A_log
        conv = [w.new_zeros(batch_size, m.d_inner, m.d_conv - 1) for _ in self.layers]
        return MambaCache(conv, [w.new_zeros(batch_size, m.d_inner, m.d_state) for _ in conv])

    def step(self, x_t: Tensor, cache: MambaCache) -> tuple[Tensor, MambaCache]:
        """One token in recurrent mode. Shape: x_t (B,) ids or (B, H) -> (B, H), new cache."""
        h, new = self.embeddings(x_t), MambaCache([], [])
        for layer, conv, ssm in zip(self.layers, cache.conv, cache.ssm, strict=True):
            out, conv, ssm = layer.mixer.step(layer.norm(h), conv, ssm)
            h = h + out
            new.conv.append(conv)
            new.ssm.append(ssm)
        return self.norm_f(h), new

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, d_model={self.d_model}, n_layers={self.n_layers}"

    @classmethod
    def from_hf(cls, hf_model: nn.Module) -> MambaModel:
        """A copy of a ``transformers`` ``MambaModel`` (see :mod:`replearn.sequence.mamba.hf`)."""
        from replearn.sequence.mamba.hf import model_from_hf

        return model_from_hf(hf_model)


def _lm_example() -> Example:
    model = MambaLM(vocab_size=11, d_model=8, n_layers=2, d_state=4)
    return Example(model, (torch.randint(0, 11, (2, 7)),), (2, 7, 11))


@register(
    "sequence.mamba_lm",
    paper="Gu & Dao 2023, arXiv:2312.00752",
    reference="transformers MambaForCausalLM (from_hf, logits atol 1e-5, cached decoding)",
    example=_lm_example,
)
class MambaLM(nn.Module):
    """Mamba language model: :class:`MambaModel` and a head tied to the embedding (as HF).

    Args:
        vocab_size, d_model, n_layers, eps, **mixer_kwargs: as :class:`MambaModel`.
        tie_embeddings: share the head's weight with the embedding.

    Shape:
        (B, L) token ids -> logits (B, L, V); ``logits[:, t]`` predicts token t + 1.
    """

    # fmt: off
    def __init__(
        self, *, vocab_size: int, d_model: int, n_layers: int, tie_embeddings: bool = True,
        **kwargs: object,
    ) -> None:
        # fmt: on
        super().__init__()
        if vocab_size < 1:
            raise ValueError(f"vocab_size must be >= 1, got {vocab_size}")
        sizes = {"vocab_size": vocab_size, "d_model": d_model, "n_layers": n_layers}
        self.backbone = MambaModel(**sizes, **kwargs)  # type: ignore[arg-type]
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        if tie_embeddings:
            self.lm_head.weight = self.backbone.embeddings.weight

    def forward(self, x: Tensor) -> Tensor:
        return self.lm_head(self.backbone(x))

    def init_cache(self, batch_size: int) -> MambaCache:
        return self.backbone.init_cache(batch_size)

    def prefill(self, x: Tensor) -> tuple[Tensor, MambaCache]:
        """Logits after the last prompt token (B, V) and the cache, in one full pass."""
        h, cache = self.backbone.prefill(x)
        return self.lm_head(h[:, -1]), cache

    def step(self, x_t: Tensor, cache: MambaCache) -> tuple[Tensor, MambaCache]:
        """Logits of the next token (B, V) from token ``x_t`` (B,) and the cache."""
        h, cache = self.backbone.step(x_t, cache)
        return self.lm_head(h), cache

    @torch.no_grad()
    def generate(self, prompt: Tensor, n_tokens: int, *, temperature: float = 0.0) -> Tensor:
        """Sample ``n_tokens`` after ``prompt`` (B, T0) with the cache; 0 is greedy -> (B, n)."""
        logits, cache = self.prefill(prompt)
        out = []
        for _ in range(n_tokens):
            probs = F.softmax(logits / max(temperature, 1e-9), -1)
            x_t = logits.argmax(-1) if temperature == 0 else torch.multinomial(probs, 1)[:, 0]
            out.append(x_t)
            logits, cache = self.step(x_t, cache)
        return torch.stack(out, dim=1)

    @classmethod
    def from_hf(cls, hf_model: nn.Module) -> MambaLM:
        """A copy of a ``transformers`` ``MambaForCausalLM`` (see :mod:`.mamba_hf`)."""
        from replearn.sequence.mamba.hf import lm_from_hf

        return lm_from_hf(hf_model)
