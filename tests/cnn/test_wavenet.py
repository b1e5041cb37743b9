"""WaveNet: cached generation == full causal pass (float64), causality by gradient, the pieces."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from replearn.cnn.wavenet import (
    WaveNet,
    autoregressive_nll,
    causal_conv1d,
    dilation_schedule,
    gated_activation,
    receptive_field,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: a second intra-op thread only adds synchronisation (slow on a busy machine)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def small(**kw) -> WaveNet:
    args = dict(
        quantization_channels=16,
        residual_channels=6,
        dilation_channels=5,
        skip_channels=7,
        layers_per_stack=4,
        stacks=2,
    )
    return WaveNet(**{**args, **kw})


def test_dilations_and_receptive_field_formula():
    assert dilation_schedule(4, 2) == [1, 2, 4, 8, 1, 2, 4, 8]
    assert receptive_field(2, [1, 2, 4, 8]) == 16
    assert receptive_field(3, [1, 2, 4]) == 15
    model = small()
    assert model.receptive_field == 1 + 1 + 2 * 15  # input conv + two stacks of 1..8, k = 2
    with pytest.raises(ValueError):
        dilation_schedule(0)


@pytest.mark.parametrize("k,d", [(2, 1), (2, 4), (3, 2)])
def test_causal_conv_is_conv1d_on_a_left_padded_input(k, d):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 11, dtype=torch.float64)
    conv = nn.Conv1d(3, 4, k, dilation=d).double()
    w, b = conv.weight.detach(), conv.bias.detach()
    padded = torch.cat([torch.zeros(2, 3, (k - 1) * d, dtype=torch.float64), x], dim=-1)
    expected = F.conv1d(padded, w, b, dilation=d)
    y = causal_conv1d(x, conv)
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-12)
    # Written out for one output: y_t = b + sum_i W_i x_{t-(k-1-i)d}.
    t = 9
    y_t = b + sum(w[:, :, i] @ x[0, :, t - (k - 1 - i) * d] for i in range(k))
    torch.testing.assert_close(y[0, :, t], y_t, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="padding"):
        causal_conv1d(x, nn.Conv1d(3, 4, k, padding=1).double())


def test_gated_activation_closed_form():
    f, g = torch.randn(5, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    expected = (f.exp() - (-f).exp()) / (f.exp() + (-f).exp()) / (1 + (-g).exp())
    torch.testing.assert_close(gated_activation(f, g), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kernel_size", [2, 3])
def test_cached_steps_equal_the_full_forward_pass(kernel_size):
    torch.manual_seed(0)
    model = small(kernel_size=kernel_size).double().eval()
    x = torch.randint(0, 16, (3, 40))  # longer than the receptive field (32 / 61)
    full = model(x)  # (B, Q, T)
    cache = model.init_cache(3)
    steps = []
    for t in range(x.shape[1]):
        logits, cache = model.step(x[:, t], cache)
        steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, dim=-1), full, rtol=0, atol=1e-10)


@pytest.mark.parametrize("t0", [1, 7, 40])
def test_priming_in_one_pass_equals_stepping_through_the_prime(t0):
    torch.manual_seed(5)
    model = small().double().eval()
    x = torch.randint(0, 16, (2, 50))
    full = model(x)
    logits, cache = model.prime_cache(x[:, :t0])
    steps = [logits]
    for t in range(t0, x.shape[1]):
        logits, cache = model.step(x[:, t], cache)
        steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, dim=-1), full[..., t0 - 1 :], rtol=0, atol=1e-10)
    # The one-hot (float) input path of step gives the same logits.
    onehot = model.one_hot(x[:, :1])[..., 0]
    a, _ = model.step(onehot, model.init_cache(2))
    torch.testing.assert_close(a, full[..., 0], rtol=0, atol=1e-10)


def test_output_at_t_does_not_depend_on_later_inputs():
    torch.manual_seed(1)
    model = small().double()
    r = model.receptive_field
    T = r + 8
    x = model.one_hot(torch.randint(0, 16, (1, T))).requires_grad_(True)  # (1, Q, T)
    t = T - 5
    model(x)[0, :, t].square().sum().backward()
    grad = x.grad[0].abs().sum(dim=0)  # (T,) sensitivity of the output at t to each input
    assert torch.all(grad[t + 1 :] == 0)  # causal: nothing after t
    assert torch.all(grad[: t - r + 1] == 0)  # nothing before the receptive field
    assert grad[t] > 0 and grad[t - r + 1] > 0  # both ends of the receptive field are seen


def test_cached_and_naive_greedy_generation_agree():
    torch.manual_seed(2)
    model = small().double().eval()
    prime = torch.randint(0, 16, (2, 5))
    cached = model.generate(45, prime=prime, temperature=0, method="cached")
    naive = model.generate(45, prime=prime, temperature=0, method="naive")
    assert cached.shape == (2, 45) and cached.dtype == torch.long
    assert torch.equal(cached, naive)


def test_sampling_is_reproducible_with_a_generator():
    torch.manual_seed(3)
    model = small().eval()
    a = model.generate(20, generator=torch.Generator().manual_seed(0))
    b = model.generate(20, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.min() >= 0 and a.max() < 16


def test_nll_is_the_shifted_cross_entropy():
    torch.manual_seed(4)
    logits = torch.randn(2, 16, 9, dtype=torch.float64)
    x = torch.randint(0, 16, (2, 9))
    logp = logits.log_softmax(dim=1)
    expected = -torch.stack([logp[b, x[b, t + 1], t] for b in range(2) for t in range(8)]).mean()
    torch.testing.assert_close(autoregressive_nll(logits, x), expected, rtol=0, atol=1e-12)
    # A uniform model pays ln Q nats per sample.
    uniform = autoregressive_nll(torch.zeros(2, 16, 9), x)
    assert uniform.item() == pytest.approx(torch.log(torch.tensor(16.0)).item(), rel=1e-6)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="kernel_size"):
        small(kernel_size=1)
    with pytest.raises(ValueError, match="method"):
        small().generate(3, method="fast")
