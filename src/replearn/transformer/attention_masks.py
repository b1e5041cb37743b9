r"""Input and mask handling of :class:`~replearn.transformer.attention.MultiHeadAttention`.

``torch.nn.MultiheadAttention`` takes its masks in several forms; all of them become one
*additive* mask :math:`M` of Eq. (1) of :mod:`~replearn.transformer.attention`
(:math:`\mathrm{softmax}(QK^\top/\sqrt{d_k} + M)`), 0 where a query may attend a key:

- ``attn_mask`` (L, S), or (B·h, L, S) per batch element and head ((h, L, S) for unbatched input);
  boolean ``True`` = *masked out* (:math:`-\infty`), or float, added as is;
- ``key_padding_mask`` (B, S) ((S,) unbatched); boolean ``True`` = padding, or float, added;
- the extra keys of ``add_bias_kv`` / ``add_zero_attn`` are never masked (a 0 column each).

:func:`causal_mask` is the boolean decoder mask of Sec. 3.2.3 (query ``i`` sees keys
``j <= i + L_k - L_q``) and :func:`to_additive_mask` turns Eq. (1)'s boolean masks (``True`` = may
attend) into 0 / :math:`-\infty`; both are re-exported by :mod:`~replearn.transformer.attention`.
:func:`check_mha_inputs` raises where torch raises (torch's ``_mha_shape_check`` and its mask
shape checks), with :class:`AttentionInputError`, an ``AssertionError`` and a ``RuntimeError`` as
torch's are, and a ``ValueError`` as replearn's were. :func:`merged_mask` builds :math:`M`.

Tests: tests/dropins/test_attention_dropins.py (every mask form against
``torch.nn.MultiheadAttention``; the errors against torch's).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "AttentionInputError",
    "causal_mask",
    "check_mha_arguments",
    "check_mha_inputs",
    "merged_mask",
    "to_additive_mask",
]


def causal_mask(lq: int, lk: int, device: torch.device | None = None) -> Tensor:
    """Boolean mask, ``True`` where query ``i`` may attend key ``j``: ``j <= i + lk - lq``.

    Shape:
        -> (lq, lk) bool.
    """
    i = torch.arange(lq, device=device)[:, None]
    j = torch.arange(lk, device=device)[None, :]
    return j <= i + (lk - lq)


def to_additive_mask(mask: Tensor | None, dtype: torch.dtype) -> Tensor | None:
    r"""A boolean mask (``True`` = may attend) as 0 / :math:`-\infty`; floats pass through.

    Shape:
        mask: (*) -> (*) of ``dtype``.
    """
    if mask is None or mask.is_floating_point():
        return mask if mask is None else mask.to(dtype)
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, -math.inf)


class AttentionInputError(ValueError, AssertionError, RuntimeError):
    """A query, key, value or mask of the wrong shape or dtype (torch: ``AssertionError`` or
    ``RuntimeError``; replearn: ``ValueError``)."""


def check_mha_arguments(embed_dim: int, num_heads: int, dropout: float, temperature: float) -> None:
    """Raise ``ValueError`` as torch does for ``embed_dim``/``num_heads`` (torch asserts the
    divisibility; this ``ValueError`` is also an ``AssertionError``), and for ``dropout`` outside
    [0, 1) (torch takes 1) or a non-positive ``temperature``."""
    if embed_dim <= 0 or num_heads <= 0:
        raise ValueError(
            f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} "
            f"and num_heads={num_heads} instead"
        )
    if embed_dim % num_heads:
        raise AttentionInputError(
            f"embed_dim must be divisible by num_heads (a multiple), got {embed_dim}, {num_heads}"
        )
    if not 0.0 <= dropout < 1.0 or temperature <= 0:
        raise ValueError(f"need 0 <= dropout < 1 and temperature > 0, got {dropout}, {temperature}")


def _mask_dtype(name: str, mask: Tensor | None) -> None:
    if mask is not None and mask.dtype != torch.bool and not mask.is_floating_point():
        raise AttentionInputError(f"only bool and floating types of {name} are supported")


def check_mha_inputs(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    key_padding_mask: Tensor | None,
    attn_mask: Tensor | None,
    num_heads: int,
    *,
    embed_dim: int | None = None,
) -> bool:
    """Raise as torch does for these shapes; return whether the input is batched.

    Shape:
        batched: query (·, ·, E), key, value 3-D, key_padding_mask 2-D, attn_mask 2-D or 3-D;
        unbatched: query (L, E), key (S, kdim), value (S, vdim), key_padding_mask (S,),
        attn_mask (L, S) or (h, L, S).
    """
    if query.dim() not in (2, 3):
        raise AttentionInputError(
            f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D"
        )
    batched = query.dim() == 3
    kind = "batched (3-D)" if batched else "unbatched (2-D)"
    if key.dim() != query.dim() or value.dim() != query.dim():
        raise AttentionInputError(
            f"For {kind} `query`, expected `key` and `value` to be {query.dim()}-D but found "
            f"{key.dim()}-D and {value.dim()}-D tensors respectively"
        )
    if key_padding_mask is not None and key_padding_mask.dim() != query.dim() - 1:
        raise AttentionInputError(
            f"For {kind} `query`, expected `key_padding_mask` to be `None` or "
            f"{query.dim() - 1}-D but found {key_padding_mask.dim()}-D tensor instead"
        )
    if attn_mask is not None and attn_mask.dim() not in (2, 3):
        raise AttentionInputError(
            f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found "
            f"{attn_mask.dim()}-D tensor instead"
        )
    if not batched and attn_mask is not None and attn_mask.dim() == 3:
        want = (num_heads, query.shape[0], key.shape[0])
        if tuple(attn_mask.shape) != want:
            raise AttentionInputError(
                f"Expected `attn_mask` shape to be {want}, got {attn_mask.shape}"
            )
    if key.shape[:-1] != value.shape[:-1]:
        raise AttentionInputError(
            f"key shape {tuple(key.shape)} does not match value shape {tuple(value.shape)}"
        )
    if embed_dim is not None and query.shape[-1] != embed_dim:
        raise AttentionInputError(
            f"was expecting embedding dimension of {embed_dim}, but got {query.shape[-1]}"
        )
    _mask_dtype("attn_mask", attn_mask)
    _mask_dtype("key_padding_mask", key_padding_mask)
    return batched


def _additive(mask: Tensor, dtype: torch.dtype) -> Tensor:
    """torch's convention (``True`` = masked out) as 0 / -inf; a float mask as it is."""
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(
            mask, -torch.inf
        )
    return mask.to(dtype)


def merged_mask(
    attn_mask: Tensor | None,
    key_padding_mask: Tensor | None,
    *,
    batch: int,
    heads: int,
    lq: int,
    lk: int,
    extra_keys: int,
    dtype: torch.dtype,
) -> Tensor | None:
    """The additive mask M of the attention, its shape checked as torch checks it.

    ``lk`` counts the keys the masks describe; ``extra_keys`` keys appended after them
    (``add_bias_kv``, ``add_zero_attn``) get a 0 (unmasked) column.

    Shape:
        attn_mask: (lq, lk) or (batch·heads, lq, lk); key_padding_mask: (batch, lk)
        -> (batch or 1, heads or 1, lq, lk + extra_keys), or None without masks.
    """
    mask = None
    if attn_mask is not None:
        want = (lq, lk) if attn_mask.dim() == 2 else (batch * heads, lq, lk)
        if tuple(attn_mask.shape) != want:
            raise AttentionInputError(
                f"The shape of the {attn_mask.dim()}D attn_mask is {tuple(attn_mask.shape)}, "
                f"but should be {want}."
            )
        mask = _additive(attn_mask, dtype)
        mask = mask.view(batch, heads, lq, lk) if mask.dim() == 3 else mask  # (·, ·, L, S)
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (batch, lk):
            raise AttentionInputError(
                f"expecting key_padding_mask shape of {(batch, lk)}, but got "
                f"{tuple(key_padding_mask.shape)}"
            )
        kp = _additive(key_padding_mask, dtype)[:, None, None, :]  # (B, 1, 1, S)
        mask = kp if mask is None else mask + kp
    if mask is not None and extra_keys:
        mask = F.pad(mask, (0, extra_keys))  # the appended keys are never masked
    return mask
