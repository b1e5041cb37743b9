r"""Supervised fine-tuning (SFT): the log-likelihood of the response given the instruction.

Paper: L. Ouyang, J. Wu, X. Jiang et al., "Training language models to follow instructions with
human feedback" (InstructGPT), NeurIPS 2022, arXiv:2203.02155, Sec. 3.5 (SFT step).

A sequence :math:`s = (i, r)` is an instruction (prompt) :math:`i` followed by a response
:math:`r = r_1 \dots r_m`. Only the response is the model's to predict:

.. math::

    \log p_\theta(r \mid i) = \sum_{t=1}^{m} \log p_\theta(r_t \mid i, r_{<t})   \qquad (1)

    \mathcal L_{SFT}(\theta) = -\,\mathbb E_{(i, r)}\Big[
        \frac{1}{\sum_{b,t} M_{bt}} \sum_{b,t} M_{bt} \log p_\theta(s_{b,t+1} \mid s_{b,\le t})
    \Big]                                                                          \qquad (2)

with the response mask :math:`M_{bt} = 1` when target :math:`s_{b,t+1}` is a response token
(not the prompt, not padding after the end-of-sequence token). Eq. (2) averages over response
tokens (as TRL's ``SFTTrainer`` with ``completion_only_loss``); ``reduction="sequence"`` gives
the per-sequence sum of Eq. (1) averaged over sequences instead.

Conventions used across :mod:`replearn.rlhf`: a batch of sequences ``seq`` (B, T) is fed to the
model; ``logits[:, t]`` predicts ``seq[:, t + 1]``, so per-token quantities live on the T - 1
*targets* ``seq[:, 1:]`` and masks have shape (B, T - 1).

Tests: :func:`sft_loss` recomputed token by token with a Python loop over positions (prompt
tokens and padding contribute nothing, changing them leaves the loss and gradient unchanged);
:func:`token_logprobs` against ``F.cross_entropy``.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

__all__ = ["response_mask", "sft_loss", "token_logprobs"]


def token_logprobs(logits: Tensor, targets: Tensor) -> Tensor:
    r""":math:`\log p_\theta(s_{t+1} \mid s_{\le t})` of each target token.

    Args:
        logits: next-token logits ``model(seq)[:, :-1]``.
        targets: the tokens they predict, ``seq[:, 1:]``.

    Shape:
        logits (B, T, V), targets (B, T) int64 -> (B, T), in the dtype of ``logits``.
    """
    if logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"logits {tuple(logits.shape)} do not match targets {tuple(targets.shape)}"
        )
    logp = torch.log_softmax(logits, dim=-1)  # (B, T, V)
    return logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T)


def response_mask(seq: Tensor, prompt_len: int | Tensor, *, eos_id: int | None = None) -> Tensor:
    r"""The mask :math:`M` of Eq. (2) on the targets ``seq[:, 1:]``.

    A target at position ``t + 1`` is counted when ``t + 1 >= prompt_len`` (a response token)
    and it is not past the first ``eos_id`` of the response (the end token itself counts: the
    model must learn to stop).

    Args:
        seq: prompt followed by response, (B, T).
        prompt_len: prompt length, one int or one per row (B,).
        eos_id: end-of-sequence token (None: every response position counts).

    Shape:
        seq (B, T) -> (B, T - 1) float.
    """
    b, t = seq.shape
    pos = torch.arange(1, t, device=seq.device).expand(b, t - 1)  # position of each target
    start = torch.as_tensor(prompt_len, device=seq.device).reshape(-1, 1)  # (B or 1, 1)
    mask = pos >= start
    if eos_id is not None:
        is_eos = (seq[:, 1:] == eos_id) & mask
        # tokens strictly after the first end token of the response are padding
        after = (torch.cumsum(is_eos.long(), dim=1) - is_eos.long()) > 0
        mask = mask & ~after
    return mask.to(torch.get_default_dtype())


def sft_loss(
    logits: Tensor,
    targets: Tensor,
    mask: Tensor,
    *,
    reduction: Literal["token", "sequence"] = "token",
) -> Tensor:
    r"""Eq. (2): negative log-likelihood of the response tokens only.

    Args:
        logits: ``model(seq)[:, :-1]``.
        targets: ``seq[:, 1:]``.
        mask: :func:`response_mask` (1 on response targets, 0 on prompt and padding).
        reduction: ``"token"`` (mean over response tokens) or ``"sequence"`` (sum over each
            response, mean over sequences: Eq. 1).

    Shape:
        logits (B, T, V), targets (B, T), mask (B, T) -> () nats.
    """
    if reduction not in ("token", "sequence"):
        raise ValueError(f"reduction must be 'token' or 'sequence', got {reduction!r}")
    if mask.shape != targets.shape:
        raise ValueError(f"mask {tuple(mask.shape)} does not match targets {tuple(targets.shape)}")
    logp = token_logprobs(logits, targets) * mask.to(logits.dtype)  # (B, T)
    if reduction == "token":
        return -logp.sum() / mask.sum().clamp_min(1)
    return -logp.sum(dim=1).mean()
