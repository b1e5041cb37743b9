"""ELMo: scalar mix, the biLM's directions against torch.nn.LSTM, causality, padding, loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from replearn.sequence.rnn.elmo import BiLM, ScalarMix, bilm_nll, scalar_mix

D = torch.float64


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def bilm(**kw) -> BiLM:
    torch.manual_seed(0)
    return BiLM(**{"vocab_size": 13, "dim": 6, "num_layers": 2, **kw}).double().eval()


def test_scalar_mix_is_the_explicit_sum():
    g = torch.Generator().manual_seed(0)
    layers = torch.randn(3, 2, 4, 5, generator=g, dtype=D)
    w = torch.tensor([0.3, -1.0, 2.0], dtype=D)
    s = w.exp() / w.exp().sum()
    expected = 1.7 * (s[0] * layers[0] + s[1] * layers[1] + s[2] * layers[2])
    torch.testing.assert_close(scalar_mix(layers, w, 1.7), expected, rtol=0, atol=1e-12)
    mix = ScalarMix(3).double()
    torch.testing.assert_close(mix(layers), layers.mean(0), rtol=0, atol=1e-12)  # w = 0, γ = 1
    layers.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda x, w: scalar_mix(x, w, 0.5), (layers, w.requires_grad_())
    )
    with pytest.raises(ValueError, match="mixing weights"):
        scalar_mix(layers, w[:2])
    with pytest.raises(ValueError):
        ScalarMix(0)


def test_each_direction_equals_torch_lstm_with_copied_weights():
    m = bilm(num_layers=1)
    ids = torch.randint(1, 13, (3, 7))
    x = m.embed(ids)
    _, fwd, bwd = m.directional_states(ids)
    for ours, expected_input, flip in ((m.forward_lstms[0], x, False),
                                       (m.backward_lstms[0], x.flip(1), True)):  # fmt: skip
        ref = nn.LSTM(6, 6, batch_first=True).double()
        ref.load_state_dict(ours.state_dict())
        out = ref(expected_input)[0]
        got = bwd[0] if flip else fwd[0]
        torch.testing.assert_close(got, out.flip(1) if flip else out, rtol=0, atol=1e-12)
    reps = m.layers(ids)
    assert reps.shape == (2, 3, 7, 12)
    torch.testing.assert_close(reps[0], torch.cat([x, x], -1))
    torch.testing.assert_close(reps[1], torch.cat([fwd[0], bwd[0]], -1))


def test_forward_lm_sees_the_past_backward_lm_the_future():
    m = bilm()
    ids = torch.randint(1, 13, (1, 9))
    x = m.embed(ids).detach().requires_grad_(True)
    fwd = m._stack(m.forward_lstms, x)[-1]
    bwd = m._stack(m.backward_lstms, x.flip(1))[-1].flip(1)
    (gf,) = torch.autograd.grad(fwd[0, 4].sum(), x)
    (gb,) = torch.autograd.grad(bwd[0, 4].sum(), x)
    assert gf[0, 5:].abs().max() == 0 and gf[0, :5].abs().sum(-1).min() > 0
    assert gb[0, :4].abs().max() == 0 and gb[0, 4:].abs().sum(-1).min() > 0


def test_padding_changes_nothing():
    m = bilm()
    ids = torch.randint(1, 13, (3, 8))
    lengths = torch.tensor([8, 3, 5])
    ids[torch.arange(8)[None, :] >= lengths[:, None]] = 0
    batch = m.layers(ids, lengths)
    for i in range(3):
        n = int(lengths[i])
        alone = m.layers(ids[i : i + 1, :n])
        torch.testing.assert_close(batch[:, i : i + 1, :n], alone, rtol=0, atol=1e-12)
    logits = m(ids, lengths)
    wide = F.pad(ids, (0, 3))
    torch.testing.assert_close(m(wide, lengths)[:, :, :8], logits, rtol=0, atol=1e-12)
    torch.testing.assert_close(
        torch.stack(bilm_nll(m(wide, lengths), wide, lengths)),
        torch.stack(bilm_nll(logits, ids, lengths)),
    )


def test_loss_is_the_explicit_cross_entropy_of_both_lms():
    m = bilm()
    ids = torch.randint(1, 13, (2, 6))
    lengths = torch.tensor([6, 4])
    logits = m(ids, lengths)
    fwd, bwd = bilm_nll(logits, ids, lengths)
    lp = logits.log_softmax(-1)
    f_terms = [-lp[0, b, k, ids[b, k + 1]] for b in range(2) for k in range(int(lengths[b]) - 1)]
    b_terms = [-lp[1, b, k, ids[b, k - 1]] for b in range(2) for k in range(1, int(lengths[b]))]
    torch.testing.assert_close(fwd, torch.stack(f_terms).mean(), rtol=0, atol=1e-12)
    torch.testing.assert_close(bwd, torch.stack(b_terms).mean(), rtol=0, atol=1e-12)
    fast = m.nll(ids, lengths)  # softmax at the predicted positions only
    torch.testing.assert_close(fast[0], fwd, rtol=0, atol=1e-12)
    torch.testing.assert_close(fast[1], bwd, rtol=0, atol=1e-12)
    with pytest.raises(ValueError):
        BiLM(vocab_size=10, dim=0)


def test_pooling_commutes_with_the_mix_and_toy_labels():
    import random

    from replearn.experiments.sequence.elmo_sst2 import MixClassifier, pooled_layers, toy_sentences

    m = bilm()
    ids = torch.randint(1, 13, (3, 6))
    lengths = torch.tensor([6, 2, 4])
    ids[torch.arange(6)[None, :] >= lengths[:, None]] = 0
    pooled = pooled_layers(m, ids, lengths)  # (N, J, F)
    clf = MixClassifier(3, 12).double()
    with torch.no_grad():
        clf.mix.weights.copy_(torch.tensor([0.5, -0.2, 1.0]))
    reps = m.layers(ids, lengths)  # (J, N, T, F)
    for i in range(3):
        n = int(lengths[i])
        per_token = clf.mix(reps[:, i, :n])  # (n, F): ELMo_k of Eq. (2)
        expected = clf.linear(per_token.mean(0))
        torch.testing.assert_close(clf(pooled[i : i + 1])[0], expected, rtol=0, atol=1e-12)
    for text, label in zip(*toy_sentences(200, random.Random(0)), strict=True):
        positive = any(w in text.split() for w in ("good", "great", "funny", "moving", "clever",
                                                    "charming", "smart", "fresh"))  # fmt: skip
        assert label == int(positive != ("not" in text.split()))
