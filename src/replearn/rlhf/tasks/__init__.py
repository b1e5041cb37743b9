"""Built-in RLHF tasks: synthetic arithmetic (exact checker) and sentiment-steered continuation."""

from replearn.rlhf.tasks.arithmetic import ArithmeticTask
from replearn.rlhf.tasks.common import PromptBatch, decode_responses
from replearn.rlhf.tasks.sentiment import BagOfWordsClassifier, SentimentTask

__all__ = [
    "ArithmeticTask", "BagOfWordsClassifier", "PromptBatch", "SentimentTask", "decode_responses",
]  # fmt: skip
