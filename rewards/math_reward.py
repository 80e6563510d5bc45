"""Math accuracy: is the final answer mathematically equivalent to the gold answer?

In pure RL this reward is the teacher: a correct answer scored 0.0 is trained away. So a score of 0.0
means one thing only — the answer was read and is not equal to the gold (or there is no answer) — and
a grader that could not decide says `None` (TRL leaves it out), never 0.0.

How a completion is scored:

1. Its final answer is extracted (`rewards.extract.final_answer`): the last `<answer>` block, else the
   text after `</think>`, else the whole text; inside it the last `\\boxed{}` or "the answer is …",
   whichever comes last.
2. Fast path: when the gold and the answer are both made of plain numbers (`42`, `1,000`, `1 000`,
   `0.25`, `\\frac{3}{4}`, `25\\%`, `12 \\text{ cm}`, `\\{1, 2\\}`, `[1, 2)`, polynomials with radicals),
   they are compared exactly, without sympy (`rewards.exact`), with the meaning math-verify gives them.
3. Otherwise math-verify decides (`rewards.equivalence`), reading the answer with its own extraction
   (LaTeX and plain expressions, as its tests do; a bare answer is read as LaTeX), in a pool of warm
   worker processes (`rewards._worker_pool`) that scores a batch in parallel with a hard deadline per
   verification.
   Verdicts are remembered, so the same pair gets the same verdict for the life of the process.

Deliberate departures from math-verify, each a parameter (docs/rewards.md; the agreement suite shows
each both ways): `exact_decimals` (`0.3333333` is not `1/3`), `last_answer_wins` (of boxes apart, the
last one is the answer, not the set of them; boxes written together are a set), `set_relation`
(`[5, \\infty)` equals `x \\geq 5`), `plain_number_answer` (for calculation tasks, `10 + 5` is not 15)
and `fallback_last_number` (free text is read by its last number).

What can not be decided scores `None`, with its reason: a gold that is not math ("forty two", reason
`gold_unparseable`), a verification past its deadline (`timeout`: a slow machine or an answer that
makes sympy explode — the two cannot be told apart, so neither is called wrong) and a worker that died
twice on the same pair (`error`).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rewards._worker_pool import shared_pool
from rewards.equivalence import WORD, is_prose
from rewards.exact import Percent, exact_value, exact_verdict, normalize_number, plain_number
from rewards.extract import clean_answer, completion_text, final_answer, gold_text, last_boxed
from rewards.registry import register

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 5.0
"""Hard bound per verification, counted from when a warm worker picks it up: math-verify's own default. Most
answers take a few ms, a few (sums, big matrices) seconds; a verification past it scores `None` ("timeout")."""
MAX_ANSWER_LENGTH = 1000
"""Extracted answers longer than this are not verified (reason "answer_too_long", 0.0): no real answer is that long."""

VERIFY_FUNCTION = "rewards.equivalence:verify_equivalence"
WARM_UP_FUNCTION = "rewards.equivalence:warm_up"
SCORES: dict[str, float | None] = {
    "correct": 1.0,
    "wrong": 0.0,
    "no_answer": 0.0,
    "not_a_number": 0.0,
    "answer_too_long": 0.0,
    "answer_unparseable": 0.0,
    "gold_unparseable": None,
    "timeout": None,
    "error": None,
}
"""The score of every reason: only a read answer that is not equal (or no answer at all) is 0.0."""
UNDECIDED = frozenset(reason for reason, score in SCORES.items() if score is None)
_CACHE_SIZE = 65_536
_CACHEABLE_LENGTH = 400
_verdicts: OrderedDict[tuple[str, str, bool], str] = OrderedDict()
_verdicts_lock = threading.Lock()


@dataclass(frozen=True)
class Verdict:
    """How one completion was graded: what was read, which path decided, why, and the score."""

    answer: str | None
    """The extracted final answer (cleaned), `None` when there is none."""
    path: str
    """"extraction" (decided before any comparison), "fast path", "cache" or "math-verify"."""
    reason: str
    """One of `SCORES`."""

    @property
    def score(self) -> float | None:
        return SCORES[self.reason]


@register("math_accuracy")
def math_accuracy(
    completions: list,
    answer: Sequence[Any],
    *,
    fallback_last_number: bool = False,
    plain_number_answer: bool = False,
    exact_decimals: bool = True,
    last_answer_wins: bool = True,
    set_relation: bool = True,
    timeout: float = DEFAULT_TIMEOUT_S,
    max_answer_length: int = MAX_ANSWER_LENGTH,
    log_extra: Callable[[str, list], None] | None = None,
    log_metric: Callable[[str, float], None] | None = None,
    **kwargs,
) -> list[float | None]:
    """1.0 if the final answer equals the gold `answer` mathematically, 0.0 if not, `None` if undecidable.

    Args:
        completions: strings or chat messages.
        answer: the dataset column: one gold answer (string or number) per completion.
        fallback_last_number: when no answer block, `\\boxed{}` or "the answer is" is found, read the last number.
        plain_number_answer: when the gold is a plain number, so must the answer be (`10 + 5` is not 15).
        exact_decimals: plain numbers are exact (`0.3333333` is not `1/3`); False: math-verify's rounding.
        last_answer_wins: of boxes apart in the final answer the last one counts; False: all of them, as a set.
        set_relation: a set gold equals the same set written as a relation (`[5, \\infty)` = `x \\geq 5`).
        timeout: hard bound in seconds on each math-verify verification (the fast path needs none).
        max_answer_length: longer extracted answers score 0.0 unverified.
        log_extra: TRL's logger; receives `reason/math_accuracy`, one reason of `SCORES` per completion.
        log_metric: TRL's metric logger; receives `math_accuracy/undecided`, the share scored `None`.

    >>> math_accuracy(["<answer>0.5</answer>", r"so \\boxed{\\frac{1}{3}}", "no idea"], ["1/2", "1/2", "2"])
    [1.0, 0.0, 0.0]
    >>> math_accuracy(["<answer>10 + 5</answer>", "<answer>15</answer>"], [15, 15], plain_number_answer=True)
    [0.0, 1.0]
    >>> math_accuracy(["<answer>42</answer>"], ["forty two"])  # a gold that is not math: undecidable
    [None]
    """
    verdicts = grade(
        completions,
        answer,
        fallback_last_number=fallback_last_number,
        plain_number_answer=plain_number_answer,
        exact_decimals=exact_decimals,
        last_answer_wins=last_answer_wins,
        set_relation=set_relation,
        timeout=timeout,
        max_answer_length=max_answer_length,
    )
    reasons = [verdict.reason for verdict in verdicts]
    undecided = Counter(reason for reason in reasons if reason in UNDECIDED and reason != "gold_unparseable")
    if undecided:
        logger.warning("math_accuracy: %d of %d answers undecided (%s), scored None", sum(undecided.values()),
                       len(reasons), ", ".join(f"{reason}: {n}" for reason, n in sorted(undecided.items())))  # fmt: skip
    if log_extra is not None:
        log_extra("reason/math_accuracy", reasons)
    if log_metric is not None and reasons:
        log_metric("math_accuracy/undecided", sum(reason in UNDECIDED for reason in reasons) / len(reasons))
    return [verdict.score for verdict in verdicts]


def grade(
    completions: Sequence,
    answer: Sequence[Any],
    *,
    fallback_last_number: bool = False,
    plain_number_answer: bool = False,
    exact_decimals: bool = True,
    last_answer_wins: bool = True,
    set_relation: bool = True,
    timeout: float = DEFAULT_TIMEOUT_S,
    max_answer_length: int = MAX_ANSWER_LENGTH,
) -> list[Verdict]:
    """The `Verdict` of every completion (what `math_accuracy` scores; `rl-reasoner score` prints it).

    >>> grade([r"<think>x</think><answer>\\boxed{\\frac{2}{4}}</answer>"], ["0.5"])
    [Verdict(answer='\\\\frac{2}{4}', path='fast path', reason='correct')]
    """
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"math_accuracy: parameter 'timeout' must be a number of seconds > 0, got {timeout!r}")
    if isinstance(max_answer_length, bool) or not isinstance(max_answer_length, int) or max_answer_length < 1:
        raise ValueError(f"math_accuracy: parameter 'max_answer_length' must be an int >= 1, got {max_answer_length!r}")
    if len(completions) != len(answer):
        raise ValueError(f"math_accuracy: {len(completions)} completions but {len(answer)} values in 'answer'")

    verdicts: list[Verdict | None] = [None] * len(completions)
    predicted_answers: list[str | None] = [None] * len(completions)
    to_verify: dict[tuple[str, str, bool], list[int]] = {}
    for index, (completion, gold) in enumerate(zip(completions, answer)):
        written = final_answer(
            completion_text(completion), fallback_last_number=fallback_last_number, last_answer_wins=last_answer_wins
        )
        predicted = _cleaned(written)
        predicted_answers[index] = predicted
        gold_string = gold_text(gold)
        if gold_string is None or _is_words(gold_string):
            verdicts[index] = Verdict(predicted, "extraction", "gold_unparseable")
        elif predicted is None:
            verdicts[index] = Verdict(None, "extraction", "no_answer")
        elif len(predicted) > max_answer_length * (PROSE_LENGTH_FACTOR if is_prose(written) else 1):
            verdicts[index] = Verdict(predicted[:100], "extraction", "answer_too_long")
        elif plain_number_answer and _is_plain_number(gold_string) and not _is_plain_number(predicted):
            verdicts[index] = Verdict(predicted, "extraction", "not_a_number")
        else:
            pair = (_gold_for_math_verify(gold), written, set_relation)
            fast = None if _several_boxed(pair[0]) else exact_verdict(normalize_number(gold_string), normalize_number(predicted))
            if fast is False and not exact_decimals and "." in gold_string + predicted:
                fast = None  # math-verify compares decimals with rounding
            if fast is not None:
                verdicts[index] = Verdict(predicted, "fast path", "correct" if fast else "wrong")
                continue
            with _verdicts_lock:
                cached = _verdicts.get(pair)
            if cached is not None:
                verdicts[index] = Verdict(predicted, "cache", cached)
            else:
                to_verify.setdefault(pair, []).append(index)

    for pair, reason in _verify_pairs(list(to_verify), timeout).items():
        for index in to_verify[pair]:
            verdicts[index] = Verdict(predicted_answers[index], "math-verify", reason)
    return [verdict for verdict in verdicts if verdict is not None]


def _is_plain_number(answer: str) -> bool:
    """A number as a final answer: `15`, `-2.5`, `1,000`, `\\$16,\\!386.20`, `28\\%`, `\\frac{3}{4}`, `x = 11`.

    >>> [_is_plain_number(a) for a in ["1 000", "14{,}916", "x=11", "10 + 5", r"3 \\cdot 5"]]
    [True, True, True, False, False]
    """
    text = normalize_number(answer)
    assignment = re.match(r"^[a-z]\s*=\s*(.+)$", text)
    if assignment is not None:
        text = normalize_number(assignment.group(1))
    return plain_number(text) is not None or isinstance(exact_value(text), Percent)


PROSE_LENGTH_FACTOR = 20
"""A final answer written as prose (an answer block holding a whole solution) may be this many times longer:
math-verify finds the math in it with linear regexes, so its length costs no sympy time."""


def _cleaned(written: str | None) -> str | None:
    """The answer as shown and compared on the fast path: a lone `\\boxed{}` unwrapped, delimiters and units off."""
    if written is None:
        return None
    stripped = written.strip()
    if stripped.startswith("\\boxed") and stripped.count("\\boxed") == 1 and stripped.endswith("}"):
        written = last_boxed(stripped) or ""
    return clean_answer(written) or None


def _is_words(gold: str) -> bool:
    """A gold that is words, not math ("forty two", "listen"): it would be read as a product of letters.

    >>> _is_words("forty two"), _is_words("listen"), _is_words(r"\\text{Monday}"), _is_words("C"), _is_words("12 cm")
    (True, True, False, False, False)
    """
    return not re.search(r"[\d\\$^_{}=+*/<>()\[\]]", gold) and bool(WORD.search(gold))


def _gold_for_math_verify(gold: Any) -> str:
    """The gold as math-verify should read it: a GSM8K `#### x` is unwrapped, math delimiters and several boxes kept."""
    text = gold if isinstance(gold, str) else gold_text(gold) or ""
    if "####" in text:
        text = text.rsplit("####", 1)[1]
    if not _several_boxed(text) and not any(anchor in text for anchor in ("$", "\\(", "\\[")):
        text = gold_text(text) or ""
    return text.strip()


def _several_boxed(text: str) -> bool:
    return text.count("\\boxed") > 1


def _verify_pairs(pairs: list[tuple[str, str, bool]], timeout: float) -> dict[tuple[str, str, bool], str]:
    """Verdicts for (gold, answer) pairs from math-verify, computed in parallel worker processes.

    A pair whose worker died (killed, out of memory) is tried once more on a fresh worker by the pool; only
    a second death is an "error". Neither an error nor a timeout is remembered: the next batch tries again.
    """
    if not pairs:
        return {}
    pool = shared_pool(VERIFY_FUNCTION, warm_up=WARM_UP_FUNCTION)
    outcomes = dict(zip(pairs, pool.map(pairs, timeout=timeout)))  # a call whose worker died is run once more
    verdicts = {}
    for pair, outcome in outcomes.items():
        if outcome.status != "ok":
            logger.info("math_accuracy: %s for %r (%s)", outcome.status, pair, outcome.value)
            verdicts[pair] = outcome.status
            continue
        verdicts[pair] = outcome.value
        if len(pair[0]) + len(pair[1]) <= _CACHEABLE_LENGTH:
            with _verdicts_lock:
                _verdicts[pair] = outcome.value
                if len(_verdicts) > _CACHE_SIZE:
                    _verdicts.popitem(last=False)
    return verdicts


def clear_cache() -> None:
    """Forget the verdicts remembered from earlier batches (for benchmarks and tests)."""
    with _verdicts_lock:
        _verdicts.clear()
