r"""WaveNet: causal dilated convolutions with gated units, and its fast cached generation.

Papers: A. van den Oord, S. Dieleman, H. Zen, K. Simonyan, O. Vinyals, A. Graves,
N. Kalchbrenner, A. Senior & K. Kavukcuoglu, "WaveNet: A Generative Model for Raw
Audio", 2016, arXiv:1609.03499; T. L. Paine, P. Khorrami, S. Chang, Y. Zhang,
P. Ramachandran, M. A. Hasegawa-Johnson & T. S. Huang, "Fast Wavenet Generation
Algorithm", 2016, arXiv:1611.09482.

WaveNet factorises the joint distribution of a waveform into conditionals

.. math::

    p(\mathbf{x}) = \prod_{t=1}^{T} p(x_t \mid x_1, \dots, x_{t-1})          \qquad (1)

each a 256-way softmax over μ-law levels (:mod:`replearn.cnn.mulaw`). The
conditionals come from a stack of *causal* convolutions (the output at ``t``
sees inputs ``<= t`` only: left padding by :math:`(k-1)d`) whose dilation
doubles every layer, :math:`d = 1, 2, 4, \dots, 2^{L-1}`, repeated ``stacks``
times, so the receptive field grows exponentially with depth:

.. math::

    r = (k - 1) \sum_\ell d_\ell + 1                                  \qquad (\text{Sec. 2.1})

Every layer is a gated activation unit (Eq. 2 of the paper) with a residual and a
skip connection (Sec. 2.4, Fig. 4):

.. math::

    \mathbf{z} = \tanh(W_{f,k} * \mathbf{x}) \odot \sigma(W_{g,k} * \mathbf{x}),
    \quad \mathbf{x}' = \mathbf{x} + W_{r} \mathbf{z},
    \quad \mathbf{s}_k = W_{s} \mathbf{z}                                       \qquad (2)

and the output is :math:`\text{softmax}(W_2\,\text{ReLU}(W_1\,\text{ReLU}(\sum_k
\mathbf{s}_k)))` (1x1 convolutions). The input is the one-hot level, fed to a
first causal convolution.

*Fast generation* (Paine et al.): generating one sample with the full network
costs a forward pass over the whole receptive field, :math:`O(L r)`. Each
layer's output at time ``t`` only needs its inputs at ``t, t-d, ..., t-(k-1)d``,
so a queue per layer holding its last :math:`(k-1)d` inputs lets one sample be
generated with one column per layer, :math:`O(L)`. :meth:`WaveNet.step` is that
algorithm; with zero-initialised queues it equals the full forward pass with
zero left padding exactly (up to float rounding). :meth:`WaveNet.prime_cache`
fills the queues from a prime in one full pass.

Deviations: no global or local conditioning (speaker, text), the model is
unconditional; the queues are shifted tensors rather than ring buffers (same
values, simpler code); the last layer has no residual 1x1 (its output is unused).

Tests check: the logits from :meth:`WaveNet.step` equal :meth:`WaveNet.forward`
on the same sequence (float64, atol 1e-10), also after priming in one pass;
causality by gradient (the logits at ``t`` have zero gradient w.r.t. inputs after
``t`` and a non-zero one at ``t - r + 1``, which also checks the receptive field);
cached and naive greedy generation give the same samples; :func:`causal_conv1d`
against ``F.conv1d`` on an explicitly padded input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.registry import Example, register

__all__ = [
    "ResidualBlock",
    "WaveNet",
    "autoregressive_nll",
    "causal_conv1d",
    "dilation_schedule",
    "gated_activation",
    "receptive_field",
]


def dilation_schedule(layers_per_stack: int, stacks: int = 1, base: int = 2) -> list[int]:
    """Dilations :math:`1, 2, \\dots, 2^{L-1}`, repeated ``stacks`` times (Sec. 2.1).

    ``base`` is the growth factor (1 gives an undilated stack, for comparison).
    """
    if layers_per_stack < 1 or stacks < 1 or base < 1:
        raise ValueError(
            f"need layers_per_stack, stacks, base >= 1, got {layers_per_stack}, {stacks}, {base}"
        )
    return [base**i for i in range(layers_per_stack)] * stacks


def receptive_field(kernel_size: int, dilations: list[int]) -> int:
    r"""Inputs one output sees through stacked convolutions: :math:`(k-1)\sum_\ell d_\ell + 1`."""
    return (kernel_size - 1) * sum(dilations) + 1


def causal_conv1d(x: Tensor, conv: nn.Conv1d) -> Tensor:
    r"""Causal dilated convolution :math:`y_t = b + \sum_{i=0}^{k-1} W_i\, x_{t-(k-1-i)d}`.

    The input is left-padded with :math:`(k-1)d` zeros, so ``y[..., t]`` depends on
    ``x[..., :t+1]`` only and the length is preserved. ``conv`` is an unpadded
    ``nn.Conv1d`` (called as a module, so hooks such as ``replearn arch`` see it).

    Shape:
        x: (B, C_in, T) -> (B, C_out, T).
    """
    if conv.padding != (0,):
        raise ValueError(f"causal_conv1d pads by itself; got a Conv1d with padding {conv.padding}")
    return conv(F.pad(x, ((conv.kernel_size[0] - 1) * conv.dilation[0], 0)))


def gated_activation(filter_: Tensor, gate: Tensor) -> Tensor:
    r"""Eq. (2) of the paper: :math:`\tanh(\text{filter}) \odot \sigma(\text{gate})`.

    Shape:
        filter_, gate: (*) -> (*).
    """
    return torch.tanh(filter_) * torch.sigmoid(gate)


def autoregressive_nll(logits: Tensor, x: Tensor) -> Tensor:
    r"""Mean :math:`-\ln p(x_{t+1} \mid x_{\le t})` in nats (Eq. 1); logits at t predict t + 1.

    Shape:
        logits: (B, Q, T); x: (B, T) levels -> scalar (averaged over B and T - 1).
    """
    return F.cross_entropy(logits[..., :-1], x[..., 1:])


class ResidualBlock(nn.Module):
    """One gated residual layer of Fig. 4: dilated causal conv, tanh·σ, residual and skip 1x1s.

    Args: residual channels ``r``, gate channels ``dc``, skip channels ``sc``, kernel
    size ``k``, ``dilation``; ``last`` drops the residual 1x1 (its output feeds nothing).
    """

    def __init__(self, r: int, dc: int, sc: int, k: int, dilation: int, *, last: bool = False):
        super().__init__()
        self.dilation = dilation
        self.conv = nn.Conv1d(r, 2 * dc, k, dilation=dilation)  # filter and gate, Eq. (2)
        self.res = None if last else nn.Conv1d(dc, r, 1)
        self.skip = nn.Conv1d(dc, sc, 1)

    @property
    def queue_length(self) -> int:
        """Past inputs the layer needs at generation time: :math:`(k-1)d`."""
        return (self.conv.kernel_size[0] - 1) * self.dilation

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Eq. (2) at every position. Shape: (B, R, T) -> residual out (B, R, T), skip (B, S, T)."""
        h = causal_conv1d(x, self.conv)  # (B, 2D, T)
        z = gated_activation(*h.chunk(2, dim=1))  # (B, D, T)
        return (x if self.res is None else x + self.res(z)), self.skip(z)

    def step(self, x_t: Tensor, queue: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One time step from the layer's queue of past inputs (Paine et al. 2016).

        The taps :math:`x_{t-(k-1)d}, \\dots, x_{t-d}, x_t` are every d-th column of
        ``[queue, x_t]``; the convolution at one position is a matrix-vector product.

        Shape:
            x_t: (B, R); queue: (B, R, (k-1)d) -> (B, R), (B, S), new queue.
        """
        window = torch.cat([queue, x_t[..., None]], dim=-1)  # (B, R, (k-1)d + 1)
        taps = window[..., :: self.dilation]  # (B, R, k)
        h = F.linear(taps.flatten(1), self.conv.weight.flatten(1), self.conv.bias)  # (B, 2D)
        z = gated_activation(*h.chunk(2, dim=-1))  # (B, D), Eq. (2)
        out = x_t if self.res is None else x_t + F.linear(z, self.res.weight[..., 0], self.res.bias)
        return out, F.linear(z, self.skip.weight[..., 0], self.skip.bias), window[..., 1:]


def _example() -> Example:
    model = WaveNet(
        quantization_channels=16,
        residual_channels=8,
        dilation_channels=8,
        skip_channels=8,
        layers_per_stack=3,
    )
    return Example(model, (torch.randint(0, 16, (2, 20)),), (2, 16, 20))


@register(
    "cnn.wavenet",
    paper="van den Oord et al. 2016, arXiv:1609.03499; Paine et al. 2016, arXiv:1611.09482",
    reference="cached step-by-step logits == full causal forward (float64); causality by gradient",
    example=_example,
)
class WaveNet(nn.Module):
    """WaveNet over μ-law levels: causal dilated gated residual stacks and a softmax over levels.

    Args:
        quantization_channels: Q, the number of levels (256 in the paper).
        residual_channels: channels R of the residual stream.
        dilation_channels: channels D of the gated units.
        skip_channels: channels S of the skip connections and the output head.
        kernel_size: k of every causal convolution (2 in the paper).
        layers_per_stack: L; dilations 1, 2, ..., 2**(L-1) in each stack.
        stacks: how many times the dilation pattern repeats.

    Shape:
        forward: levels (B, T) int64, or one-hot (B, Q, T) float -> logits (B, Q, T);
        ``logits[..., t]`` is the distribution of ``x[t + 1]`` given ``x[:t + 1]``.
    """

    def __init__(
        self,
        *,
        quantization_channels: int = 256,
        residual_channels: int = 32,
        dilation_channels: int = 32,
        skip_channels: int = 64,
        kernel_size: int = 2,
        layers_per_stack: int = 8,
        stacks: int = 1,
    ) -> None:
        super().__init__()
        sizes = (quantization_channels, residual_channels, dilation_channels, skip_channels)
        if min(sizes) < 1 or quantization_channels < 2:
            raise ValueError(f"channel counts must be positive (Q >= 2), got {sizes}")
        if kernel_size < 2:
            raise ValueError(f"kernel_size must be >= 2 to look into the past, got {kernel_size}")
        self.quantization_channels = quantization_channels
        self.kernel_size = kernel_size
        self.dilations = dilation_schedule(layers_per_stack, stacks)
        self.input_conv = nn.Conv1d(quantization_channels, residual_channels, kernel_size)
        n, (r, dc, sc) = len(self.dilations), sizes[1:]
        self.blocks = nn.ModuleList(
            ResidualBlock(r, dc, sc, kernel_size, d, last=i == n - 1)
            for i, d in enumerate(self.dilations)
        )
        self.head1 = nn.Conv1d(skip_channels, skip_channels, 1)
        self.head2 = nn.Conv1d(skip_channels, quantization_channels, 1)

    @property
    def receptive_field(self) -> int:
        """Samples one output sees, the input convolution (dilation 1) included."""
        return receptive_field(self.kernel_size, [1, *self.dilations])

    def one_hot(self, x: Tensor) -> Tensor:
        """Levels (B, T) -> one-hot (B, Q, T) in the parameters' dtype; floats pass through."""
        if x.is_floating_point():
            return x
        dtype = self.input_conv.weight.dtype
        return F.one_hot(x, self.quantization_channels).to(dtype).transpose(1, 2)

    @property
    def queue_lengths(self) -> list[int]:
        """Past inputs each layer keeps for generation: k - 1 (input conv), then (k-1)d."""
        return [self.kernel_size - 1, *(b.queue_length for b in self.blocks)]

    def _layers(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """The full causal pass: logits (B, Q, T) and every layer's input (input conv first)."""
        u = self.one_hot(x)  # (B, Q, T)
        inputs = [u]
        h = causal_conv1d(u, self.input_conv)  # (B, R, T)
        skips = 0
        for block in self.blocks:
            inputs.append(h)
            h, s = block(h)  # (B, R, T), (B, S, T)
            skips = skips + s
        return self.head2(F.relu(self.head1(F.relu(skips)))), inputs

    def forward(self, x: Tensor) -> Tensor:
        """Logits of the next level at every position (the full causal pass)."""
        return self._layers(x)[0]

    def init_cache(self, batch_size: int) -> list[Tensor]:
        """Zero queues, one per layer (input conv first): the forward pass's zero padding."""
        w = self.input_conv.weight
        channels = [self.quantization_channels] + [self.input_conv.out_channels] * len(self.blocks)
        return [
            w.new_zeros(batch_size, c, q) for c, q in zip(channels, self.queue_lengths, strict=True)
        ]

    def prime_cache(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Read a whole prime in one full pass: the logits after its last sample and the queues.

        Equal to :meth:`init_cache` followed by :meth:`step` over ``x``, but one pass.

        Shape:
            x: (B, T) levels -> logits (B, Q), cache.
        """
        logits, inputs = self._layers(x)
        cache = [
            F.pad(u, (q, 0))[..., -q:] for u, q in zip(inputs, self.queue_lengths, strict=True)
        ]
        return logits[..., -1], cache

    def step(self, x_t: Tensor, cache: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """Fast generation: logits of ``x[t+1]`` from ``x[t]`` and the queues, O(layers) work.

        Shape:
            x_t: (B,) levels or (B, Q) one-hot -> logits (B, Q), the updated cache.
        """
        u_t = x_t if x_t.is_floating_point() else self.one_hot(x_t[:, None])[..., 0]  # (B, Q)
        window = torch.cat([cache[0], u_t[..., None]], dim=-1)  # (B, Q, k)
        w = self.input_conv.weight
        h = F.linear(window.flatten(1), w.flatten(1), self.input_conv.bias)  # (B, R)
        new_cache = [window[..., 1:]]
        skips = 0
        for block, queue in zip(self.blocks, cache[1:], strict=True):
            h, s, queue = block.step(h, queue)
            new_cache.append(queue)
            skips = skips + s
        hidden = F.relu(F.linear(F.relu(skips), self.head1.weight[..., 0], self.head1.bias))
        return F.linear(hidden, self.head2.weight[..., 0], self.head2.bias), new_cache

    @torch.no_grad()
    def generate(
        self,
        n_samples: int,
        *,
        prime: Tensor | None = None,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        method: str = "cached",
    ) -> Tensor:
        """Sample ``n_samples`` levels after ``prime``, one at a time (Eq. 1).

        Args:
            n_samples: levels to generate.
            prime: (B, T0) levels to condition on; default one silent level (Q // 2).
            temperature: softmax temperature; 0 takes the most likely level (greedy).
            generator: random generator of the sampling.
            method: ``"cached"`` (Paine et al., O(L) per sample) or ``"naive"`` (a full
                forward pass over the last ``receptive_field`` samples per sample).

        Shape:
            prime: (B, T0) -> (B, n_samples) int64.
        """
        if method not in ("cached", "naive"):
            raise ValueError(f"method must be 'cached' or 'naive', got {method!r}")
        if prime is None:
            prime = torch.full((1, 1), self.quantization_channels // 2, dtype=torch.long)
        prime = prime.to(self.input_conv.weight.device)
        seq = [prime[:, i] for i in range(prime.shape[1])]
        if method == "cached":
            logits, cache = self.prime_cache(prime)  # queues filled in one full pass
        for i in range(n_samples):
            if method == "naive":
                window = torch.stack(seq[-self.receptive_field :], dim=1)  # (B, <= r)
                logits = self(window)[..., -1]  # (B, Q)
            if temperature == 0:
                x_t = logits.argmax(dim=-1)
            else:
                probs = F.softmax(logits.double() / temperature, dim=-1)
                x_t = torch.multinomial(probs, 1, generator=generator)[:, 0]
            seq.append(x_t)
            if method == "cached" and i + 1 < n_samples:
                logits, cache = self.step(x_t, cache)
        return torch.stack(seq[prime.shape[1] :], dim=1)

    def extra_repr(self) -> str:
        return (
            f"quantization_channels={self.quantization_channels}, kernel_size={self.kernel_size}, "
            f"dilations={self.dilations}, receptive_field={self.receptive_field}"
        )
