"""Answer extraction: find the *final* answer in a completion.

Every function here is pure, linear in the length of the text (a megabyte-long completion costs
milliseconds, never a catastrophic regex backtrack), and returns `None` when there is nothing to
extract. The policy used by the accuracy rewards is `extract_answer`:

1. the region that holds the final answer (`answer_region`): the content of the last
   `<answer>…</answer>` block; else, when the completion closes a think block, the text after the last
   `</think>` (an answer inside the reasoning is not the answer); else the whole text;
2. inside it, the last stated answer: the last complete `\\boxed{…}` or the text after the last
   "the answer is", whichever comes later (`last_answer_wins=False`: every `\\boxed{}` of the region,
   as a set, as math-verify reads it);
3. else an answer block is its own answer; free text has none, unless asked
   (`fallback_last_number=True`): then its last number.

Only the final answer counts: an earlier `<answer>` block is ignored, and when the last `<answer>` block
is left unclosed, or a `<think>` block is never closed (a truncated completion), there is no answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

ANSWER_OPEN = "<answer>"
ANSWER_CLOSE = "</answer>"
THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

_BRACE = re.compile(r"[{}]")
_BOXED_START = re.compile(r"\\(?:boxed|fbox)\s*\{")
_ANSWER_PHRASE = re.compile(r"\b(?:the\s+)?final\s+answer\s+is|\bthe\s+answer\s+is", re.IGNORECASE)
_NUMBER = r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+"
_LAST_NUMBER = re.compile(rf"(?:{_NUMBER})(?:\s*/\s*\d+)?")
_MATH_DELIMITERS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))
# A number followed by plain words ("72 dollars", "15 apples"): the words are units and are dropped,
# unless they change the value ("1 million", "3 and a half", "50 percent").
_NUMBER_WITH_WORDS = re.compile(rf"^((?:\\?\$)?\s*(?:{_NUMBER}))\s+([A-Za-z][A-Za-z\s.]*)$")
_VALUE_WORDS = frozenset(
    "and or to of percent percentage hundred thousand million billion trillion dozen half halves third thirds "
    "quarter quarters times plus minus over squared cubed sqrt root pi infinity degree degrees".split()
)


def completion_text(
    completion: str | Sequence[Mapping[str, Any]], *, roles: tuple[str, ...] | None = ("assistant",)
) -> str:
    """The text of one completion (or prompt), given as a string or as TRL chat messages.

    The one place a completion becomes text: rewards, behaviour metrics and the run's records all read it
    through here. For messages, the contents of the messages whose role is in `roles` are concatenated as
    they are (no separator: a reply split over several assistant messages reads as one text); a message
    without a role counts as the assistant's. `roles=None` keeps every message (a chat prompt's system and
    user text). Content given as a list of blocks contributes its text blocks.

    >>> completion_text("<answer>4</answer>")
    '<answer>4</answer>'
    >>> completion_text([{"role": "assistant", "content": "<answer>4</answer>"}])
    '<answer>4</answer>'
    >>> prompt = [{"role": "system", "content": "Be brief. "}, {"role": "user", "content": "2+2?"}]
    >>> completion_text(prompt), completion_text(prompt, roles=None)
    ('', 'Be brief. 2+2?')
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        completion = [completion]
    if not isinstance(completion, Sequence):
        raise TypeError(f"a completion must be a string or a list of chat messages, got {type(completion).__name__}")
    parts = []
    for message in completion:
        if not isinstance(message, Mapping):
            raise TypeError(f"a chat message must be a dict with 'content', got {type(message).__name__}")
        if roles is not None and message.get("role", "assistant") not in roles:
            continue
        content = message.get("content") or ""
        if isinstance(content, str):
            parts.append(content)
        else:  # content blocks: [{"type": "text", "text": ...}, ...]
            parts.extend(block.get("text", "") for block in content if isinstance(block, Mapping))
    return "".join(parts)


def last_answer_block(text: str) -> str | None:
    """Content of the final `<answer>…</answer>` block, or `None` if there is none or it is unclosed.

    >>> last_answer_block("<answer>1</answer> then <answer> 2 </answer>")
    ' 2 '
    >>> last_answer_block("<answer>1</answer> <answer>2") is None  # the final block was cut off
    True
    """
    start = text.rfind(ANSWER_OPEN)
    if start == -1:
        return None
    end = text.find(ANSWER_CLOSE, start)
    if end == -1:
        return None
    return text[start + len(ANSWER_OPEN) : end]


def _closing_brace(text: str, open_index: int) -> int:
    """Index of the brace closing the one at `open_index`, or -1 if it is never closed.

    >>> _closing_brace("{a{b}c}d", 0)
    6
    """
    depth = 0
    for brace in _BRACE.finditer(text, open_index):
        depth += 1 if brace.group(0) == "{" else -1
        if depth == 0:
            return brace.start()
    return -1


def last_boxed(text: str) -> str | None:
    """Content of the last complete top-level `\\boxed{…}` (or `\\fbox{…}`), nested braces included.

    A `\\boxed{` that is never closed (a truncated completion) ends the search: boxes opened inside it
    are not top-level.

    >>> last_boxed(r"first \\boxed{1}, finally \\boxed{\\frac{1}{2}}")
    '\\\\frac{1}{2}'
    >>> last_boxed(r"\\boxed{x} and \\boxed{unclosed") is None
    True
    """
    found = None
    position = 0
    while True:
        match = _BOXED_START.search(text, position)
        if match is None:
            return found
        close = _closing_brace(text, match.end() - 1)
        if close == -1:
            return None
        found = text[match.end() : close]
        position = close + 1


def after_answer_phrase(text: str) -> str | None:
    """Text after the last "the answer is" / "final answer is", up to the end of its line or sentence.

    >>> after_answer_phrase("So the answer is $42$. Done.")
    '$42$'
    >>> after_answer_phrase("The final answer is: 3.5")
    '3.5'
    """
    last = None
    for last in _ANSWER_PHRASE.finditer(text):
        pass
    if last is None:
        return None
    rest = text[last.end() :].lstrip(" \t:")
    line_end = rest.find("\n")
    if line_end != -1:
        rest = rest[:line_end]
    sentence_end = re.search(r"\.(?:\s|$)", rest)
    if sentence_end is not None:
        rest = rest[: sentence_end.start()]
    rest = rest.strip()
    return rest or None


def last_number(text: str) -> str | None:
    """The last number in the text (integer, decimal, `a/b`, thousands separators), as written.

    >>> last_number("3 apples and 1,250.5 pears, ratio 7/2.")
    '7/2'
    >>> last_number("no digits") is None
    True
    """
    last = None
    for last in _LAST_NUMBER.finditer(text):
        pass
    return None if last is None else last.group(0)


def clean_answer(answer: str) -> str:
    """Normalise an extracted answer: strip math delimiters, a trailing period and unit words.

    >>> clean_answer(" $\\\\frac{1}{2}$. ")
    '\\\\frac{1}{2}'
    >>> clean_answer("72 dollars")
    '72'
    >>> clean_answer("1 million")
    '1 million'
    """
    answer = answer.strip()
    changed = True
    for _ in range(4):  # `$\(x\)$.` takes three rounds; a bound keeps hostile input linear
        if not (changed and answer):
            break
        changed = False
        if answer.endswith(".") and not answer.endswith(".."):
            answer, changed = answer[:-1].rstrip(), True
        for opening, closing in _MATH_DELIMITERS:
            if len(answer) >= len(opening) + len(closing) and answer.startswith(opening) and answer.endswith(closing):
                answer, changed = answer[len(opening) : len(answer) - len(closing)].strip(), True
                break
    with_words = _NUMBER_WITH_WORDS.match(answer)
    if with_words is not None:
        words = with_words.group(2).lower().replace(".", " ").split()
        if words and len(words[0]) >= 3 and not _VALUE_WORDS.intersection(words):
            answer = with_words.group(1).strip()
    return answer


def answer_region(text: str) -> str | None:
    """The part of a completion that may hold its final answer, or `None` if it cannot hold one.

    >>> answer_region("<think>maybe 3</think><answer>4</answer>")
    '4'
    >>> answer_region(r"<think>so \\boxed{42}</think> Some other text.")
    ' Some other text.'
    >>> answer_region("<think>still thinking") is None  # a truncated reasoning has no answer yet
    True
    """
    if text.rfind(ANSWER_OPEN) != -1:
        return last_answer_block(text)
    think_end = text.rfind(THINK_CLOSE)
    if think_end != -1:
        return text[think_end + len(THINK_CLOSE) :]
    if text.rfind(THINK_OPEN) != -1:
        return None
    return text


def _last_phrase_start(text: str) -> int:
    last = None
    for last in _ANSWER_PHRASE.finditer(text):
        pass
    return -1 if last is None else last.start()


# What may stand between boxes that are one answer: separators, "and"/"or", spacing, `\text{…}`, `y_2 =`.
_CONNECTOR = re.compile(
    r"(?:\s|[,;$&]|\\[()\[\]]|\\q?quad\b|\\[,;!: ]|\\text\s*\{[^{}]{0,30}\}|\b(?:and|or)\b|[A-Za-z](?:_\{?\w{1,3}\}?)?\s*=)*"
)


def _boxes(text: str) -> list[tuple[int, int]]:
    """(start, end) of every complete top-level `\\boxed{…}` in the text, in order."""
    boxes, position = [], 0
    while True:
        match = _BOXED_START.search(text, position)
        if match is None:
            return boxes
        close = _closing_brace(text, match.end() - 1)
        if close == -1:
            return boxes
        boxes.append((match.start(), close + 1))
        position = close + 1


def final_answer(text: str, *, fallback_last_number: bool = False, last_answer_wins: bool = True) -> str | None:
    """The final answer as written (boxes kept), for math-verify to read; `None` when there is none.

    Several boxes written together (`\\boxed{(2, 2)} and \\boxed{(6, 2)}`) are one answer, a set, as
    math-verify reads them; boxes apart (a corrected answer: `\\boxed{3}. Wait, ... \\boxed{4}`) are not:
    the last one wins (`last_answer_wins=False`: every box of the region, as a set).

    >>> final_answer(r"<answer>\\boxed{1} and \\boxed{2}</answer>")
    '\\\\boxed{1} and \\\\boxed{2}'
    >>> final_answer(r"so \\boxed{3}. Wait, that is wrong: \\boxed{4}")
    '\\\\boxed{4}'
    """
    region = answer_region(text)
    if region is None:
        return None
    boxes = _boxes(region)
    phrase_at = _last_phrase_start(region)
    if boxes and (boxes[-1][0] > phrase_at or not last_answer_wins):
        first = len(boxes) - 1
        if not last_answer_wins:
            first = 0
        else:
            while first > 0:
                if _CONNECTOR.fullmatch(region[boxes[first - 1][1] : boxes[first][0]]) is None:
                    break
                first -= 1
        return region[boxes[first][0] : boxes[-1][1]]
    if phrase_at != -1:
        answer = after_answer_phrase(region)
        if answer is not None:
            return answer
    if text.rfind(ANSWER_OPEN) != -1:
        return region if region.strip() else None
    return last_number(region) if fallback_last_number else None


def extract_answer(text: str, *, fallback_last_number: bool = False, last_answer_wins: bool = True) -> str | None:
    """The final answer of a completion, cleaned, or `None` (see the module docstring for the policy).

    >>> extract_answer("<think>maybe \\\\boxed{3}</think><answer>The answer is 4.</answer>")
    '4'
    >>> extract_answer(r"step \\boxed{2}, so \\boxed{\\{1, 2\\}}")
    '\\\\{1, 2\\\\}'
    >>> extract_answer(r"we get \\boxed{255}; recheck: the final answer is $10,455$")
    '10,455'
    >>> extract_answer("I think 12") is None
    True
    >>> extract_answer("I think 12", fallback_last_number=True)
    '12'
    """
    answer = final_answer(text, fallback_last_number=fallback_last_number, last_answer_wins=last_answer_wins)
    if answer is None:
        return None
    boxes = _boxes(answer)
    if len(boxes) == 1 and boxes[0] == (0, len(answer)):
        answer = last_boxed(answer) or ""
    answer = clean_answer(answer)
    return answer or None


def gold_text(gold: Any) -> str | None:
    """The gold answer as a string: numbers are written out, a `\\boxed{}` or GSM8K `#### x` is unwrapped.

    >>> gold_text(0.5), gold_text(3), gold_text("Solution... #### 1,000"), gold_text(r"so \\boxed{7}")
    ('0.5', '3', '1,000', '7')
    >>> gold_text(None) is None
    True
    """
    if gold is None or isinstance(gold, bool):
        return None
    if isinstance(gold, (int, float, Fraction)):
        return str(gold)
    if not isinstance(gold, str):
        gold = str(gold)
    boxed = last_boxed(gold)
    if boxed is not None:
        gold = boxed
    elif "####" in gold:
        gold = gold.rsplit("####", 1)[1]
    gold = clean_answer(gold)
    return gold or None
