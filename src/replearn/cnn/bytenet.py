r"""ByteNet: a dilated convolutional encoder with a causal dilated decoder stacked on it.

Paper: N. Kalchbrenner, L. Espeholt, K. Simonyan, A. van den Oord, A. Graves &
K. Kavukcuoglu, "Neural Machine Translation in Linear Time", 2016,
arXiv:1610.10099.

ByteNet maps a source string :math:`\mathbf{s}` to a target string
:math:`\mathbf{t}` with two stacks of one-dimensional convolutions over
characters (bytes). The *encoder* uses ordinary (two-sided) dilated
convolutions; the *decoder* uses masked (causal) ones, so it models

.. math::

    p(\mathbf{t} \mid \mathbf{s}) = \prod_{i=0}^{N} p(t_i \mid t_{<i}, \mathbf{s})   \qquad (1)

The decoder is *stacked* on the encoder (Sec. 3.1): its input at position
:math:`i` is the encoder's column :math:`i` together with the embedding of the
previous target token (teacher forcing; ``BOS`` at :math:`i = 0`). With *dynamic
unfolding* (Sec. 3.2) the source representation is taken to be

.. math::

    |\hat{\mathbf{t}}| = a |\mathbf{s}| + b                                            \qquad (2)

columns long: zero-padded beyond the source, so the decoder can run on past the
source length, until it emits ``EOS`` or reaches :math:`|\hat{\mathbf{t}}|`.

Every layer is the residual block of Fig. 3 (left), acting on :math:`2d` channels:

.. math::

    \mathbf{h} \mapsto \mathbf{h} + W_3\,\rho\big(\text{conv}_{k,r}\big(
    \rho(W_1\,\rho(\mathbf{h}))\big)\big),
    \qquad \rho = \text{ReLU} \circ \text{LayerNorm}                                   \qquad (3)

with 1x1 maps :math:`W_1: 2d \to d`, :math:`W_3: d \to 2d` and a dilated
convolution of width :math:`k` and dilation :math:`r` (two-sided in the encoder,
masked in the decoder); dilations double, :math:`r = 1, 2, 4, \dots` (Sec. 3.5),
so the receptive field :math:`(k-1)\sum r + 1` grows exponentially with depth.
A final 1x1 convolution gives the logits over the vocabulary.

Deviations (the simplest faithful version): (i) the encoder column and the target
embedding are concatenated and projected to :math:`2d` channels by a 1x1
convolution; (ii) layer normalisation is over channels at each position; (iii) in
a padded batch, inputs to every encoder convolution are zeroed beyond each
source's length, so a batch gives exactly what each sequence gives alone;
(iv) greedy decoding recomputes the decoder on the prefix at every step (short
strings), no generation cache; (v) no sub-batch normalisation, no bag of
characters, small models.

Tests check: causality of the decoder (logits at :math:`i` do not change when
targets at :math:`\ge i` change, by gradient); the encoder sees both sides; a
padded batch equals the sequences run one by one (float64); dynamic unfolding
(Eq. 2) and the residual block (Eq. 3) written out with ``torch.nn`` layers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.cnn.wavenet import causal_conv1d, dilation_schedule
from replearn.norm.layernorm import LayerNorm
from replearn.registry import Example, register

__all__ = ["ByteNet", "ByteNetBlock", "decoder_inputs", "unfold_source", "unfolded_length"]


def unfolded_length(source_length: Tensor, a: float = 1.0, b: int = 1) -> Tensor:
    r"""Eq. (2): the target length bound :math:`\lfloor a|\mathbf{s}| + b \rfloor`.

    Shape:
        source_length: (B,) integer -> (B,) int64.
    """
    return torch.floor(a * source_length.double() + b).to(torch.int64)


def unfold_source(enc: Tensor, length: int) -> Tensor:
    """Dynamic unfolding: the source representation as ``length`` columns (zeros beyond it).

    Shape:
        enc: (B, C, S) -> (B, C, length).
    """
    s = enc.shape[-1]
    return F.pad(enc, (0, length - s)) if length >= s else enc[..., :length]


def decoder_inputs(targets: Tensor, bos_id: int) -> Tensor:
    """Teacher forcing, Eq. (1): the decoder reads ``BOS, t_0, ..., t_{N-1}`` to predict t_0..t_N.

    Shape:
        targets: (B, T) -> (B, T).
    """
    return torch.cat([torch.full_like(targets[:, :1], bos_id), targets[:, :-1]], dim=1)


def _layer_norm(x: Tensor, norm: nn.Module) -> Tensor:
    """LayerNorm over channels at each position: (B, C, T) -> (B, C, T)."""
    return norm(x.transpose(1, 2)).transpose(1, 2)


class ByteNetBlock(nn.Module):
    """Residual block of Fig. 3 (left): LN-ReLU-1x1 (2d->d), LN-ReLU-conv_k,r, LN-ReLU-1x1 (d->2d).

    Args:
        d: half the residual width (the block maps 2d -> 2d channels).
        kernel_size: width k of the dilated convolution (odd if not causal).
        dilation: r.
        causal: masked (decoder) or two-sided (encoder) convolution.
    """

    def __init__(self, d: int, kernel_size: int, dilation: int, *, causal: bool) -> None:
        super().__init__()
        if not causal and kernel_size % 2 == 0:
            raise ValueError(f"a two-sided convolution needs an odd kernel_size, got {kernel_size}")
        self.dilation, self.causal = dilation, causal
        self.norm1 = LayerNorm(2 * d, fast=True)
        self.norm2, self.norm3 = LayerNorm(d, fast=True), LayerNorm(d, fast=True)
        self.reduce = nn.Conv1d(2 * d, d, 1)
        self.conv = nn.Conv1d(d, d, kernel_size, dilation=dilation)
        self.expand = nn.Conv1d(d, 2 * d, 1)

    def forward(self, h: Tensor, mask: Tensor | None = None) -> Tensor:
        """Eq. (3). ``mask`` (B, 1, T) zeroes padded positions before the convolution.

        Shape:
            h: (B, 2d, T) -> (B, 2d, T).
        """
        z = self.reduce(F.relu(_layer_norm(h, self.norm1)))  # (B, d, T)
        z = F.relu(_layer_norm(z, self.norm2))
        if mask is not None:
            z = z * mask
        if self.causal:
            z = causal_conv1d(z, self.conv)  # masked: sees positions <= i
        else:
            pad = (self.conv.kernel_size[0] - 1) // 2 * self.dilation
            z = self.conv(F.pad(z, (pad, pad)))  # two-sided, length preserved
        out = h + self.expand(F.relu(_layer_norm(z, self.norm3)))  # (B, 2d, T)
        return out * mask if mask is not None else out


def _example() -> Example:
    model = ByteNet(vocab_size=12, d=8, layers_per_stack=2)
    src = torch.tensor([[5, 6, 7, 8, 9, 10, 11], [4, 5, 6, 0, 0, 0, 0]])
    return Example(model, (src, torch.randint(3, 12, (2, 8))), (2, 12, 8))


@register(
    "cnn.bytenet",
    paper="Kalchbrenner et al. 2016, arXiv:1610.10099",
    reference="decoder causality by gradient; padded batch == one by one (float64); Eq. (3)",
    example=_example,
)
class ByteNet(nn.Module):
    """ByteNet: a dilated conv encoder and a causal dilated conv decoder stacked on it.

    Args:
        vocab_size: number of tokens, specials included (shared by source and target).
        d: residual streams have 2d channels, the blocks' inner layers d.
        kernel_size: k of the encoder convolutions (odd); the decoder's are masked, width k.
        layers_per_stack: L; dilations 1, 2, ..., 2**(L-1) per stack.
        encoder_stacks: repetitions of the dilation pattern in the encoder.
        decoder_stacks: repetitions of the dilation pattern in the decoder.
        dilation_base: dilations grow as base**i (2 in the paper; 1: no dilation).
        a: slope of dynamic unfolding, Eq. (2).
        b: offset of dynamic unfolding, Eq. (2).
        pad_id: padding token (sources are right-padded with it; its embedding is zero).

    Shape:
        forward: source (B, S), decoder input (B, T) int64 -> logits (B, vocab_size, T).
    """

    def __init__(
        self,
        *,
        vocab_size: int,
        d: int = 32,
        kernel_size: int = 3,
        layers_per_stack: int = 4,
        encoder_stacks: int = 1,
        decoder_stacks: int = 1,
        dilation_base: int = 2,
        a: float = 1.0,
        b: int = 1,
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        if vocab_size < 2 or d < 1:
            raise ValueError(f"need vocab_size >= 2 and d >= 1, got {vocab_size}, {d}")
        if a <= 0 or b < 0:
            raise ValueError(f"dynamic unfolding needs a > 0, b >= 0, got a={a}, b={b}")
        self.vocab_size, self.d, self.a, self.b, self.pad_id = vocab_size, d, a, b, pad_id
        self.kernel_size = kernel_size
        self.source_embedding = nn.Embedding(vocab_size, 2 * d, padding_idx=pad_id)
        self.target_embedding = nn.Embedding(vocab_size, 2 * d, padding_idx=pad_id)
        enc_d = dilation_schedule(layers_per_stack, encoder_stacks, dilation_base)
        dec_d = dilation_schedule(layers_per_stack, decoder_stacks, dilation_base)
        self.encoder = nn.ModuleList(ByteNetBlock(d, kernel_size, r, causal=False) for r in enc_d)
        self.merge = nn.Conv1d(4 * d, 2 * d, 1)
        self.decoder = nn.ModuleList(ByteNetBlock(d, kernel_size, r, causal=True) for r in dec_d)
        self.out_norm = LayerNorm(2 * d, fast=True)
        self.out = nn.Conv1d(2 * d, vocab_size, 1)

    @property
    def receptive_fields(self) -> tuple[int, int]:
        """(encoder, decoder) receptive fields :math:`(k-1)\\sum r + 1` in tokens."""
        enc = [b.dilation for b in self.encoder]
        dec = [b.dilation for b in self.decoder]
        k = self.kernel_size
        return (k - 1) * sum(enc) + 1, (k - 1) * sum(dec) + 1

    def source_lengths(self, src: Tensor) -> Tensor:
        """Tokens before the padding of each (right-padded) source: (B, S) -> (B,)."""
        return (src != self.pad_id).sum(dim=1)

    def encode(self, src: Tensor) -> Tensor:
        """The source representation, zero beyond each source's length: (B, S) -> (B, 2d, S)."""
        mask = (src != self.pad_id)[:, None, :].to(self.source_embedding.weight.dtype)
        h = self.source_embedding(src).transpose(1, 2) * mask  # (B, 2d, S)
        for block in self.encoder:
            h = block(h, mask)
        return h

    def decode(self, enc: Tensor, tgt_in: Tensor) -> Tensor:
        """Logits of ``t_i`` from the unfolded source and ``tgt_in`` (Eq. 1).

        Shape:
            enc: (B, 2d, S); tgt_in: (B, T) -> (B, vocab_size, T).
        """
        src_cols = unfold_source(enc, tgt_in.shape[1])  # (B, 2d, T)
        emb = self.target_embedding(tgt_in).transpose(1, 2)  # (B, 2d, T)
        h = self.merge(torch.cat([src_cols, emb], dim=1))  # (B, 2d, T)
        for block in self.decoder:
            h = block(h)
        return self.out(F.relu(_layer_norm(h, self.out_norm)))

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher-forced logits: ``decode(encode(src), tgt_in)``."""
        return self.decode(self.encode(src), tgt_in)

    @torch.no_grad()
    def greedy_decode(self, src: Tensor, *, bos_id: int, eos_id: int) -> Tensor:
        """Most likely token at each step until ``EOS`` or the unfolded length, Eq. (2).

        Tokens after a sequence's ``EOS`` (or past its unfolded length) are ``pad_id``.

        Shape:
            src: (B, S) -> (B, max unfolded length) int64.
        """
        limit = unfolded_length(self.source_lengths(src), self.a, self.b)  # (B,)
        n = int(limit.max())
        enc = self.encode(src)
        out = torch.full((src.shape[0], n), self.pad_id, dtype=torch.long, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for i in range(n):
            tgt_in = decoder_inputs(out[:, : i + 1], bos_id)
            token = self.decode(enc, tgt_in)[:, :, i].argmax(dim=1)  # (B,)
            done = done | (i >= limit)
            out[:, i] = torch.where(done, self.pad_id, token)
            done = done | (token == eos_id)
            if bool(done.all()):
                break
        return out

    def extra_repr(self) -> str:
        enc, dec = self.receptive_fields
        return (
            f"vocab_size={self.vocab_size}, d={self.d}, kernel_size={self.kernel_size}, "
            f"receptive_fields=(encoder {enc}, decoder {dec}), unfolding=({self.a}|s| + {self.b})"
        )
