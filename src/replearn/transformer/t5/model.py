r"""T5: the text-to-text encoder-decoder transformer.

Paper: C. Raffel, N. Shazeer, A. Roberts, K. Lee, S. Narang, M. Matena, Y. Zhou, W. Li &
P. J. Liu, "Exploring the Limits of Transfer Learning with a Unified Text-to-Text
Transformer", 2020 (JMLR), arXiv:1910.10683. Every task is text in, text out, named by a
prefix ("translate English to German: ..."); the model is the encoder-decoder of Vaswani et
al. (2017, arXiv:1706.03762) with the simplifications of Sec. 2.1:

.. math::

    \mathrm{LN}(x) = g \odot x \,/\, \sqrt{\tfrac1d \textstyle\sum_i x_i^2 + \epsilon}
    \qquad (1)\ \text{(scale only: no mean, no bias; RMSNorm)}

    \mathrm{Attn}(Q, K, V) = \mathrm{softmax}(Q K^\top + B)\, V,\quad
    B_{h, i, j} = b_h[\mathrm{bucket}(j - i)]                       \qquad (2)

    \mathrm{FF}(x) = \mathrm{ReLU}(x W_i) W_o
    \quad\text{or (T5.1.1)}\quad (\mathrm{GELU}(x W_{i,0}) \odot x W_{i,1}) W_o   \qquad (3)

    h \leftarrow h + \mathrm{Sub}(\mathrm{LN}(h)) \ \text{for each sub-layer;}\quad
    \text{logits} = s\, \mathrm{LN}_f(h_L)\, E^\top,\ s = d_{model}^{-1/2}\ \text{if tied}  (4)

Positions enter only through the learned scalar bias :math:`B` of Eq. (2), one per head and
per *bucket* of the distance :math:`j - i` (exact buckets for short distances, logarithmic
ones up to ``max_distance``; :func:`~replearn.transformer.positions.t5_relative_position_bucket`).
The bias is computed once per stack and shared by all its layers (the paper's "shared across
layers"; Hugging Face keeps the table in the first layer); the encoder's is bidirectional,
the decoder's causal; cross-attention has none. The layers live in
:mod:`replearn.transformer.t5.layers`, the weight import in :mod:`replearn.transformer.t5.hf`.

No :math:`1/\sqrt{d_k}` in Eq. (2): T5 folds it into the initialisation of :math:`W_Q`
(std :math:`(d_{model} d_{kv})^{-1/2}` instead of :math:`d_{model}^{-1/2}`), so the logits
start with the usual scale. We pass ``temperature = 1/sqrt(d_kv)`` to
:func:`~replearn.transformer.attention.scaled_dot_product_attention`, whose
:math:`1/(T\sqrt{d_k})` is then 1. No linear layer has a bias.

Decoding: the decoder starts from ``decoder_start_token_id`` (the pad id, 0); each step of
:meth:`T5.step` reads only the new tokens and keeps per layer the self-attention keys and
values and the cross-attention ones (computed once from the encoder output).

Options and deviations: ``feed_forward_proj`` is ``"relu"`` (T5), ``"gated-gelu"`` (T5.1.1,
tanh-approximate GELU as Hugging Face's ``gelu_new``), ``"gelu"`` or ``"gated-relu"``; tied
embeddings scale the decoder output by :math:`d_{model}^{-1/2}` (T5.1.0), untied ones do not
(T5.1.1); the initialisation is Hugging Face's (also an untied head at std 1).

Tests: :meth:`T5.from_hf` against ``transformers`` ``T5ForConditionalGeneration`` and
``T5Model`` (small random configs, ReLU and gated-GELU, padding masks: logits / hidden states
atol 1e-5 in float32); cached step-by-step decoding equals the full forward (float64);
greedy and beam-search generation equal ``transformers``' ``generate`` (float64); cached vs
uncached greedy generation; beam 1 equals greedy; beam scores are the sequences' summed
log-probabilities under the full forward; overfitting one batch; the reference attention path
equals the ``scaled_dot_product_attention`` one; :func:`rms_layer_norm` against Eq. (1).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.registry import Example, register
from replearn.transformer.decoding import beam_search, sample
from replearn.transformer.t5.layers import (
    T5Config,
    T5Stack,
    feed_forward,
    rms_layer_norm,
    t5_attention,
)

__all__ = [
    "T5", "T5Config", "feed_forward", "rms_layer_norm", "seq2seq_loss", "shift_right",
    "t5_attention",
]  # fmt: skip


def shift_right(labels: Tensor, start_id: int = 0, pad_id: int = 0) -> Tensor:
    """Decoder inputs from targets: ``start_id`` then the targets but the last (-100 -> pad).

    Shape:
        (B, T) -> (B, T).
    """
    out = torch.full_like(labels, start_id)
    out[:, 1:] = labels[:, :-1]
    return out.masked_fill(out == -100, pad_id)


def seq2seq_loss(logits: Tensor, labels: Tensor, ignore_index: int = -100) -> Tensor:
    """Mean token cross-entropy (nats) over the labels that are not ``ignore_index``.

    Shape:
        logits (B, T, V), labels (B, T) -> ().
    """
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=ignore_index)


def _example() -> Example:
    cfg = T5Config(vocab_size=13, d_model=16, d_kv=4, d_ff=24, num_layers=2, num_heads=2)
    src, tgt = torch.randint(0, 13, (2, 7)), torch.randint(0, 13, (2, 5))
    return Example(T5(cfg), (src, tgt), (2, 5, 13))


@register(
    "transformer.t5",
    paper="Raffel et al. 2020, arXiv:1910.10683",
    reference="transformers T5ForConditionalGeneration / T5Model with copied weights (from_hf); "
    "cached vs full decoding; reference vs SDPA attention",
    example=_example,
)
class T5(nn.Module):
    """Encoder-decoder T5 with a language-model head.

    Args:
        cfg: a :class:`T5Config` (or pass its fields as keywords).

    Shape:
        input_ids (B, S), decoder_input_ids (B, T), attention_mask (B, S) bool or None
        -> logits (B, T, vocab_size).
    """

    def __init__(self, cfg: T5Config | None = None, **kwargs: Any) -> None:
        super().__init__()
        cfg = replace(cfg or T5Config(), **kwargs) if kwargs else (cfg or T5Config())
        self.cfg = cfg
        self.shared = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.encoder = T5Stack(cfg, decoder=False)
        self.decoder = T5Stack(cfg, decoder=True)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        nn.init.normal_(self.shared.weight, 0.0, 1.0)
        nn.init.normal_(self.lm_head.weight, 0.0, 1.0)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.shared.weight

    def encode(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """Encoder output. Shape: (B, S), mask (B, S) bool -> (B, S, d_model)."""
        return self.encoder(self.shared(input_ids), mask=attention_mask)[0]

    def decode(
        self,
        decoder_input_ids: Tensor,
        encoder_out: Tensor,
        attention_mask: Tensor | None = None,
        cache: list[tuple[Tensor, ...]] | None = None,
    ) -> tuple[Tensor, list[tuple[Tensor, ...]]]:
        """Decoder hidden states of the new tokens after the cached ones, and the new cache.

        Shape:
            decoder_input_ids (B, T), encoder_out (B, S, C), mask (B, S), cache of P tokens
            -> (B, T, C), cache of P + T tokens.
        """
        x = self.shared(decoder_input_ids)
        return self.decoder(x, mask=None, memory=encoder_out, memory_mask=attention_mask,
                            cache=cache)  # fmt: skip

    def head(self, h: Tensor) -> Tensor:
        """Eq. (4): logits of decoder states, scaled by d_model^-1/2 when ``scale_logits``."""
        if self.cfg.scale_logits:
            h = h * self.cfg.d_model**-0.5
        return self.lm_head(h)

    def forward(
        self, input_ids: Tensor, decoder_input_ids: Tensor, attention_mask: Tensor | None = None
    ) -> Tensor:
        """Teacher-forced logits of every decoder position."""
        enc = self.encode(input_ids, attention_mask)
        return self.head(self.decode(decoder_input_ids, enc, attention_mask)[0])

    def loss(
        self, input_ids: Tensor, labels: Tensor, attention_mask: Tensor | None = None
    ) -> Tensor:
        """Cross-entropy (nats) of ``labels`` (B, T; -100 ignored) given ``input_ids``."""
        dec_in = shift_right(labels, self.cfg.decoder_start_token_id, self.cfg.pad_token_id)
        return seq2seq_loss(self(input_ids, dec_in, attention_mask), labels)

    def start_cache(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                    repeat: int = 1) -> dict[str, Any]:  # fmt: skip
        """The decoding cache before any decoder token: the encoder output (rows repeated)."""
        enc = self.encode(input_ids, attention_mask).repeat_interleave(repeat, dim=0)
        mask = None if attention_mask is None else attention_mask.repeat_interleave(repeat, 0)
        return {"encoder_out": enc, "mask": mask, "layers": None}

    def step(self, tokens: Tensor, cache: dict[str, Any]) -> tuple[Tensor, dict[str, Any]]:
        """``step_fn``: logits (B, V) after decoder ``tokens`` (B, t), reading the new ones only."""
        layers = cache["layers"]
        past = 0 if layers is None else layers[0][0].shape[-2]
        h, layers = self.decode(tokens[:, past:], cache["encoder_out"], cache["mask"], layers)
        return self.head(h[:, -1]), {**cache, "layers": layers}

    @torch.no_grad()
    def generate(
        self,
        input_ids: Tensor,
        max_new_tokens: int,
        *,
        attention_mask: Tensor | None = None,
        num_beams: int = 1,
        use_cache: bool = True,
        length_penalty: float = 1.0,
    ) -> Tensor:
        """Greedy (``num_beams=1``) or beam-search decoding; rows stop at ``eos_token_id``.

        Shape:
            input_ids (B, S) -> (B, 1 + max_new_tokens), starting with the decoder start token
            and padded with ``eos_token_id`` after it.
        """
        if max_new_tokens < 1 or num_beams < 1:
            raise ValueError("need max_new_tokens >= 1 and num_beams >= 1")
        start = torch.full((input_ids.shape[0], 1), self.cfg.decoder_start_token_id,
                           dtype=torch.long, device=input_ids.device)  # fmt: skip
        eos = self.cfg.eos_token_id
        if num_beams > 1:
            cache = self.start_cache(input_ids, attention_mask, repeat=num_beams)
            seqs, _ = beam_search(self.step, start, beam_size=num_beams, cache=cache,
                                  max_new_tokens=max_new_tokens, eos_id=eos,
                                  length_penalty=length_penalty)  # fmt: skip
            return seqs[:, 0]
        if use_cache:
            cache = self.start_cache(input_ids, attention_mask)
            return sample(self.step, start, max_new_tokens=max_new_tokens, cache=cache,
                          eos_id=eos, temperature=0.0)  # fmt: skip
        enc = self.encode(input_ids, attention_mask)

        def full(tokens: Tensor, _: Any) -> tuple[Tensor, None]:
            return self.head(self.decode(tokens, enc, attention_mask)[0][:, -1]), None

        return sample(full, start, max_new_tokens=max_new_tokens, eos_id=eos, temperature=0.0)

    def extra_repr(self) -> str:
        c = self.cfg
        return (
            f"d_model={c.d_model}, num_layers={c.num_layers}/{c.num_decoder_layers}, "
            f"num_heads={c.num_heads}, d_kv={c.d_kv}, d_ff={c.d_ff}, "
            f"feed_forward_proj={c.feed_forward_proj!r}, tie={c.tie_word_embeddings}"
        )

    @classmethod
    def from_hf(cls, hf_model: nn.Module) -> T5:
        """The network of a ``transformers`` ``T5ForConditionalGeneration`` / ``T5Model``."""
        from replearn.transformer.t5.hf import t5_from_hf

        return t5_from_hf(hf_model)
