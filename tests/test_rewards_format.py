import pytest

from rewards.format import check_format, format_reward


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<think>2 + 2 = 4</think>\n<answer>4</answer>", "ok"),
        ("  <think>\nreasoning\n</think> <answer> 4 </answer>\n", "ok"),
        # format hacks
        ("<think>a</think><answer>3</answer><answer>4</answer>", "multiple_answer"),
        ("<think>a</think><answer>3</answer> and also 4", "text_after_answer"),
        ("<think></think><answer>4</answer>", "empty_think"),
        ("<think>\n  \n</think><answer>4</answer>", "empty_think"),
        ("<think>a</think><answer> </answer>", "empty_answer"),
        ("<think>a <answer>4</answer></think>", "tags_out_of_order"),
        ("<think>a</think><think>b</think><answer>4</answer>", "multiple_think"),
        ("Sure! <think>a</think><answer>4</answer>", "text_before_think"),
        ("<think>a</think> so: <answer>4</answer>", "text_between_blocks"),
        ("<answer>4</answer>", "missing_think"),
        ("<think>a</think> 4", "missing_answer"),
        ("<think>a</think><answer>4", "missing_answer"),
        ("4", "missing_think"),
    ],
)
def test_check_format(text, reason):
    assert check_format(text) == reason


def test_prefilled_think():
    assert check_format("reasoning</think><answer>4</answer>", prefilled_think=True) == "ok"
    # without the param, a completion that starts inside the think block has no opening tag
    assert check_format("reasoning</think><answer>4</answer>") == "missing_think"
    # with it, opening another think block is a second one
    assert check_format("<think>reasoning</think><answer>4</answer>", prefilled_think=True) == "multiple_think"
    assert check_format(" </think><answer>4</answer>", prefilled_think=True) == "empty_think"


def test_strict_by_default_and_partial_credit_per_well_formed_block():
    completions = [
        "<think>a</think><answer>4</answer>",  # well-formed
        "<think>a</think><answer>4</answer> extra",  # both blocks right, text after them
        "<think>a</think> 4",  # a think block only
        "a <answer>4</answer>",  # an answer block only
        "4",  # none
    ]
    assert format_reward(completions) == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert format_reward(completions, partial=True) == [1.0, 0.5, 0.25, 0.25, 0.0]


def test_partial_credit_goes_to_blocks_not_to_copied_tags():
    """The hack the embedded default found with per-tag credit: copy the instruction's tag sentence."""
    copied = " 5 + 1 = 6. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags"
    assert format_reward([copied], prefilled_think=True, partial=True) == [0.0]
    # empty blocks, blocks out of order and a second <think> after the prefilled one earn nothing
    assert format_reward(["<think> </think><answer> </answer>"], partial=True) == [0.0]
    assert format_reward(["<answer>6</answer> a</think>"], prefilled_think=True, partial=True) == [0.25]
    # a second <think> spoils the think block; the answer block still counts
    assert format_reward(["<think>a</think><answer>6</answer>"], prefilled_think=True, partial=True) == [0.25]
    # an answer block counts only after the think block it follows
    assert format_reward(["5 + 1 = 6</think>\n<answer> 6 </answer> ok"], prefilled_think=True, partial=True) == [0.5]


def test_repeated_tags_earn_no_partial_credit():
    assert format_reward(["<answer>1</answer><answer>2</answer>"], partial=True) == [0.0]


def test_reasons_and_chat_messages():
    logged = {}
    completions = [
        [{"role": "assistant", "content": "<think>a</think><answer>4</answer>"}],
        [{"role": "assistant", "content": "<answer>4</answer>"}],
    ]
    assert format_reward(completions, log_extra=logged.__setitem__) == [1.0, 0.0]
    assert logged == {"reason/format_reward": ["ok", "missing_think"]}


def test_copying_the_templates_placeholder_is_not_the_format_when_the_answer_has_a_form():
    """One seed of the default job collapsed into copying the R1-Zero template's own example (format 1.0,
    accuracy 0, every group without variance); `answer_pattern` asks the answer block for an answer."""
    from rl_reasoner.templates import render

    copy = " reasoning process here </think> <answer> answer here </answer>"
    assert "reasoning process here </think> <answer> answer here </answer>" in render("r1_zero", "What is 9 + 7?")
    assert format_reward([copy], prefilled_think=True, partial=True) == [1.0]  # without the pattern: full credit
    rewards = format_reward([copy, " 9 + 7 = 16</think> <answer>16</answer>", " 16</think> <answer> -3 </answer>"],
                            prefilled_think=True, partial=True, answer_pattern="-?[0-9]+")
    assert rewards == [0.25, 1.0, 1.0]  # the copy keeps the think block's partial credit only


def test_a_bad_answer_pattern_is_one_clear_error():
    import pytest

    with pytest.raises(ValueError, match="answer_pattern '\\[0-9' is not a regular expression"):
        format_reward(["<think>a</think><answer>4</answer>"], answer_pattern="[0-9")
