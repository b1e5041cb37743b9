"""Built-in tasks: arithmetic prompts/targets/checker, sentiment fixture and annotator."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from replearn.rlhf.sft import response_mask
from replearn.rlhf.tasks import ArithmeticTask, BagOfWordsClassifier, SentimentTask


@pytest.mark.parametrize("think", [False, True])
def test_arithmetic_sft_examples_round_trip(think):
    task = ArithmeticTask(ndigits=2, think=think)
    g = torch.Generator().manual_seed(0)
    seq = task.sft_examples(64, g)
    responses = task.decode(seq)
    prompts = [task.tokenizer.decode(r[: task.prompt_len]) for r in seq.tolist()]
    answers = [int(p[3:5]) + int(p[6:8]) for p in prompts]  # "Q: ab+cd= A: "
    assert task.accuracy(responses, answers).tolist() == [1.0] * 64
    assert task.reward(responses, answers).tolist() == [1.5 if think else 1.0] * 64
    assert seq.shape[1] - task.prompt_len <= task.max_response_len
    mask = response_mask(seq, task.prompt_len, eos_id=task.eos_id)
    assert mask.sum(1).tolist() == [len(r) for r in responses]  # answer digits + end token


def test_arithmetic_prompts_and_scratchpad():
    task = ArithmeticTask(ndigits=2, think=True)
    assert task.scratchpad(23, 58) == "3+8=11,2+5+1=8"
    assert task.response(99, 99) == "<think>9+9=18,9+9+1=19</think><answer>198</answer>\n"
    pb = task.prompts(5, torch.Generator().manual_seed(1))
    assert pb.ids.shape == (5, task.prompt_len)
    for row, ans in zip(pb.ids.tolist(), pb.info, strict=True):
        text = task.tokenizer.decode(row)
        assert int(text[3:5]) + int(text[6:8]) == ans
    rep = pb.repeat(3)
    assert rep.ids.shape == (15, task.prompt_len) and rep.info[:3] == [pb.info[0]] * 3
    assert task.accuracy(["12\n", "13"], [12, 12]).tolist() == [1.0, 0.0]
    with pytest.raises(ValueError):
        ArithmeticTask(ndigits=0)


def test_sentiment_fixture_classifier_and_annotator():
    task = SentimentTask()
    g = torch.Generator().manual_seed(0)
    texts, labels = task.sentences(200, g)
    assert all(t.startswith("the ") and t.endswith(".") for t in texts)
    assert set(labels) == {-1, 0, 1}
    clf = BagOfWordsClassifier(task.classifier_vocab())
    with torch.no_grad():  # a hand-set classifier: +1 per positive word, -1 per negative word
        for w in ("great", "fun"):
            clf.linear.weight[0, clf.index[w]] = 1.0
        clf.linear.weight[0, clf.index["dull"]] = -1.0
    u = clf.utility(["the movie was great fun.", "the movie was dull.", "the movie was."])
    assert u.tolist() == [2.0, -1.0, 0.0]
    pb = task.prompts(4, g)
    assert pb.ids.shape == (4, 14) and all(len(p) == 14 for p in pb.info)
    # Bradley-Terry noise: the preference frequency matches sigma((u_a - u_b) / T)
    ua, ub = torch.full((20_000,), 1.0), torch.zeros(20_000)
    freq = task.preferences(ua, ub, g).float().mean()
    assert float(freq) == pytest.approx(float(torch.sigmoid(torch.tensor(1.0))), abs=0.015)
    with pytest.raises(ValueError):
        SentimentTask(data="imdb")  # type: ignore[arg-type]


@pytest.mark.skipif(
    not (os.environ.get("REPLEARN_DATA") and Path(os.environ["REPLEARN_DATA"], "sst2").is_dir()),
    reason="needs sst2 in $REPLEARN_DATA",
)
def test_sentiment_on_sst2():
    task = SentimentTask(data="sst2", prompt_chars=12)
    g = torch.Generator().manual_seed(0)
    texts, labels = task.sentences(50, g)
    assert set(labels) <= {0, 1} and all(len(t) > 12 and t == t.lower() for t in texts)
    pb = task.prompts(4, g)
    assert pb.ids.shape == (4, 12)
    assert len(task.classifier_vocab()) > 1000
