r"""Synthetic arithmetic for SFT and GRPO: ``Q: 23+58= A: 81`` with an exact checker.

Problems :math:`a + b` with operands of ``ndigits`` digits (uniform on
:math:`[10^{d-1}, 10^d)`), so every prompt has the same length and a batch generates without
attention masks. Responses end with ``"\n"``, the end-of-response token.

Formats: plain, ``Q: 23+58= A: 81\n``; and with ``think=True`` the DeepSeek-R1 format
``Q: 23+58= A: <think>3+8=11,2+5+1=8</think><answer>81</answer>\n``, whose scratchpad adds the
columns from the right with their carries. Rewards are rule-based
(:mod:`replearn.rlhf.rewards`): accuracy, plus the format reward in the think format.

The pretraining text (:meth:`ArithmeticTask.pretraining_text`) writes sums without the
question/answer frame (``23+58=81\n``): the pretrained model knows some arithmetic, SFT teaches
the format, GRPO improves accuracy.
"""

from __future__ import annotations

import torch
from torch import Tensor

from replearn.rlhf.rewards import accuracy_reward, format_reward
from replearn.rlhf.tasks.common import PromptBatch, decode_responses, pad_right
from replearn.transformer.tokenizers import CharTokenizer

__all__ = ["ArithmeticTask"]

_ALPHABET = "0123456789+=:QA ,\n<>/thinkaswer"


class ArithmeticTask:
    """Addition problems, their SFT targets and their rule-based rewards.

    Args:
        ndigits: digits per operand.
        think: use the ``<think>..</think><answer>..</answer>`` format.
        format_weight: weight of the format reward added to accuracy (think format only).
    """

    eos = "\n"

    def __init__(self, *, ndigits: int = 2, think: bool = False, format_weight: float = 0.5):
        if not 1 <= ndigits <= 6:
            raise ValueError(f"ndigits must be in 1..6, got {ndigits}")
        self.ndigits, self.think, self.format_weight = ndigits, think, format_weight
        self.tokenizer = CharTokenizer(_ALPHABET)
        self.eos_id = self.tokenizer.encode(self.eos)[0]
        self.prompt_len = len(self.prompt(10 ** (ndigits - 1), 10 ** (ndigits - 1)))
        top = 10**ndigits - 1
        self.max_response_len = len(self.response(top, top)) + 2  # room for a longer wrong answer

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    def prompt(self, a: int, b: int) -> str:
        return f"Q: {a}+{b}= A: "

    def scratchpad(self, a: int, b: int) -> str:
        """Column sums from the right with carries: ``3+8=11,2+5+1=8`` for 23 + 58."""
        steps, carry = [], 0
        for i in range(self.ndigits):
            x, y = a // 10**i % 10, b // 10**i % 10
            s = x + y + carry
            steps.append(f"{x}+{y}" + (f"+{carry}" if carry else "") + f"={s}")
            carry = s // 10
        return ",".join(steps)

    def response(self, a: int, b: int) -> str:
        if self.think:
            return f"<think>{self.scratchpad(a, b)}</think><answer>{a + b}</answer>{self.eos}"
        return f"{a + b}{self.eos}"

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """``n`` problems: operands a, b, each (n,) int64."""
        lo, hi = 10 ** (self.ndigits - 1), 10**self.ndigits
        return tuple(torch.randint(lo, hi, (2, n), generator=generator).unbind(0))  # type: ignore[return-value]

    def prompts(self, n: int, generator: torch.Generator) -> PromptBatch:
        """``n`` prompts; ``info`` holds the exact answers."""
        a, b = self.sample(n, generator)
        ids = [
            self.tokenizer.encode(self.prompt(x, y))
            for x, y in zip(a.tolist(), b.tolist(), strict=True)
        ]
        return PromptBatch(torch.tensor(ids), (a + b).tolist())

    def sft_examples(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` prompt + response sequences, padded with the end token (N, P + R)."""
        a, b = self.sample(n, generator)
        rows = [
            self.tokenizer.encode(self.prompt(x, y) + self.response(x, y))
            for x, y in zip(a.tolist(), b.tolist(), strict=True)
        ]
        return pad_right(rows, self.eos_id)

    def pretraining_text(self, n: int, generator: torch.Generator) -> str:
        """``n`` sums written as ``23+58=81\\n`` (no question/answer frame)."""
        a, b = self.sample(n, generator)
        return "".join(f"{x}+{y}={x + y}\n" for x, y in zip(a.tolist(), b.tolist(), strict=True))

    def decode(self, seq: Tensor) -> list[str]:
        """The responses of generated sequences (prompt + response)."""
        return decode_responses(self.tokenizer, seq, self.prompt_len, self.eos)

    def accuracy(self, responses: list[str], answers: list[int]) -> Tensor:
        return accuracy_reward(responses, answers, eos=self.eos)

    def reward(self, responses: list[str], answers: list[int]) -> Tensor:
        """Accuracy, plus ``format_weight`` times the format reward in the think format."""
        r = self.accuracy(responses, answers)
        if self.think:
            r = r + self.format_weight * format_reward(responses, eos=self.eos)
        return r
