"""Seq2Seq: the encoder-decoder's fast paths, padding, teacher forcing, decoding."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from replearn.sequence.seq2seq.model import Seq2Seq, decoder_inputs, length_mask, sequence_nll

PAD, BOS, EOS = 0, 1, 2
D = torch.float64


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# -- the encoder-decoder --------------------------------------------------------------------
def model(**kw) -> Seq2Seq:
    torch.manual_seed(0)
    args = dict(vocab_size=10, embed_size=5, hidden_size=6)
    return Seq2Seq(**{**args, **kw}).double().eval()


def batch():
    g = torch.Generator().manual_seed(1)
    src = torch.randint(3, 10, (4, 7), generator=g)
    lengths = torch.tensor([7, 3, 5, 3])
    src[length_mask(lengths, 7).logical_not()] = PAD
    return src, lengths, torch.randint(3, 10, (4, 5), generator=g)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("attention", [False, True])
def test_fast_paths_equal_the_step_loops(cell, attention):
    fast = model(cell=cell, attention=attention, num_layers=2)
    slow = model(cell=cell, attention=attention, num_layers=2, fast=False)
    slow.load_state_dict(fast.state_dict())
    src, lengths, tgt = batch()
    for a, b in zip(fast.encode(src, lengths), slow.encode(src, lengths), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    y_fast, y_slow = fast(src, tgt, lengths), slow(src, tgt, lengths)
    torch.testing.assert_close(y_fast, y_slow, rtol=0, atol=1e-12)
    grads = [torch.autograd.grad(m(src, tgt, lengths).sum(), m.encoder.weight_hh_l0)[0]
             for m in (fast, slow)]  # fmt: skip
    torch.testing.assert_close(*grads, rtol=0, atol=1e-10)


@pytest.mark.parametrize("attention", [False, True])
def test_padding_does_not_change_the_output(attention):
    m = model(attention=attention)
    src, lengths, tgt = batch()
    wide = F.pad(src, (0, 4), value=PAD)
    torch.testing.assert_close(m(wide, tgt, lengths), m(src, tgt, lengths), rtol=0, atol=1e-12)
    # Each example alone, unpadded, gives the same logits as in the batch.
    for i in range(4):
        alone = m(src[i : i + 1, : lengths[i]], tgt[i : i + 1])
        torch.testing.assert_close(alone, m(src, tgt, lengths)[i : i + 1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("attention", [False, True])
def test_greedy_decoding_is_teacher_forcing_on_its_own_outputs(attention):
    m = model(attention=attention)
    src, lengths, _ = batch()
    out = m.greedy_decode(src, lengths, max_len=6)
    logits = m(src, out, lengths)  # teacher-forced on the greedy outputs
    first_eos = [(row == EOS).nonzero()[:1] for row in out]
    for i, row in enumerate(out):
        end = int(first_eos[i][0]) + 1 if len(first_eos[i]) else 6
        assert torch.equal(logits[i, :end].argmax(-1), row[:end])
        assert (row[end:] == PAD).all()
    # Ratio 0: the decoder feeds itself its argmax, the same as greedy decoding.
    free = m(src, out, lengths, teacher_forcing=0.0)
    for i in range(4):
        end = int(first_eos[i][0]) + 1 if len(first_eos[i]) else 6
        torch.testing.assert_close(free[i, :end], logits[i, :end], rtol=0, atol=1e-12)
    beam1 = m.beam_decode(src, lengths, beam_width=1, max_len=6)
    assert torch.equal(beam1, out)


def test_teacher_forcing_ratio_mixes_inputs_and_loss_ignores_padding():
    m = model(attention=True)
    src, lengths, tgt = batch()
    g = torch.Generator().manual_seed(0)
    full = m(src, tgt, lengths)
    torch.testing.assert_close(m(src, tgt, lengths, teacher_forcing=1.0, generator=g), full)
    mixed = m(src, tgt, lengths, teacher_forcing=0.5, generator=g)
    assert mixed.shape == full.shape and not torch.equal(mixed, full)
    padded = F.pad(tgt, (0, 2), value=PAD)
    logits = torch.randn(4, 7, 10, dtype=D)
    torch.testing.assert_close(sequence_nll(logits, padded), sequence_nll(logits[:, :5], tgt))
    assert decoder_inputs(tgt, BOS)[:, 0].eq(BOS).all()
    assert torch.equal(decoder_inputs(tgt, BOS)[:, 1:], tgt[:, :-1])
    with pytest.raises(ValueError):
        m(src, tgt, lengths, teacher_forcing=1.5)
    with pytest.raises(ValueError):
        Seq2Seq(vocab_size=10, cell="rnn")
    with pytest.raises(ValueError):
        Seq2Seq(vocab_size=10, pad_id=1)


def test_exact_match_counts_every_target_token():
    from replearn.experiments.sequence.seq2seq_chars import exact_match

    tgt = torch.tensor([[5, 6, EOS, PAD], [5, EOS, PAD, PAD]])
    out = torch.tensor([[5, 6, EOS, PAD, PAD], [5, 7, PAD, PAD, PAD]])
    assert exact_match(out, tgt).tolist() == [True, False]
    assert exact_match(out[:, :2], tgt).tolist() == [False, False]  # EOS missing
