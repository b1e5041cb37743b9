"""Pure helpers of the recurrent-network experiments, against analytic oracles in float64."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.engine.bptt import detach_state
from replearn.experiments.sequence.char_lstm import generate, unigram_cross_entropy
from replearn.experiments.sequence.rnn_common import (
    SavedTensorBytes,
    SequenceModel,
    fit_log_slope,
    head_mean,
    hidden_gradient_norms,
    tail_mean,
    vanishing_distance,
)
from replearn.experiments.sequence.rnn_gradients import log_norm_profile
from replearn.experiments.sequence.tbptt_tradeoff import echo_loss, echo_stream

F64 = torch.float64


def test_linear_rnn_gradients_are_powers_of_w_transposed():
    """Linear RNN: dL/dh_t = (W^T)^(T-t) r exactly."""
    gen = torch.Generator().manual_seed(0)
    h, i, t, b = 5, 3, 7, 4
    w = torch.randn(h, h, generator=gen, dtype=F64) / 2
    u = torch.randn(h, i, generator=gen, dtype=F64)
    x = torch.randn(t, b, i, generator=gen, dtype=F64)
    r = torch.randn(b, h, generator=gen, dtype=F64)
    norms, states = hidden_gradient_norms(w, u, x, nonlinearity="linear", readout=r)
    assert norms.shape == (t + 1, b) and states.shape == (t + 1, b, h)
    for step in range(t + 1):
        expected = r @ torch.linalg.matrix_power(w, t - step)  # rows: (W^T)^k r_b
        torch.testing.assert_close(norms[step], expected.norm(dim=1), rtol=1e-12, atol=1e-14)


def test_tanh_rnn_gradients_follow_the_backward_recursion():
    """dL/dh_{t-1} = W^T (dL/dh_t * (1 - h_t^2)), computed by hand from the returned states."""
    gen = torch.Generator().manual_seed(1)
    h, i, t, b = 6, 2, 9, 3
    w = torch.randn(h, h, generator=gen, dtype=F64)
    u = torch.randn(h, i, generator=gen, dtype=F64)
    bias = torch.randn(h, generator=gen, dtype=F64)
    x = torch.randn(t, b, i, generator=gen, dtype=F64)
    norms, states = hidden_gradient_norms(w, u, x, nonlinearity="tanh", bias=bias)
    # the states are the tanh recurrence
    torch.testing.assert_close(states[1], torch.tanh(x[0] @ u.T + bias), rtol=1e-12, atol=1e-14)
    g = torch.ones(b, h, dtype=F64)  # default readout
    for step in range(t, -1, -1):
        torch.testing.assert_close(norms[step], g.norm(dim=1), rtol=1e-10, atol=1e-14)
        g = (g * (1 - states[step].square())) @ w


def test_unknown_nonlinearity():
    with pytest.raises(ValueError, match="nonlinearity"):
        hidden_gradient_norms(torch.eye(2), torch.eye(2), torch.zeros(3, 1, 2), nonlinearity="elu")


def test_fit_log_slope_recovers_an_exponential():
    d = torch.arange(20)
    slope, intercept, r2 = fit_log_slope(3.0 * 0.7 ** d.double(), d)
    assert slope == pytest.approx(math.log(0.7), rel=1e-10)
    assert intercept == pytest.approx(math.log(3.0), rel=1e-10)
    assert r2 == pytest.approx(1.0, abs=1e-12)
    noisy = 0.7 ** d.double() * torch.exp(
        torch.randn(20, generator=torch.Generator().manual_seed(0))
    )
    assert fit_log_slope(noisy, d)[2] < 0.999
    with pytest.raises(ValueError):
        fit_log_slope(torch.tensor([1.0, 0.0]), torch.arange(2))


def test_vanishing_distance():
    norms = torch.tensor([2.0, 1.0, 0.1, 1e-3, 1e-4, 1.0])
    assert vanishing_distance(norms, 1e-3) == 3  # first entry below 1e-3 * 2.0
    assert vanishing_distance(torch.tensor([1.0, 0.5, 0.2])) is None


def test_vanishing_distance_first_crossing():
    norms = torch.tensor([1.0, 0.5, 5e-4, 1e-5])
    assert vanishing_distance(norms, 1e-3) == 2


def test_log_norm_profile_orders_by_distance():
    norms = torch.tensor([[1.0, 4.0], [2.0, 8.0], [4.0, 16.0]], dtype=F64)  # rows: t = 0, 1, 2
    prof = log_norm_profile(norms)  # geometric means 2, 4, 8, last step (distance 0) first
    torch.testing.assert_close(prof, torch.tensor([8.0, 4.0, 2.0], dtype=F64).log())


def test_head_and_tail_means():
    v = [float(i) for i in range(20)]
    assert head_mean(v, 0.1) == pytest.approx(0.5)
    assert tail_mean(v, 0.1) == pytest.approx(18.5)
    assert tail_mean([3.0]) == 3.0
    with pytest.raises(ValueError):
        tail_mean([])


def test_saved_tensor_bytes_counts_what_autograd_keeps():
    x = torch.randn(10, 3, requires_grad=True)
    with SavedTensorBytes() as counter:
        y = torch.exp(x)  # exp saves its output
    assert counter.count == 1 and counter.bytes == 30 * 4
    y.sum().backward()  # the graph still works through the hooks
    torch.testing.assert_close(x.grad, torch.exp(x))


def test_saved_bytes_grow_linearly_with_the_unrolled_length():
    model = SequenceModel("gru", input_size=3, hidden_size=8, output_size=2)
    sizes = {}
    for t in (4, 8, 16):
        with SavedTensorBytes() as counter:
            model(torch.randn(2, t, 3))
        sizes[t] = counter.bytes
    assert sizes[4] < sizes[8] < sizes[16]
    # affine in t: equal increments for equal steps
    assert sizes[16] - sizes[8] == 2 * (sizes[8] - sizes[4])


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_sequence_model_shapes_and_time_major(kind):
    torch.manual_seed(0)
    model = SequenceModel(kind, input_size=4, hidden_size=6, output_size=3, vocab_size=10)
    x = torch.randint(0, 10, (2, 5))
    out, _ = model(x)
    assert out.shape == (2, 5, 3)
    torch.manual_seed(0)
    tm = SequenceModel(
        kind, input_size=4, hidden_size=6, output_size=3, vocab_size=10, batch_first=False
    )
    out_tm, _ = tm(x.T)
    torch.testing.assert_close(out_tm.transpose(0, 1), out)
    # carrying the state over two halves equals one pass
    first, s = model(x[:, :2])
    second, _ = model(x[:, 2:], detach_state(s))
    torch.testing.assert_close(torch.cat([first, second], dim=1), out)
    with pytest.raises(ValueError, match="kind"):
        SequenceModel("cnn", input_size=1, hidden_size=1, output_size=1)  # type: ignore[arg-type]


def test_echo_stream_targets_are_delayed_inputs():
    x, y = echo_stream(3, 20, 5, (1, 4), torch.Generator().manual_seed(0))
    assert x.shape == (3, 20) and y.shape == (3, 20, 2)
    assert (y[:, :1, 0] == -100).all() and (y[:, :4, 1] == -100).all()
    torch.testing.assert_close(y[:, 1:, 0], x[:, :-1])
    torch.testing.assert_close(y[:, 4:, 1], x[:, :-4])
    assert int(x.min()) >= 0 and int(x.max()) < 5


def test_echo_loss_is_the_sum_over_heads_of_the_mean_cross_entropy():
    _, y = echo_stream(2, 6, 3, (1, 2), torch.Generator().manual_seed(0))
    logits = torch.randn(2, 6, 2, 3, dtype=F64)
    per_head = [
        torch.nn.functional.cross_entropy(logits[:, :, j].reshape(-1, 3), y[:, :, j].reshape(-1))
        for j in range(2)
    ]
    # heads answer a different number of positions: the loss weights positions equally
    n = [(y[:, :, j] >= 0).sum() for j in range(2)]
    expected = 2 * (per_head[0] * n[0] + per_head[1] * n[1]) / (n[0] + n[1])
    torch.testing.assert_close(echo_loss(logits, y), expected)


def test_unigram_cross_entropy():
    train = torch.tensor([0, 0, 0, 1])  # counts +1: 4, 2, 1 over 7
    val = torch.tensor([0, 1, 2])
    expected = -(math.log(4 / 7) + math.log(2 / 7) + math.log(1 / 7)) / 3
    assert unigram_cross_entropy(train, val, 3) == pytest.approx(expected, rel=1e-12)


def test_generate_carries_the_state_like_a_full_forward_pass():
    """Greedy generation step by step == argmax of a full pass over the growing text."""
    torch.manual_seed(0)
    model = SequenceModel(
        "lstm", input_size=4, hidden_size=8, output_size=7, vocab_size=7, batch_first=False
    )
    prime = torch.tensor([1, 2, 3])
    out = generate(model, prime, 6, temperature=0.0, generator=torch.Generator())
    text = prime
    for _ in range(6):
        logits, _ = model(text[:, None])  # (T, 1, V) from a zero state
        text = torch.cat([text, logits[-1, 0].argmax()[None]])
    torch.testing.assert_close(out, text[3:])
    assert model.training  # the mode is restored
