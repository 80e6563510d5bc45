"""The R1-Zero format reward: `<think>…</think>` then `<answer>…</answer>`, and nothing else.

Strict by default. A completion passes only if it has exactly one non-empty think block followed
(after optional whitespace) by exactly one non-empty answer block, with nothing but whitespace
before, between and after. So the usual format hacks earn nothing: several answer blocks, an answer
outside the final block, an empty think block, text after the answer.

With `prefilled_think=True` the prompt ends with `<think>` (as in the R1-Zero template), so the
completion starts inside the think block and must *not* open another one.

With `partial=True` a completion that misses the format still earns 0.25 for each *block* it gets right
(at most 0.5): a think block closed once around some reasoning, and one non-empty answer block after it.
Credit goes to blocks, not to tags: a policy that copies the instruction's sentence "...within <think>
</think> and <answer> </answer> tags" (empty blocks, a second `<think>`) earns nothing. Crediting bare
tags taught the embedded default exactly that copy within eight steps.

With `answer_pattern` (a regular expression) the answer block must also hold an answer of the task's form, e.g.
`-?[0-9]+` for integer arithmetic. Without it, copying the template's own example, "reasoning process here
</think> <answer> answer here </answer>", is a perfectly formatted completion: one seed of the embedded default
collapsed into exactly that copy by step 10 (format reward 1.0 on every completion, accuracy 0, no variance left
in any group to learn from).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from rewards.extract import completion_text
from rewards.registry import register

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
PARTIAL_CREDIT_PER_BLOCK = 0.25
"""Partial credit for each well-formed block (think, answer) of a completion that misses the format."""


@functools.lru_cache(maxsize=32)
def _pattern(answer_pattern: str) -> re.Pattern:
    try:
        return re.compile(answer_pattern)
    except re.error as error:
        raise ValueError(f"format_reward: answer_pattern {answer_pattern!r} is not a regular expression ({error}); "
                         f"e.g. '-?[0-9]+' for an integer answer") from None


def answer_fits(answer: str, answer_pattern: str | None) -> bool:
    """Whether an answer block's content (stripped) matches ``answer_pattern`` in full; any answer when it is None.

    >>> answer_fits(" 16 ", "-?[0-9]+"), answer_fits("answer here", "-?[0-9]+"), answer_fits("x", None)
    (True, False, True)
    """
    return answer_pattern is None or _pattern(answer_pattern).fullmatch(answer.strip()) is not None


def check_format(text: str, *, prefilled_think: bool = False, answer_pattern: str | None = None) -> str:
    """`"ok"` if `text` has the R1-Zero format, else the first problem found.

    Problems: `missing_think`, `multiple_think`, `missing_answer`, `multiple_answer`, `tags_out_of_order`,
    `text_before_think`, `empty_think`, `text_between_blocks`, `empty_answer`, `text_after_answer`,
    `answer_not_of_form` (the answer does not match `answer_pattern`).

    >>> check_format("<think>2+2 is 4</think>\\n<answer>4</answer>")
    'ok'
    >>> check_format("2+2 is 4</think> <answer>4</answer>", prefilled_think=True)
    'ok'
    >>> check_format("<think> </think><answer>4</answer>")
    'empty_think'
    >>> check_format("<think>a</think><answer>3</answer><answer>4</answer>")
    'multiple_answer'
    >>> check_format("reasoning process here</think> <answer> answer here </answer>", prefilled_think=True,
    ...              answer_pattern="-?[0-9]+")
    'answer_not_of_form'
    """
    if prefilled_think:
        if THINK_OPEN in text:
            return "multiple_think"
        text = THINK_OPEN + text
    counts = {tag: text.count(tag) for tag in (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)}
    for opening, closing, what in ((THINK_OPEN, THINK_CLOSE, "think"), (ANSWER_OPEN, ANSWER_CLOSE, "answer")):
        if counts[opening] == 0 or counts[closing] == 0:
            return f"missing_{what}"
        if counts[opening] > 1 or counts[closing] > 1:
            return f"multiple_{what}"
    think_open, think_close = text.index(THINK_OPEN), text.index(THINK_CLOSE)
    answer_open, answer_close = text.index(ANSWER_OPEN), text.index(ANSWER_CLOSE)
    if not think_open < think_close < answer_open < answer_close:
        return "tags_out_of_order"
    if text[:think_open].strip():
        return "text_before_think"
    if not text[think_open + len(THINK_OPEN) : think_close].strip():
        return "empty_think"
    if text[think_close + len(THINK_CLOSE) : answer_open].strip():
        return "text_between_blocks"
    if not text[answer_open + len(ANSWER_OPEN) : answer_close].strip():
        return "empty_answer"
    if text[answer_close + len(ANSWER_CLOSE) :].strip():
        return "text_after_answer"
    if not answer_fits(text[answer_open + len(ANSWER_OPEN) : answer_close], answer_pattern):
        return "answer_not_of_form"
    return "ok"


def block_credit(text: str, *, prefilled_think: bool = False, answer_pattern: str | None = None) -> float:
    """0.25 for a think block closed once around non-empty reasoning, 0.25 for one non-empty answer block
    that follows it (or stands alone when no think block closes) and matches ``answer_pattern`` when given.

    >>> block_credit("5 + 1 = 6</think> 6", prefilled_think=True), block_credit("<think>a</think> 4")
    (0.25, 0.25)
    >>> block_credit("a</think><answer>6</answer> done", prefilled_think=True)
    0.5
    >>> block_credit(" within <think> </think> and <answer> </answer> tags", prefilled_think=True)
    0.0
    >>> block_credit("here</think> <answer> answer here </answer> x", prefilled_think=True, answer_pattern="[0-9]+")
    0.25
    """
    think_text = THINK_OPEN + text if prefilled_think else text
    credit, answer_from = 0.0, 0
    if think_text.count(THINK_OPEN) == 1 and text.count(THINK_CLOSE) == 1:
        think_open, think_close = think_text.index(THINK_OPEN), think_text.index(THINK_CLOSE)
        if think_open < think_close and think_text[think_open + len(THINK_OPEN) : think_close].strip():
            credit += PARTIAL_CREDIT_PER_BLOCK
            answer_from = text.index(THINK_CLOSE)
    if text.count(ANSWER_OPEN) == 1 and text.count(ANSWER_CLOSE) == 1:
        answer_open, answer_close = text.index(ANSWER_OPEN), text.index(ANSWER_CLOSE)
        answer = text[answer_open + len(ANSWER_OPEN) : answer_close]
        if answer_from <= answer_open < answer_close and answer.strip() and answer_fits(answer, answer_pattern):
            credit += PARTIAL_CREDIT_PER_BLOCK
    return credit


@register("format_reward")
def format_reward(
    completions: list,
    *,
    prefilled_think: bool = False,
    partial: bool = False,
    answer_pattern: str | None = None,
    log_extra: Callable[[str, list], None] | None = None,
    **kwargs,
) -> list[float]:
    """1.0 for a completion in the R1-Zero format, else 0.0 (or 0.25 per well-formed block if `partial`).

    Args:
        completions: strings or chat messages.
        prefilled_think: the prompt ends with `<think>`, so the completion starts inside the think block.
        partial: give completions that miss the format 0.25 for each well-formed block (think, answer).
        answer_pattern: a regular expression the answer block's content must match in full (e.g. `-?[0-9]+`),
            so that copying the template's placeholder "<answer> answer here </answer>" is not the format.
        log_extra: TRL's logger; receives `reason/format_reward` ("ok" or the problem) for each completion.

    >>> format_reward(["<think>a</think><answer>4</answer>", "<answer>4</answer>"])
    [1.0, 0.0]
    >>> format_reward(["<think>a</think><answer>4</answer>", "<answer>4</answer>"], partial=True)
    [1.0, 0.25]
    >>> format_reward(["<think>a</think><answer>4</answer>", "<think>a</think><answer>four</answer>"],
    ...               answer_pattern="-?[0-9]+")
    [1.0, 0.0]
    """
    rewards, reasons = [], []
    for completion in completions:
        text = completion_text(completion)
        reason = check_format(text, prefilled_think=prefilled_think, answer_pattern=answer_pattern)
        if reason == "ok":
            reward = 1.0
        elif partial:
            reward = block_credit(text, prefilled_think=prefilled_think, answer_pattern=answer_pattern)
        else:
            reward = 0.0
        rewards.append(reward)
        reasons.append(reason)
    if log_extra is not None:
        log_extra("reason/format_reward", reasons)
    return rewards
