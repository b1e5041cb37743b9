r"""Per-layer architecture summary via forward hooks: shapes, parameters, receptive field, FLOPs.

One forward pass (eval mode, no gradient) of a model on an example input; every
leaf module (one without children) gives a row, in call order. The formulas are
those of :mod:`replearn.cnn.arithmetic` (Dumoulin & Visin 2016, arXiv:1603.07285).

**FLOPs** are for the whole input given, batch included (``replearn arch``
with ``--input-shape C,H,W`` uses batch 1, i.e. FLOPs per example). A
multiply-add counts as 2 FLOPs. With :math:`M` the number of output values:

=========================================  =====================================================
conv (``groups`` :math:`G`)                 :math:`2 M \frac{C_{in}}{G} \prod K` (+ :math:`M` bias)
transposed conv                             :math:`2 N_{in} \frac{C_{out}}{G} \prod K`
                                            (+ :math:`M` bias), :math:`N_{in}` input values
linear                                      :math:`2 M N_{in}` (+ :math:`M` bias)
max pool / avg pool                         :math:`M (\prod K - 1)` comparisons / :math:`M \prod K`
adaptive avg / max pool                     one per input value (adds, or comparisons)
batch norm (eval: a folded scale and shift)  2 per value
layer / group / instance / RMS norm          6 per value (statistics, normalization) + 1 per
                                            affine tensor (weight, bias)
activations (ReLU, tanh, GELU, ...)          1 per value; softmax 3 per value
dropout, identity, flatten                   0
anything else                               not counted ('-')
=========================================  =====================================================

**Matrix products outside leaf modules** (attention's :math:`QK^\top` and
:math:`AV`, whether written with ``@``, ``einsum``, ``bmm`` or
``F.scaled_dot_product_attention``; a functional ``F.linear`` on a module's weight) are
counted from the operations actually dispatched (``aten.mm / addmm / bmm / baddbmm``:
:math:`2mkn` per matrix; scaled dot-product attention: :math:`2 L S (E + E_v)` per
batch and head) and given one row per module that issues them (type
``"<Module>: matrix products"``), after that module's own layers. Other operations
outside modules (``x + shortcut``, ``F.relu``, softmax written functionally) are not
counted. Modules are recognised by ``torch.nn`` class, and replearn's from-scratch
drop-ins by their (torch) class name.

**Receptive field** (input positions per spatial axis, Eq. 4 of
:mod:`replearn.cnn.arithmetic`): each tensor produced by a leaf module carries
:math:`(r, j)` per axis (size and jump). A conv / pool layer maps
:math:`(r, j) \mapsto (r + (\hat K - 1) j,\ j S)`; pointwise layers
(activations, norms, dropout) keep it; anything else (linear, flatten, global
or adaptive pooling, transposed conv, upsampling) leaves it undefined ('-').
A layer whose input did not come from a leaf module (e.g. the sum of a residual
block) takes the largest receptive field seen so far, which is exact for plain
and residual stacks; once a field is undefined, such inputs stay undefined.
If a conv / pool module is never called (its weight used functionally instead,
``F.conv1d(x, self.conv.weight)``), every field is reported undefined.
Normalization statistics (layer / group norm) are ignored for this purpose.

Tests check the shapes against the modules run one by one, parameters against
``sum(p.numel())``, FLOPs against :mod:`replearn.cnn.arithmetic`, and receptive
fields against the support of the input gradient of one output unit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["LayerRow", "layer_flops", "layer_kind", "layer_table", "product_flops"]

_KINDS: dict[str, tuple[type[nn.Module], ...]] = {
    "conv": (nn.Conv1d, nn.Conv2d, nn.Conv3d),
    "conv_transpose": (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d),
    "max_pool": (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d),
    "avg_pool": (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d),
    "adaptive_avg_pool": (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d),
    "adaptive_max_pool": (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d),
    "linear": (nn.Linear,),
    "batch_norm": (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm),
    "stat_norm": (nn.LayerNorm, nn.GroupNorm, nn.RMSNorm, nn.InstanceNorm1d, nn.InstanceNorm2d,
                  nn.InstanceNorm3d),
    "activation": (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU,
                   nn.SiLU, nn.Mish, nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish,
                   nn.Hardsigmoid, nn.Softplus, nn.Softsign, nn.Tanhshrink, nn.LogSigmoid),
    "softmax": (nn.Softmax, nn.LogSoftmax),
    "free": (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity),
    "reshape": (nn.Flatten, nn.Unflatten),
}  # fmt: skip
"""Leaf module kinds by ``torch.nn`` class (subclasses included)."""

_BY_NAME = {cls.__name__: kind for kind, classes in _KINDS.items() for cls in classes}
_BY_NAME["CausalConv1d"] = "conv"  # replearn.cnn.layers: a conv with left padding only
_BY_NAME["DropPath"] = "free"  # replearn.regularize: the identity in eval mode
_POINTWISE = {"activation", "batch_norm", "stat_norm", "free"}


def layer_kind(module: nn.Module) -> str | None:
    """The kind of a leaf module (a key of ``_KINDS``), or None if unknown.

    A ``torch.nn`` class or subclass is recognised by type; replearn's from-scratch
    drop-ins (``replearn.cnn.layers.Conv2d``, ``replearn.norm...BatchNorm2d``, ...)
    by their class name, which is torch's, and their attributes, which are too.
    """
    for kind, classes in _KINDS.items():
        if isinstance(module, classes):
            return kind
    if type(module).__module__.startswith("replearn."):
        return _BY_NAME.get(type(module).__name__)
    return None


RF = tuple[tuple[int, int], ...] | None
"""Receptive field state of a tensor: ``(r, j)`` per spatial axis; ``()`` is the model input."""


@dataclass(frozen=True)
class LayerRow:
    """One leaf module call: output shape, own parameters, receptive field and FLOPs."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    parameters: int
    receptive_field: tuple[int, ...] | None = None  # per spatial axis; None: not defined
    flops: int | None = None  # None: not counted for this module type


def _first_tensor(value: object) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (list, tuple)) and value:
        return _first_tensor(value[0])
    return None


def _per_axis(value: int | tuple[int, ...], n: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (int(value),) * n


def layer_flops(module: nn.Module, inp: torch.Tensor | None, out: torch.Tensor) -> int | None:
    """FLOPs of one call of a leaf module, by the convention of the module docstring."""
    kind, m, n = layer_kind(module), out.numel(), out.dim() - 2
    bias = m if getattr(module, "bias", None) is not None else 0
    try:
        if kind == "conv":
            k = math.prod(_per_axis(module.kernel_size, n))
            return 2 * m * (module.in_channels // module.groups) * k + bias
        if kind == "conv_transpose" and inp is not None:
            k = math.prod(_per_axis(module.kernel_size, n))
            return 2 * inp.numel() * (module.out_channels // module.groups) * k + bias
        if kind == "linear":
            return 2 * m * module.in_features + bias
        if kind in ("max_pool", "avg_pool"):
            k = math.prod(_per_axis(module.kernel_size, n))
            return m * (k - 1) if kind == "max_pool" else m * k
    except AttributeError:  # a same-named module of another shape: do not guess
        return None
    if kind in ("adaptive_avg_pool", "adaptive_max_pool") and inp is not None:
        return inp.numel() if kind == "adaptive_avg_pool" else inp.numel() - m
    if kind == "stat_norm":
        affine = [getattr(module, a, None) is not None for a in ("weight", "bias")]
        return (6 + sum(affine)) * m
    per_value = {"batch_norm": 2, "activation": 1, "softmax": 3, "free": 0, "reshape": 0}
    return per_value[kind] * m if kind in per_value else None


def _window(module: nn.Module, n: int) -> tuple[tuple[int, ...], ...] | None:
    """``(K, S, D)`` per axis of a conv / pool layer, None for any other module."""
    if layer_kind(module) not in ("conv", "max_pool", "avg_pool"):
        return None
    try:
        k = _per_axis(module.kernel_size, n)
        s = _per_axis(module.stride or module.kernel_size, n)
        return k, s, _per_axis(getattr(module, "dilation", 1), n)
    except AttributeError:
        return None


def _rf_step(module: nn.Module, state: RF, n: int) -> RF:
    """Eq. (4) of :mod:`replearn.cnn.arithmetic` for one layer, per spatial axis."""
    if state is None:
        return None
    if layer_kind(module) in _POINTWISE:
        return state
    window = _window(module, n)
    if window is None or n < 1:
        return None
    state = state or ((1, 1),) * n  # the model input: r = 1, j = 1
    if len(state) != n:
        return None
    return tuple(
        (r + d * (k - 1) * j, j * s) for (r, j), k, s, d in zip(state, *window, strict=True)
    )


def _largest(state: tuple[tuple[int, int], ...]) -> int:
    return max((r for r, _ in state), default=1)


_MM = {"mm", "addmm", "bmm", "baddbmm"}


def product_flops(op: str, args: tuple[Any, ...]) -> int:
    """FLOPs of one dispatched matrix-product op (0 for any other op).

    ``mm / addmm / bmm / baddbmm``: :math:`2mkn` per matrix of the batch; any
    ``scaled_dot_product`` attention: :math:`2LSE + 2LSE_v` per batch entry and head
    (:math:`QK^\top` and :math:`AV`; the softmax is not counted).
    """
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    if op in _MM:
        a, b = tensors[-2], tensors[-1]
        batch = a.shape[0] if a.dim() == 3 else 1
        return 2 * batch * a.shape[-2] * a.shape[-1] * b.shape[-1]
    if "scaled_dot_product" in op and len(tensors) >= 3:
        q, k, v = tensors[:3]
        batch = math.prod(q.shape[:-2])
        return 2 * batch * q.shape[-2] * k.shape[-2] * (q.shape[-1] + v.shape[-1])
    return 0


class _ProductCounter(TorchDispatchMode):
    """Adds each matrix product's FLOPs to the module on top of ``stack`` (if not a leaf)."""

    def __init__(self, stack: list[nn.Module], leaves: set[nn.Module]) -> None:
        super().__init__()
        self.stack, self.leaves = stack, leaves
        self.flops: dict[nn.Module, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        if self.stack and self.stack[-1] not in self.leaves:
            n = product_flops(func.overloadpacket.__name__, tuple(args))
            if n:
                owner = self.stack[-1]
                self.flops[owner] = self.flops.get(owner, 0) + n
        return func(*args, **(kwargs or {}))


@torch.no_grad()
def layer_table(
    model: nn.Module,
    inputs: tuple[torch.Tensor, ...],
    call: Callable[[], object] | None = None,
) -> tuple[list[LayerRow], int]:
    """Run ``model(*inputs)`` once (eval mode) and describe every leaf module call.

    Args:
        model: The module whose layers are described.
        inputs: Its inputs (their receptive field is 1).
        call: Runs the forward pass instead of ``model(*inputs)`` (e.g. a task's
            ``training_step(batch)``, whose tensors are ``inputs``).

    Returns:
        The rows in call order (plus one row per module issuing matrix products outside
        its leaf modules, see the module docstring) and the total parameter count.
    """
    rows: list[LayerRow] = []
    names = {module: name for name, module in model.named_modules()}
    states: dict[int, tuple[torch.Tensor, RF]] = {}  # id -> (tensor kept alive, state)
    deepest: list[RF] = [()]  # fallback for inputs no leaf module produced

    def record(tensor: torch.Tensor, state: RF) -> None:
        states[id(tensor)] = (tensor, state)
        if deepest[0] is not None and (state is None or _largest(state) >= _largest(deepest[0])):
            deepest[0] = state  # None is sticky: the largest field of all

    def hook(module: nn.Module, args: tuple[object, ...], output: object) -> None:
        inp, out = _first_tensor(args), _first_tensor(output)
        if out is None:
            return
        known = states.get(id(inp)) if inp is not None else None
        state_in = known[1] if known is not None and known[0] is inp else deepest[0]
        state = _rf_step(module, state_in, out.dim() - 2)
        record(out, state)
        own = sum(p.numel() for p in module.parameters(recurse=False))
        rf = None if state is None else tuple(r for r, _ in state) or (1,)
        flops = layer_flops(module, inp, out)
        rows.append(
            LayerRow(names[module], type(module).__name__, tuple(out.shape), own, rf, flops)
        )

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    handles = [module.register_forward_hook(hook) for module in leaves]
    stack: list[nn.Module] = []
    counter = _ProductCounter(stack, set(leaves))

    def enter(module: nn.Module, args: object) -> None:
        stack.append(module)

    def leave(module: nn.Module, args: object, output: object) -> None:
        stack.pop()
        if module in counter.flops:
            name = names.get(module, "")
            kind = f"{type(module).__name__}: matrix products"
            rows.append(LayerRow(name, kind, (), 0, None, counter.flops.pop(module)))

    for module in model.modules():
        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave))
    was_training = model.training
    model.eval()
    try:
        for x in inputs:
            if isinstance(x, torch.Tensor):
                record(x, ())  # r = 1 along every axis
        with counter:
            if call is None:
                model(*inputs)
            else:
                call()
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    called = {row.name for row in rows}
    if any(_window(m, 1) is not None and names[m] not in called for m in leaves):
        # a conv / pool module was bypassed (its weight used functionally): fields unknown
        rows = [replace(row, receptive_field=None) for row in rows]
    return rows, sum(p.numel() for p in model.parameters())
