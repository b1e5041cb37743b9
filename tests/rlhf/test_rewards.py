"""Rule-based rewards: exact arithmetic accuracy and the think/answer format."""

from __future__ import annotations

import pytest

from replearn.rlhf.rewards import accuracy_reward, format_reward, parse_answer


@pytest.mark.parametrize(
    ("response", "answer"),
    [
        ("81\n", 81),
        ("81", 81),
        ("-7\nxyz", -7),
        ("<think>3+8=11</think><answer>81</answer>\n", 81),
        ("<think></think><answer> 12 </answer>", 12),
        ("8 1\n", None),
        ("81x\n", None),
        ("<think>..</think><answer>8a</answer>\n", None),
        ("<think>..<answer>81</answer>\n", None),
        ("\n81", None),
        ("", None),
    ],
)
def test_parse_answer(response, answer):
    assert parse_answer(response) == answer


def test_accuracy_and_format_rewards():
    responses = ["81\n", "80\n", "<think>a</think><answer>81</answer>\n", "<answer>81</answer>\n"]
    assert accuracy_reward(responses, [81, 81, 81, 81]).tolist() == [1.0, 0.0, 1.0, 0.0]
    assert format_reward(responses).tolist() == [0.0, 0.0, 1.0, 0.0]
    with pytest.raises(ValueError):
        accuracy_reward(responses, [1])
