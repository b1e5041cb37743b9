r"""Rule-based rewards (DeepSeek-R1-Zero): answer accuracy checked exactly, and output format.

Paper: DeepSeek-AI, "DeepSeek-R1: incentivizing reasoning capability in LLMs via reinforcement
learning", 2025, arXiv:2501.12948, Sec. 2.2.2 (rule-based rewards: accuracy and format; no neural
reward model, to avoid reward hacking).

For a response :math:`o` to a question with the exact answer :math:`a^*`:

.. math::

    r_{acc}(o) = [\mathrm{answer}(o) = a^*]                                        \qquad (1)

    r_{fmt}(o) = [o \text{ matches } \texttt{<think>}\,\cdot\,\texttt{</think>}
                 \texttt{<answer>}\,\cdot\,\texttt{</answer>}]                        \qquad (2)

:math:`\mathrm{answer}(o)` is the integer inside ``<answer>...</answer>`` when the response uses
the think format, else the integer the response starts with (``"81"`` of ``"81\n"``); anything
else is no answer (reward 0). The end-of-response token is stripped before parsing.

Tests: Eqs. (1)-(2) on hand-written responses (correct, wrong, malformed, signs, extra text).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["THINK_FORMAT", "accuracy_reward", "format_reward", "parse_answer"]

THINK_FORMAT = re.compile(r"^<think>(.*?)</think><answer>(.*?)</answer>$", re.DOTALL)
"""Eq. (2): the whole response is a think block followed by an answer block."""

_LEADING_INT = re.compile(r"^\s*(-?\d+)(?!\d)")


def parse_answer(response: str, *, eos: str = "\n") -> int | None:
    """The integer answer of a response (None when there is none).

    ``<answer>N</answer>`` inside the think format, else a leading integer.
    """
    text = response.split(eos, 1)[0] if eos else response
    m = THINK_FORMAT.match(text)
    if m is not None:
        inner = m.group(2).strip()
        return int(inner) if re.fullmatch(r"-?\d+", inner) else None
    if text.startswith("<"):
        return None
    lead = _LEADING_INT.match(text)
    return int(lead.group(1)) if lead and lead.end() == len(text.rstrip()) else None


def accuracy_reward(responses: Sequence[str], answers: Sequence[int], *, eos: str = "\n") -> Tensor:
    """Eq. (1): 1.0 where the parsed answer equals the exact one, else 0.0.

    Shape:
        N responses, N answers -> (N,) float.
    """
    if len(responses) != len(answers):
        raise ValueError(f"{len(responses)} responses but {len(answers)} answers")
    return torch.tensor(
        [float(parse_answer(r, eos=eos) == a) for r, a in zip(responses, answers, strict=True)]
    )


def format_reward(responses: Sequence[str], *, eos: str = "\n") -> Tensor:
    """Eq. (2): 1.0 where the response (up to ``eos``) is ``<think>..</think><answer>..</answer>``.

    Shape:
        N responses -> (N,) float.
    """
    return torch.tensor(
        [float(THINK_FORMAT.match(r.split(eos, 1)[0] if eos else r) is not None) for r in responses]
    )
