r"""Sequence to sequence: an RNN encoder-decoder, with or without additive attention.

Papers: I. Sutskever, O. Vinyals & Q. V. Le, "Sequence to Sequence Learning with Neural
Networks", 2014, arXiv:1409.3215; K. Cho et al., "Learning Phrase Representations using
RNN Encoder-Decoder for Statistical Machine Translation", 2014, arXiv:1406.1078;
D. Bahdanau, K. Cho & Y. Bengio, "Neural Machine Translation by Jointly Learning to
Align and Translate", 2015, arXiv:1409.0473.

The encoder RNN reads the source :math:`x_1..x_S` into annotations :math:`h_j`; its
final state initialises the decoder, which models

.. math::

    p(y \mid x) = \prod_{i} p(y_i \mid y_{<i}, x)                           \qquad (1)

    s_i = f(s_{i-1}, [E y_{i-1}; c_i]), \quad
    p(y_i \mid y_{<i}, x) = \mathrm{softmax}(W_o [s_i; c_i] + b_o)          \qquad (2)

Without attention (Sutskever et al.) there is no context :math:`c_i`: the whole source
must pass through the final encoder state. With attention (Bahdanau et al.)
:math:`c_i` is the additive-attention context of :math:`s_{i-1}` over all annotations
(:mod:`replearn.sequence.seq2seq.attention`).

Training uses *teacher forcing*: the decoder reads the true :math:`y_{i-1}`. With a
ratio :math:`r < 1`, each example reads the true token with probability :math:`r` and
its own previous argmax otherwise (scheduled sampling's mixing, Bengio et al. 2015,
arXiv:1506.03099). Decoding is greedy or by beam search
(:mod:`replearn.sequence.seq2seq.search`).

Deviations: a unidirectional encoder in both variants (Bahdanau et al. use a
bidirectional one; one encoder keeps the comparison with and without attention
fair); the source is read left to right (Sutskever et al. reverse it); the output
layer has no maxout and does not see :math:`y_{i-1}`; padded sources are handled by
freezing the encoder state after each source's end; dropout is not supported.

Tests check: the fast encoder (the cell equations, one input product per layer) and the
fast decoder (cell equations per step, one fused call when teacher-forced without
attention) equal the step loops over the RNN modules, in float64, gradients included;
padding does not change the output; teacher forcing at ratio 0 equals feeding the greedy
outputs back; beam width 1 equals greedy decoding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.reference import use_reference
from replearn.registry import Example, register
from replearn.sequence.rnn.cells import gru_step, lstm_step
from replearn.sequence.rnn.layers import GRU, LSTM
from replearn.sequence.seq2seq.attention import AdditiveAttention
from replearn.sequence.seq2seq.search import State, beam_search, greedy_search

__all__ = ["Seq2Seq", "decoder_inputs", "length_mask"]


def length_mask(lengths: Tensor, max_len: int) -> Tensor:
    """True at the real positions of right-padded sequences. Shape: (B,) -> (B, max_len) bool."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def decoder_inputs(tgt: Tensor, bos_id: int) -> Tensor:
    """Teacher forcing's inputs :math:`[BOS, y_1, ..., y_{T-1}]`. Shape: (B, T) -> (B, T)."""
    return torch.cat([torch.full_like(tgt[:, :1], bos_id), tgt[:, :-1]], dim=1)


def _example() -> Example:
    model = Seq2Seq(vocab_size=9, embed_size=6, hidden_size=8, attention=True)
    src, tgt = torch.randint(3, 9, (2, 5)), torch.randint(3, 9, (2, 4))
    return Example(model, (src, tgt, torch.tensor([5, 3])), (2, 4, 9))


@register(
    "sequence.seq2seq",
    paper="Sutskever et al. 2014, arXiv:1409.3215; Bahdanau et al. 2015, arXiv:1409.0473",
    reference="fast paths == step loops (float64); beam width 1 == greedy; beam == exhaustive",
    example=_example,
)
class Seq2Seq(nn.Module):
    """RNN encoder-decoder (Eqs. 1-2), optionally with Bahdanau attention.

    Args:
        vocab_size: tokens of the (shared) source and target vocabulary.
        embed_size: token embedding size (separate source and target tables).
        hidden_size: RNN state size of the encoder and of the decoder.
        num_layers: stacked RNN layers in each.
        cell: ``"lstm"`` or ``"gru"``.
        attention: add Bahdanau's additive attention (context in the decoder input and output).
        attention_size: hidden size of the alignment network (default ``hidden_size``).
        pad_id, bos_id, eos_id: special tokens.
        fast: encoder and decoder steps by the cell equations on the RNNs' weights; one
            fused call where nothing is padded (encoder) or teacher-forced (decoder
            without attention).

    Shape:
        forward: src (B, S), tgt (B, T), src_lengths (B,) or None -> logits (B, T, V);
        ``logits[:, i]`` predicts ``tgt[:, i]`` from ``tgt[:, :i]`` (teacher forcing).
    """

    def __init__(
        self,
        *,
        vocab_size: int,
        embed_size: int = 64,
        hidden_size: int = 128,
        num_layers: int = 1,
        cell: str = "lstm",
        attention: bool = False,
        attention_size: int | None = None,
        pad_id: int = 0,
        bos_id: int = 1,
        eos_id: int = 2,
        fast: bool = True,
    ) -> None:
        super().__init__()
        if min(vocab_size, embed_size, hidden_size, num_layers) < 1:
            raise ValueError("vocab_size, embed_size, hidden_size, num_layers must be positive")
        if cell not in ("lstm", "gru"):
            raise ValueError(f"cell must be 'lstm' or 'gru', got {cell!r}")
        if len({pad_id, bos_id, eos_id}) != 3 or not all(
            0 <= i < vocab_size for i in (pad_id, bos_id, eos_id)
        ):
            raise ValueError("pad_id, bos_id, eos_id must be distinct ids of the vocabulary")
        self.cell, self.has_attention, self.fast = cell, attention, fast
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        rnn = LSTM if cell == "lstm" else GRU
        h = hidden_size
        self.src_embed = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        self.tgt_embed = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        self.encoder = rnn(embed_size, h, num_layers, batch_first=True)
        ctx = h if attention else 0
        self.decoder = rnn(embed_size + ctx, h, num_layers, batch_first=True)
        self.attention = (
            AdditiveAttention(query_size=h, key_size=h, attention_size=attention_size or h)
            if attention
            else None
        )
        self.out = nn.Linear(h + ctx, vocab_size)

    # -- encoder ----------------------------------------------------------------------------
    def _to_rnn(self, state: State) -> Tensor | tuple[Tensor, Tensor]:
        """Batch-first (B, L, H) state tensors -> the RNN's (L, B, H) layout."""
        hs = tuple(s.transpose(0, 1).contiguous() for s in state)
        return hs if self.cell == "lstm" else hs[0]

    def _from_rnn(self, hc: Tensor | tuple[Tensor, Tensor]) -> State:
        return tuple(s.transpose(0, 1) for s in (hc if self.cell == "lstm" else (hc,)))

    def encode(
        self, src: Tensor, src_lengths: Tensor | None = None
    ) -> tuple[Tensor, Tensor, State]:
        """Annotations, source mask and final state (each source's state at its own end).

        Shape:
            src: (B, S); src_lengths: (B,) -> annotations (B, S, H) (0 on padding),
            mask (B, S) bool, state: tuple of (B, L, H) (h, and c for an LSTM).
        """
        b, s = src.shape
        lengths = torch.full((b,), s, device=src.device) if src_lengths is None else src_lengths
        mask = length_mask(lengths, s)  # (B, S)
        x = self.src_embed(src)  # (B, S, E)
        fast = self.fast and not use_reference()  # replearn.reference switches every layer
        if fast and bool(mask.all()):  # no padding: one call of the fused kernel
            out, hc = self.encoder(x)
            return out, mask, self._from_rnn(hc)
        if fast:  # padding: the cell equations, layer by layer, frozen after each end
            out, state = self._encode_cells(x, mask)
            return out, mask, state
        # Reference: one step at a time; a finished source keeps its state.
        zeros = x.new_zeros(self.encoder.num_layers, b, self.encoder.hidden_size)
        hc: Tensor | tuple[Tensor, Tensor] = (zeros, zeros) if self.cell == "lstm" else zeros
        outs = []
        for t in range(s):
            o, new = self.encoder(x[:, t : t + 1], hc)  # (B, 1, H)
            keep = mask[None, :, t, None]  # (1, B, 1)
            if self.cell == "lstm":
                hc = (torch.where(keep, new[0], hc[0]), torch.where(keep, new[1], hc[1]))
            else:
                hc = torch.where(keep, new, hc)
            outs.append(o[:, 0] * mask[:, t, None])
        return torch.stack(outs, dim=1), mask, self._from_rnn(hc)

    def _encode_cells(self, x: Tensor, mask: Tensor) -> tuple[Tensor, State]:
        """Masked encoder on its weights: one input product per layer, then the time steps.

        Shape:
            x: (B, S, E); mask: (B, S) -> annotations (B, S, H), state (B, L, H) each.
        """
        b, s, _ = x.shape
        hs, cs, inp = [], [], x
        for w_ih, w_hh, b_ih, b_hh in self.encoder.cell_weights():
            ax = F.linear(inp, w_ih, b_ih)  # (B, S, G H)
            h = c = x.new_zeros(b, w_hh.shape[1])  # (B, H)
            outs = []
            for t in range(s):
                keep = mask[:, t, None]  # (B, 1)
                if self.cell == "lstm":
                    h_t, c_t = lstm_step(ax[:, t], h, c, w_hh, b_hh)
                    c = torch.where(keep, c_t, c)
                else:
                    h_t = gru_step(ax[:, t], h, w_hh, b_hh)
                h = torch.where(keep, h_t, h)
                outs.append(h_t * keep)
            inp = torch.stack(outs, dim=1)  # (B, S, H), 0 on padding
            hs.append(h)
            cs.append(c)
        state = (hs, cs) if self.cell == "lstm" else (hs,)
        return inp, tuple(torch.stack(z, dim=1) for z in state)

    # -- decoder ----------------------------------------------------------------------------
    def init_state(self, src: Tensor, src_lengths: Tensor | None = None) -> State:
        """Decoder state after reading the source: (h, [c,] annotations, W2·annotations, mask)."""
        memory, mask, state = self.encode(src, src_lengths)
        keys = self.attention.project_keys(memory) if self.attention is not None else memory
        return (*state, memory, keys, mask)

    def step(self, prev: Tensor, state: State) -> tuple[Tensor, State]:
        """One decoder step of Eq. (2): logits of :math:`y_i` from :math:`y_{i-1}` and the state.

        Shape:
            prev: (B,) ids -> logits (B, V), the new state (same layout as :meth:`init_state`).
        """
        n = 2 if self.cell == "lstm" else 1
        rnn_state, (memory, keys, mask) = state[:n], state[n:]
        x = self.tgt_embed(prev)  # (B, E)
        if self.attention is not None:
            context = self.attention(rnn_state[0][:, -1], memory, mask, keys)  # (B, H), s_{i-1}
            x = torch.cat([x, context], dim=-1)
        # fast: the cell equations on the decoder's weights, no per-call RNN overhead
        if self.fast and not use_reference():
            s_i, new_state = self._cell_step(x, rnn_state)
        else:
            out, hc = self.decoder(x[:, None], self._to_rnn(rnn_state))
            s_i, new_state = out[:, 0], self._from_rnn(hc)  # (B, H)
        feats = s_i if self.attention is None else torch.cat([s_i, context], dim=-1)
        return self.out(feats), (*new_state, memory, keys, mask)

    def _cell_step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """One time step of the stacked decoder RNN. Shape: x (B, I), state (B, L, H) each."""
        hs, cs = [], []
        for layer, (w_ih, w_hh, b_ih, b_hh) in enumerate(self.decoder.cell_weights()):
            ax = F.linear(x, w_ih, b_ih)  # (B, G H)
            if self.cell == "lstm":
                x, c = lstm_step(ax, state[0][:, layer], state[1][:, layer], w_hh, b_hh)
                cs.append(c)
            else:
                x = gru_step(ax, state[0][:, layer], w_hh, b_hh)
            hs.append(x)
        return x, tuple(torch.stack(z, dim=1) for z in (hs, cs) if z)

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_lengths: Tensor | None = None,
        *,
        teacher_forcing: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Logits of every target token; the decoder reads the true previous token with
        probability ``teacher_forcing`` (per example and step), its own argmax otherwise.
        """
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing must be in [0, 1], got {teacher_forcing}")
        state = self.init_state(src, src_lengths)
        inputs = decoder_inputs(tgt, self.bos_id)  # (B, T)
        if self.fast and not use_reference() and self.attention is None and teacher_forcing == 1.0:
            n = 2 if self.cell == "lstm" else 1
            out, _ = self.decoder(self.tgt_embed(inputs), self._to_rnn(state[:n]))
            return self.out(out)  # (B, T, V)
        logits, prev = [], inputs[:, 0]
        for i in range(tgt.shape[1]):
            if i > 0:
                prev = inputs[:, i]
                if teacher_forcing < 1.0:
                    coin = torch.rand(prev.shape, generator=generator, device=prev.device)
                    prev = torch.where(coin < teacher_forcing, prev, logits[-1].argmax(-1))
            step_logits, state = self.step(prev, state)
            logits.append(step_logits)
        return torch.stack(logits, dim=1)

    # -- decoding ---------------------------------------------------------------------------
    @torch.no_grad()
    def greedy_decode(
        self, src: Tensor, src_lengths: Tensor | None = None, *, max_len: int = 32
    ) -> Tensor:
        """Greedy decoding. Shape: src (B, S) -> tokens (B, max_len), ``PAD`` after ``EOS``."""
        state = self.init_state(src, src_lengths)
        tokens, _ = greedy_search(
            self.step, state, batch_size=src.shape[0], bos_id=self.bos_id,
            eos_id=self.eos_id, max_len=max_len, pad_id=self.pad_id,
        )  # fmt: skip
        return tokens

    @torch.no_grad()
    def beam_decode(
        self,
        src: Tensor,
        src_lengths: Tensor | None = None,
        *,
        beam_width: int = 4,
        max_len: int = 32,
        length_penalty: float = 0.0,
    ) -> Tensor:
        """Beam search. Shape: src (B, S) -> tokens (B, max_len), ``PAD`` after ``EOS``."""
        state = self.init_state(src, src_lengths)
        tokens, _ = beam_search(
            self.step, state, batch_size=src.shape[0], bos_id=self.bos_id,
            eos_id=self.eos_id, max_len=max_len, beam_width=beam_width,
            length_penalty=length_penalty, pad_id=self.pad_id,
        )  # fmt: skip
        return tokens

    def extra_repr(self) -> str:
        return f"cell={self.cell!r}, attention={self.has_attention}, fast={self.fast}"


def sequence_nll(logits: Tensor, tgt: Tensor, pad_id: int = 0) -> Tensor:
    """Mean :math:`-\\log p(y_i \\mid y_{<i}, x)` over the real target tokens (Eq. 1).

    Shape:
        logits: (B, T, V); tgt: (B, T) -> scalar.
    """
    return F.cross_entropy(logits.transpose(1, 2), tgt, ignore_index=pad_id)
