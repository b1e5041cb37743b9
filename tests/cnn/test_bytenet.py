"""ByteNet: decoder causality, two-sided encoder, padded batches, dynamic unfolding, Eq. (3)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from replearn.cnn.bytenet import (
    ByteNet,
    ByteNetBlock,
    decoder_inputs,
    unfold_source,
    unfolded_length,
)

V, PAD, BOS, EOS = 11, 0, 1, 2


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: a second intra-op thread only adds synchronisation (slow on a busy machine)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def small(**kw) -> ByteNet:
    args = dict(vocab_size=V, d=4, layers_per_stack=3)
    return ByteNet(**{**args, **kw}).double()


def tokens(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(3, V, shape, generator=torch.Generator().manual_seed(seed))


def test_unfolded_length_and_unfolding():
    assert unfolded_length(torch.tensor([0, 5, 12]), a=1.0, b=1).tolist() == [1, 6, 13]
    assert unfolded_length(torch.tensor([10]), a=1.2, b=0).tolist() == [12]
    enc = torch.randn(2, 3, 4)
    longer = unfold_source(enc, 6)
    assert torch.equal(longer[..., :4], enc) and torch.all(longer[..., 4:] == 0)
    assert torch.equal(unfold_source(enc, 3), enc[..., :3])


def test_decoder_inputs_shift_right_after_bos():
    t = torch.tensor([[5, 6, 7, EOS]])
    assert decoder_inputs(t, BOS).tolist() == [[BOS, 5, 6, 7]]


def test_decoder_is_causal_by_gradient():
    torch.manual_seed(0)
    model = small()
    src, tgt_in = tokens(1, 6), tokens(1, 9, seed=1)
    emb = model.target_embedding(tgt_in).detach().requires_grad_(True)  # (1, T, 2d)
    model.target_embedding.forward = lambda _ids: emb  # feed the leaf through decode
    i = 4
    model(src, tgt_in)[0, :, i].square().sum().backward()
    grad = emb.grad[0].abs().sum(dim=1)  # (T,)
    assert torch.all(grad[i + 1 :] == 0)
    assert torch.all(grad[: i + 1] > 0)


def test_encoder_sees_both_sides():
    torch.manual_seed(1)
    model = small()
    src = tokens(1, 9)
    emb = model.source_embedding(src).detach().requires_grad_(True)
    model.source_embedding.forward = lambda _ids: emb
    model.encode(src)[0, :, 4].square().sum().backward()
    grad = emb.grad[0].abs().sum(dim=1)  # (S,)
    assert grad[0] > 0 and grad[-1] > 0  # receptive field (3-1)(1+2+4)+1 = 15 covers 9


def test_padded_batch_equals_sequences_one_by_one():
    torch.manual_seed(2)
    model = small().eval()
    lengths = [7, 3, 5]
    src = torch.zeros(3, 7, dtype=torch.long)
    for i, n in enumerate(lengths):
        src[i, :n] = tokens(n, seed=i)
    tgt_in = tokens(3, 8, seed=9)
    batch = model(src, tgt_in)
    for i, n in enumerate(lengths):
        alone = model(src[i : i + 1, :n], tgt_in[i : i + 1])
        torch.testing.assert_close(batch[i : i + 1], alone, rtol=0, atol=1e-12)
    enc = model.encode(src)
    assert torch.all(enc[1, :, 3:] == 0)  # zero beyond the source: dynamic unfolding's padding


@pytest.mark.parametrize("causal", [True, False])
def test_block_matches_equation_3_written_with_torch_nn(causal):
    torch.manual_seed(3)
    block = ByteNetBlock(4, 3, 2, causal=causal).double()
    h = torch.randn(2, 8, 10, dtype=torch.float64)

    def ln_relu(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
        return F.relu(F.layer_norm(x.transpose(1, 2), x.shape[1:2], norm.weight, norm.bias))

    z = block.reduce(ln_relu(h, block.norm1).transpose(1, 2))
    z = ln_relu(z, block.norm2).transpose(1, 2)
    pad = (4, 0) if causal else (2, 2)  # (k - 1) d on the left, or half on each side
    conv = nn.Conv1d(4, 4, 3, dilation=2).double()
    conv.load_state_dict(block.conv.state_dict())
    z = conv(F.pad(z, pad))
    expected = h + block.expand(ln_relu(z, block.norm3).transpose(1, 2))
    torch.testing.assert_close(block(h), expected, rtol=0, atol=1e-12)


def test_greedy_decode_stops_at_eos_and_respects_the_unfolded_length():
    torch.manual_seed(4)
    model = small(b=2).eval()
    src = torch.zeros(2, 5, dtype=torch.long)
    src[0, :5], src[1, :2] = tokens(5), tokens(2, seed=1)
    out = model.greedy_decode(src, bos_id=BOS, eos_id=EOS)
    assert out.shape == (2, 7)  # 1 * 5 + 2
    assert torch.all(out[1, 4:] == PAD)  # second source unfolds to 2 + 2 = 4 tokens
    # Greedy decoding agrees with teacher forcing on its own output.
    logits = model(src, decoder_inputs(out, BOS))
    for b in range(2):
        n = int(unfolded_length(model.source_lengths(src), 1.0, 2)[b])
        produced = out[b, :n]
        stop = (produced == EOS).nonzero()
        n = int(stop[0]) + 1 if len(stop) else n
        assert torch.equal(logits[b, :, :n].argmax(dim=0), produced[:n])


def test_undilated_variant_has_the_same_parameters_and_a_smaller_receptive_field():
    dilated, plain = small(layers_per_stack=4), small(layers_per_stack=4, dilation_base=1)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(dilated) == count(plain)
    assert dilated.receptive_fields == (31, 31) and plain.receptive_fields == (9, 9)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="odd"):
        ByteNetBlock(4, 2, 1, causal=False)
    with pytest.raises(ValueError, match="unfolding"):
        ByteNet(vocab_size=V, a=0.0)
