import time

import pytest

from rewards.extract import (
    after_answer_phrase,
    clean_answer,
    completion_text,
    extract_answer,
    gold_text,
    last_answer_block,
    last_boxed,
)


@pytest.mark.parametrize(
    "completion",
    [
        "<think>x</think><answer>7</answer>",
        [{"role": "assistant", "content": "<think>x</think><answer>7</answer>"}],
        [{"role": "assistant", "content": [{"type": "text", "text": "<think>x</think>"}, {"type": "text", "text": "<answer>7</answer>"}]}],
        [{"role": "user", "content": "ignored"}, {"role": "assistant", "content": "<think>x</think><answer>7</answer>"}],
    ],
)
def test_completion_text_takes_strings_and_messages(completion):
    assert completion_text(completion) == "<think>x</think><answer>7</answer>"


def test_completion_text_rejects_other_types():
    with pytest.raises(TypeError, match="string or a list of chat messages"):
        completion_text(42)


def test_completion_text_of_a_chat_prompt_keeps_every_role_when_asked():
    prompt = [{"role": "system", "content": "Think first. "}, {"role": "user", "content": "2+2?"},
              {"role": "assistant", "content": "<think>"}]
    assert completion_text(prompt) == "<think>"
    assert completion_text(prompt, roles=None) == "Think first. 2+2?<think>"
    assert completion_text(prompt, roles=("user",)) == "2+2?"


def test_behaviour_and_rewards_read_a_chat_completion_alike():
    from rl_reasoner.behaviour import batch_metrics

    tool_call = [{"role": "assistant", "content": "Wait, "}, {"role": "tool", "content": "wait wait"},
                 {"role": "assistant", "content": "let me check."}]
    assert completion_text(tool_call) == "Wait, let me check."
    metrics = batch_metrics([tool_call], num_tokens=[5], truncated=[False], correct=[None], formatted=[None],
                            markers={"reflection": ["wait"]})
    assert metrics["behaviour/reflection_per_1k"] == 200.0  # one marker: the tool's words are not the model's


def test_nested_boxed():
    assert last_boxed(r"\boxed{\frac{\sqrt{2}}{\left\{2\right\}}}") == r"\frac{\sqrt{2}}{\left\{2\right\}}"
    assert last_boxed(r"\boxed{a} then \boxed{\{1, \{2\}\}}") == r"\{1, \{2\}\}"
    assert last_boxed(r"\fbox{3}") == "3"
    assert last_boxed("no box") is None


def test_truncated_boxed_gives_no_answer():
    assert last_boxed(r"\boxed{1} and then \boxed{\frac{1}{2") is None


def test_box_inside_a_box_is_not_top_level():
    assert last_boxed(r"\boxed{x = \boxed{2} + 1}") == r"x = \boxed{2} + 1"


def test_only_the_final_answer_block_counts():
    text = "<answer>3</answer> wait, actually <answer>4</answer>"
    assert last_answer_block(text) == "4"
    assert extract_answer(text) == "4"


def test_unclosed_final_answer_block_is_no_answer_even_after_a_closed_one():
    assert extract_answer("<answer>3</answer> hmm <answer>4") is None


def test_answer_block_wins_over_boxed_outside_it():
    assert extract_answer(r"\boxed{5} <answer>6</answer>") == "6"


def test_boxed_or_phrase_inside_the_answer_block_narrows_it():
    assert extract_answer(r"<answer>so \boxed{\frac{1}{2}}</answer>") == r"\frac{1}{2}"
    assert extract_answer("<answer>The answer is 12.</answer>") == "12"


def test_intermediate_boxed_is_ignored():
    assert extract_answer(r"First \boxed{2}, then doubling gives \boxed{4}.") == "4"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Therefore, the answer is 42.", "42"),
        ("The final answer is: $\\frac{3}{4}$", "$\\frac{3}{4}$"),
        ("the answer is 3.5 because of x", "3.5 because of x"),
        ("The answer is 7\nand more text", "7"),
        ("So the answer is 1. No wait, the answer is 2.", "2"),
    ],
)
def test_the_answer_is(text, expected):
    assert after_answer_phrase(text) == expected


def test_last_number_only_when_configured():
    text = "We get 3 then 5 and finally 12 apples"
    assert extract_answer(text) is None
    assert extract_answer(text, fallback_last_number=True) == "12"
    # with an answer block, the fallback is never used
    assert extract_answer("12 <answer></answer>", fallback_last_number=True) is None


def test_clean_answer_strips_delimiters_and_units():
    assert clean_answer(r"\(\frac{1}{2}\)") == r"\frac{1}{2}"
    assert clean_answer("$$x^2$$.") == "x^2"
    assert clean_answer("18 dollars") == "18"
    assert clean_answer("3 and a half") == "3 and a half"  # words that change the value stay
    assert clean_answer("2 pi") == "2 pi"


@pytest.mark.parametrize(
    ("gold", "expected"),
    [(5, "5"), (0.25, "0.25"), ("#### 1,200", "1,200"), (r"Thus \boxed{\frac{1}{2}}.", r"\frac{1}{2}"), ("", None), (None, None)],
)
def test_gold_text(gold, expected):
    assert gold_text(gold) == expected


def test_extraction_is_linear_on_megabyte_inputs():
    hostile = [
        "\\boxed{" * 200_000,
        "{" * 500_000 + "\\boxed{1}",
        "<answer>" * 100_000 + "1",
        "the answer is " * 70_000,
        "1," * 500_000,
        "$" * 1_000_000,
    ]
    for text in hostile:
        start = time.process_time()
        extract_answer(text, fallback_last_number=True)
        assert time.process_time() - start < 10.0, text[:30]  # CPU time of this process, so load elsewhere does not count: linear ~0.2 s, quadratic hours
