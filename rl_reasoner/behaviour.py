"""Behaviour metrics: how the reasoning of a batch of completions looks, as plain numbers.

Pure functions over completion texts (no torch, no trainer), cheap enough to run on every logged step:

- markers: phrases of self-reflection, verification, backtracking, subgoal setting and enumeration, counted
  per completion (:func:`marker_flags`) and per 1k tokens. The default phrase lists are data
  (``rl_reasoner/markers.yaml``, with their published sources) and a config can replace or extend them
  (:func:`load_markers`).
- repetition: the share of repeated n-grams (:func:`repetition_ratio`); a model stuck in a loop scores near 1.
- language mixing: the share of letters written in another script than the prompt's
  (:func:`language_mixing`).
- :func:`batch_metrics` puts them together with length, truncation, format adherence and the accuracy of
  reflective vs non-reflective completions under the ``behaviour/<metric>`` names (part of the run directory's interface, docs/architecture.md).

Matching rule for markers: whole words only (``"await"`` is not ``"wait"``, ``"Wait,"`` is), any whitespace
between the words of a phrase, ``'`` matches a straight or curly apostrophe. A phrase written in lower case
matches in any case; a phrase with a capital letter matches that exact case only (like ripgrep's smart
case), so a config can ask for ``"Aha"`` without counting ``"aha"``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from itertools import compress
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from rewards.extract import completion_text

PREFIX = "behaviour/"
"""Prefix of every metric name returned by :func:`batch_metrics`."""

REFLECTION = "reflection"
"""The marker category that splits accuracy into ``accuracy_reflective`` / ``accuracy_non_reflective``."""

_CATEGORY_NAME = re.compile(r"[a-z][a-z0-9_]*")
_TOKEN = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]|[^\W\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]+|[^\w\s]"
)
_ASCII_LETTERS = re.compile(r"[A-Za-z]+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_SCRIPT_ALIASES = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HALFWIDTH": "CJK", "FULLWIDTH": "LATIN"}

Markers = Mapping[str, Sequence[str]]


def _read_default_markers() -> dict[str, list[str]]:
    text = (Path(__file__).parent / "markers.yaml").read_text(encoding="utf-8")
    return _validated(yaml.safe_load(text), source="rl_reasoner/markers.yaml")


def _validated(markers: Any, *, source: str) -> dict[str, list[str]]:
    """Check a ``{category: [phrase, ...]}`` mapping and drop duplicate phrases (first one kept)."""
    if not isinstance(markers, Mapping):
        raise ValueError(
            f"{source}: markers must be a mapping of category -> list of phrases, got {type(markers).__name__}"
        )
    checked: dict[str, list[str]] = {}
    for category, phrases in markers.items():
        if not isinstance(category, str) or not _CATEGORY_NAME.fullmatch(category):
            raise ValueError(
                f"{source}: marker category {category!r} must be lower case letters, digits and '_' "
                "(it becomes the metric name behaviour/<category>_rate)"
            )
        if isinstance(phrases, str) or not isinstance(phrases, Sequence):
            raise ValueError(f"{source}: markers.{category} must be a list of phrases, got {phrases!r}")
        for phrase in phrases:
            if not isinstance(phrase, str) or not phrase.strip():
                raise ValueError(
                    f"{source}: markers.{category} contains {phrase!r}; every marker must be a non-empty string"
                )
        checked[category] = list(dict.fromkeys(phrase.strip() for phrase in phrases))
    return checked


DEFAULT_MARKERS: dict[str, list[str]] = _read_default_markers()
"""The shipped marker lists (``rl_reasoner/markers.yaml``): reflection, verification, backtracking,
subgoal_setting, enumeration. Treat as read-only; use :func:`load_markers` to change them."""


def load_markers(overrides: Markers | None = None) -> dict[str, list[str]]:
    """Return the default markers with a config's ``overrides`` applied.

    A category in ``overrides`` replaces the default list of that name, a new name adds a category and an empty
    list removes one.

    >>> markers = load_markers({"reflection": ["hmm"], "aha": ["Aha"], "enumeration": []})
    >>> markers["reflection"], markers["aha"], "enumeration" in markers
    (['hmm'], ['Aha'], False)
    """
    merged = {category: list(phrases) for category, phrases in DEFAULT_MARKERS.items()}
    for category, phrases in _validated(overrides or {}, source="markers override").items():
        if phrases:
            merged[category] = phrases
        else:
            merged.pop(category, None)
    return merged


class _Phrase(NamedTuple):
    """One marker phrase, tokenized the way completions are."""

    category: str
    words: tuple[str, ...]  # lower case unless exact_case
    exact_case: bool  # the phrase has a capital letter: match that exact case only


def _tokens(text: str) -> list[str]:
    """Words (letter/digit runs), single punctuation marks and single CJK characters, curly apostrophes made straight.

    >>> _tokens("Let’s double-check: 答案")
    ['Let', "'", 's', 'double', '-', 'check', ':', '答', '案']
    """
    return _TOKEN.findall(text.replace("\u2019", "'"))


@lru_cache(maxsize=64)
def _index(frozen: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, list[_Phrase]]:
    """Marker phrases by their first word in lower case, longest phrase first."""
    index: dict[str, list[_Phrase]] = {}
    for category, phrases in frozen:
        for phrase in phrases:
            exact_case = phrase != phrase.lower()
            words = tuple(_tokens(phrase if exact_case else phrase.lower()))
            if not words:
                raise ValueError(f"marker {phrase!r} in category {category!r} has no words to match")
            index.setdefault(words[0].lower(), []).append(_Phrase(category, words, exact_case))
    for candidates in index.values():
        candidates.sort(key=lambda phrase: len(phrase.words), reverse=True)
    return index


def _marker_index(markers: Markers | None) -> dict[str, list[_Phrase]]:
    markers = DEFAULT_MARKERS if markers is None else markers
    return _index(tuple((category, tuple(phrases)) for category, phrases in markers.items()))


def _find_markers(
    tokens: list[str], lowered: list[str], index: dict[str, list[_Phrase]]
) -> Iterator[tuple[str, int, int]]:
    """Yield ``(category, first token, end token)`` for each marker; within a category matches never overlap."""
    free_from: dict[str, int] = {}
    candidates_at = list(map(index.get, lowered))
    for i in compress(range(len(lowered)), candidates_at):  # only positions that start some phrase
        for phrase in candidates_at[i]:
            if free_from.get(phrase.category, 0) > i:
                continue
            end = i + len(phrase.words)
            if tuple((tokens if phrase.exact_case else lowered)[i:end]) == phrase.words:
                free_from[phrase.category] = end
                yield phrase.category, i, end


def _marker_counts(tokens: list[str], lowered: list[str], markers: Markers | None) -> dict[str, int]:
    counts = dict.fromkeys(DEFAULT_MARKERS if markers is None else markers, 0)
    for category, _, _ in _find_markers(tokens, lowered, _marker_index(markers)):
        counts[category] += 1
    return counts


def marker_flags(text: str, markers: Markers | None = None) -> dict[str, int]:
    """Count the markers of each category in one completion (see the module doc for the matching rule).

    >>> marker_flags("Wait, let me recheck: 2+3=5. I await your reply.", {"reflection": ["wait", "recheck"]})
    {'reflection': 2}
    """
    tokens = _tokens(text)
    return _marker_counts(tokens, list(map(str.lower, tokens)), markers)


def matched_markers(text: str, markers: Markers | None = None) -> dict[str, list[str]]:
    """The marker phrases as they appear in ``text``, per category (categories without a match are left out).

    >>> matched_markers("Hmm. Wait, wait... let me double-check.")["reflection"]
    ['Wait', 'wait', 'double-check']
    """
    straight = text.replace("\u2019", "'")
    spans = [match.span() for match in _TOKEN.finditer(straight)]
    tokens = [straight[start:end] for start, end in spans]
    lowered = list(map(str.lower, tokens))
    found: dict[str, list[str]] = {}
    for category, first, end in _find_markers(tokens, lowered, _marker_index(markers)):
        found.setdefault(category, []).append(text[spans[first][0] : spans[end - 1][1]])
    return found


def _repetition(lowered: list[str], n: int) -> float:
    total = len(lowered) - n + 1
    if total <= 0:
        return 0.0
    return 1.0 - len(set(zip(*(lowered[i:] for i in range(n))))) / total


def repetition_ratio(text: str, n: int = 4) -> float:
    """Share of the word n-grams of ``text`` that repeat an earlier one: 0 for no repeats, near 1 for a loop.

    Words are runs of letters/digits, single punctuation marks and single CJK characters, compared in lower case.

    >>> repetition_ratio("The answer is 5.")
    0.0
    >>> round(repetition_ratio("the cat sat. " * 10), 2)
    0.89
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return _repetition(_tokens(text.lower()), n)


@lru_cache(maxsize=8192)
def _script(letter: str) -> str:
    if letter < "\x80":
        return "LATIN"
    first_word = unicodedata.name(letter, "UNKNOWN").split(" ", 1)[0]
    return _SCRIPT_ALIASES.get(first_word, first_word)


def _script_counts(text: str) -> Counter[str]:
    """Letters of ``text`` per script (ASCII letters counted by a regex, the rest one by one)."""
    counts = Counter(_script(ch) for ch in _NON_ASCII.findall(text) if ch.isalpha())
    counts["LATIN"] += sum(map(len, _ASCII_LETTERS.findall(text)))
    return counts


@lru_cache(maxsize=1024)
def _dominant_script(text: str) -> str | None:
    script, letters = (_script_counts(text).most_common(1) or [(None, 0)])[0]
    return script if letters > 0 else None


def language_mixing(text: str, prompt: str | None = None) -> float:
    """Share of the letters of ``text`` written in another script than the prompt's main script.

    Without a prompt (or one without letters) the reference is the completion's own main script. Scripts are
    Unicode's (Latin, Cyrillic, Greek, ...); Chinese and Japanese characters count as one script "CJK".
    Digits and punctuation are ignored. LaTeX commands in a Chinese answer count as Latin letters.

    >>> language_mixing("The sum is 7.", prompt="What is 3 + 4?")
    0.0
    >>> language_mixing("答案是 7", prompt="What is 3 + 4?")
    1.0
    >>> round(language_mixing("The answer 答案 is 7"), 2)  # 2 of 13 letters
    0.15
    """
    if text.isascii() and (prompt is None or prompt.isascii()):
        return 0.0
    reference = (_dominant_script(prompt) if prompt else None) or _dominant_script(text)
    counts = _script_counts(text)
    letters = sum(counts.values())
    return 0.0 if letters == 0 else 1.0 - counts.get(reference, 0) / letters


def metric_range(name: str) -> tuple[float, float] | None:
    """The range a ``behaviour/`` metric cannot leave (an interval over few seeds is clipped to it): a share of
    completions (``*_rate``, ``*_share``, ``accuracy_*``, ``repetition``, ``language_mixing``, ``format_adherence``)
    lies in [0, 1]; every other one (lengths, counts per completion, markers per 1k tokens) is at least 0. ``None``
    for a name that is not a behaviour metric.

    >>> metric_range("behaviour/truncation_rate"), metric_range("behaviour/equations"), metric_range("reward")
    ((0.0, 1.0), (0.0, inf), None)
    """
    if not name.startswith(PREFIX):
        return None
    base = name[len(PREFIX):]
    share = (base.endswith(("_rate", "_share")) or base.startswith("accuracy_")
             or base in ("repetition", "language_mixing", "format_adherence"))
    return (0.0, 1.0) if share else (0.0, math.inf)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def batch_metrics(
    completions: Sequence[str | Sequence[Mapping[str, Any]]],
    *,
    num_tokens: Sequence[int],
    truncated: Sequence[bool],
    correct: Sequence[bool | None],
    formatted: Sequence[bool | None],
    prompts: Sequence[str | Sequence[Mapping[str, Any]]] | None = None,
    markers: Markers | None = None,
) -> dict[str, float]:
    """All ``behaviour/*`` metrics of one batch of completions (one entry per completion in every list).

    ``correct``/``formatted`` use ``None`` for "not scorable"; those completions are left out of the
    corresponding metric. Metrics whose group is empty (e.g. ``length_correct`` when nothing is correct) are
    omitted rather than NaN, so the result is always valid JSON. ``<category>_rate`` is the share of completions
    with at least one marker; ``<category>_per_1k`` is markers per 1000 completion tokens, pooled over the batch.

    >>> m = batch_metrics(["Wait, 2+2=4.", "5"], num_tokens=[8, 2], truncated=[False, True],
    ...                   correct=[True, False], formatted=[True, None], markers={"reflection": ["wait"]})
    >>> m["behaviour/reflection_rate"], m["behaviour/reflection_per_1k"], m["behaviour/length_incorrect"]
    (0.5, 100.0, 2.0)
    >>> m["behaviour/accuracy_reflective"], m["behaviour/accuracy_non_reflective"], m["behaviour/format_adherence"]
    (1.0, 0.0, 1.0)
    """
    size = len(completions)
    columns = {"num_tokens": num_tokens, "truncated": truncated, "correct": correct, "formatted": formatted}
    if prompts is not None:
        columns["prompts"] = prompts
    for name, column in columns.items():
        if len(column) != size:
            raise ValueError(f"batch_metrics: {name} has {len(column)} entries but there are {size} completions")
    if size == 0:
        return {}

    texts = [completion_text(completion) for completion in completions]
    prompt_texts = [completion_text(p, roles=None) for p in prompts] if prompts is not None else [None] * size
    counts: dict[str, list[int]] = {category: [] for category in (DEFAULT_MARKERS if markers is None else markers)}
    repetition = []
    for text in texts:
        tokens = _tokens(text)
        lowered = list(map(str.lower, tokens))
        for category, count in _marker_counts(tokens, lowered, markers).items():
            counts[category].append(count)
        repetition.append(_repetition(lowered, 4))
    total_tokens = sum(num_tokens)

    metrics: dict[str, float | None] = {
        "length_mean": _mean(num_tokens),
        "length_correct": _mean([n for n, ok in zip(num_tokens, correct) if ok is True]),
        "length_incorrect": _mean([n for n, ok in zip(num_tokens, correct) if ok is False]),
        "truncation_rate": _mean([float(bool(t)) for t in truncated]),
        "format_adherence": _mean([float(f) for f in formatted if f is not None]),
    }
    for category, per_completion in counts.items():
        metrics[f"{category}_rate"] = _mean([float(c > 0) for c in per_completion])
        metrics[f"{category}_per_1k"] = 1000.0 * sum(per_completion) / total_tokens if total_tokens > 0 else None
    metrics["repetition"] = _mean(repetition)
    metrics["language_mixing"] = _mean([language_mixing(text, prompt) for text, prompt in zip(texts, prompt_texts)])
    if REFLECTION in counts:
        scored = [(c > 0, ok) for c, ok in zip(counts[REFLECTION], correct) if ok is not None]
        metrics["accuracy_reflective"] = _mean([float(ok) for reflects, ok in scored if reflects])
        metrics["accuracy_non_reflective"] = _mean([float(ok) for reflects, ok in scored if not reflects])
    return {
        PREFIX + name: float(value) for name, value in metrics.items() if value is not None and math.isfinite(value)
    }
