"""Intermediate results of a chained sum: which running totals a completion writes in its think block, and whether
they are right.

For "What is 3 + 8 + 6 + 2?" the running totals are 11 (3 + 8) and 17 (11 + 6); the last one, 19, is the
answer. A completion *writes a correct intermediate result* when its think block holds a sum written out with "="
whose arithmetic is right and whose result is one of those running totals ("3 + 8 = 11", "11 + 6 = 17", or a chain
"3 + 8 = 11 + 6 = 17"). A correct partial sum taken in another order ("8 + 6 = 14") is counted as a correct
equation but not as a running total; a sum whose result is wrong ("3 + 8 = 12") is an arithmetic error.

Pure functions over text: :func:`step_counts` for one completion, :func:`batch_metrics` for a batch under
``behaviour/`` names (logged live beside the marker words), :func:`corrections` for the completions that write a
wrong result and then the right one for the same sum (``aha`` candidates).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

PREFIX = "behaviour/"

_EQUATION = re.compile(r"(?<![\d.])(?<![\d+]\s)(?=(\d+(?:\s*\+\s*\d+)+)\s*=\s*(\d+)(?![\d.]\d))")
"""A sum written out and its result: "3 + 8 = 11". Starts at a number not preceded by another number or "+", so
"3 + 8 + 6 = 17" is one equation, not also "8 + 6 = 17"; in "3 + 8 = 11 + 6 = 17" the second starts at 11
(a lookahead, so that the two may share the 11)."""
_QUESTION_SUM = re.compile(r"(\d+(?:\s*\+\s*\d+)+)\s*\??\s*$")


def think_block(text: str) -> str:
    """The reasoning part of a completion: after "<think>" (when written; R1-Zero prefills it) and before
    "</think>" (or, when that is missing, before "<answer>").

    >>> think_block("3 + 4 = 7</think> <answer>7</answer>")
    '3 + 4 = 7'
    """
    start = text.find("<think>")
    text = text[start + len("<think>"):] if start >= 0 else text
    for end_tag in ("</think>", "<answer>"):
        end = text.find(end_tag)
        if end >= 0:
            return text[:end].strip()
    return text.strip()


def equations(text: str) -> list[tuple[tuple[int, ...], int]]:
    """The sums written with "=" in `text`, as (addends, written result), in order.

    >>> equations("3 + 8 = 11 + 6 = 17, so 2 + 2=5.")
    [((3, 8), 11), ((11, 6), 17), ((2, 2), 5)]
    """
    return [(tuple(int(n) for n in re.findall(r"\d+", lhs)), int(rhs)) for lhs, rhs in _EQUATION.findall(text)]


def operands_of(question: str) -> list[int] | None:
    """The terms of a question that ends in a chained sum ("What is 3 + 8 + 6?"), or None for any other question.

    >>> operands_of("What is 3 + 8 + 6?"), operands_of("What is 7 * 2?")
    ([3, 8, 6], None)
    """
    match = _QUESTION_SUM.search(question or "")
    return [int(n) for n in re.findall(r"\d+", match.group(1))] if match else None


def running_totals(operands: Sequence[int]) -> list[int]:
    """The intermediate running totals of a chain (the final sum, the answer, excluded).

    >>> running_totals([3, 8, 6, 2]), running_totals([4, 5])
    ([11, 17], [])
    """
    totals, total = [], operands[0] if operands else 0
    for value in operands[1:-1]:
        total += value
        totals.append(total)
    return totals


def step_counts(text: str, operands: Sequence[int]) -> dict[str, int]:
    """For one completion: equations written in the think block, how many are wrong, and how many of the chain's
    running totals it reaches with a correct equation (`intermediate_correct`, at most terms - 2).

    >>> step_counts("3 + 8 = 11, 11 + 6 = 18, 18 + 2 = 20</think> <answer>20</answer>", [3, 8, 6, 2])
    {'equations': 3, 'equations_wrong': 1, 'intermediate_correct': 1, 'intermediate_possible': 2}
    """
    written = equations(think_block(text))
    right = {result for addends, result in written if sum(addends) == result}
    totals = running_totals(operands)
    return {
        "equations": len(written),
        "equations_wrong": sum(sum(addends) != result for addends, result in written),
        "intermediate_correct": len(set(totals) & right),
        "intermediate_possible": len(set(totals)),
    }


def batch_metrics(texts: Sequence[str], operands: Sequence[Sequence[int] | None]) -> dict[str, float]:
    """``behaviour/`` step metrics of a batch; completions without operands (not a chained sum) are left out, and
    nothing is returned when no completion has any.

    - ``intermediate_correct``: correct running totals written per completion (mean);
    - ``intermediate_share``: share of the running totals written correctly, over chains of 3+ terms;
    - ``equations``, ``equations_wrong``: sums written with "=" per completion, and wrong ones (means).

    >>> m = batch_metrics(["3 + 8 = 11, 11 + 6 = 17", "17", "x"], [[3, 8, 6, 2], [3, 8, 6, 2], None])
    >>> m["behaviour/intermediate_correct"], m["behaviour/intermediate_share"], m["behaviour/equations"]
    (1.0, 0.5, 1.0)
    """
    if len(texts) != len(operands):
        raise ValueError(f"chain_steps.batch_metrics: {len(texts)} completions but {len(operands)} operand lists")
    counts = [step_counts(text, ops) for text, ops in zip(texts, operands) if ops]
    if not counts:
        return {}
    n = len(counts)
    metrics = {
        "intermediate_correct": sum(c["intermediate_correct"] for c in counts) / n,
        "equations": sum(c["equations"] for c in counts) / n,
        "equations_wrong": sum(c["equations_wrong"] for c in counts) / n,
    }
    chains = [c for c in counts if c["intermediate_possible"]]
    if chains:
        metrics["intermediate_share"] = sum(c["intermediate_correct"] / c["intermediate_possible"] for c in chains) \
            / len(chains)
    return {PREFIX + name: float(value) for name, value in metrics.items()}


def corrections(text: str) -> list[tuple[tuple[tuple[int, ...], int], tuple[tuple[int, ...], int]]]:
    """Places where the think block writes a wrong result for a sum and later the right one for the same addends
    (in any order): the self-corrections an "aha" search looks for.

    >>> corrections("3 + 8 = 12. Wait, 8 + 3 = 11.</think>")
    [(((3, 8), 12), ((8, 3), 11))]
    """
    written = equations(think_block(text))
    found = []
    for i, (addends, result) in enumerate(written):
        if sum(addends) == result:
            continue
        later = next(((a, r) for a, r in written[i + 1:] if sorted(a) == sorted(addends) and sum(a) == r), None)
        if later is not None:
            found.append(((addends, result), later))
    return found


def row_operands(row: dict) -> list[int] | None:
    """A dataset row's chain: its ``operands`` column when present, else parsed from its question.

    >>> row_operands({"operands": [1, 2]}), row_operands({"question": "What is 4 + 5?"}), row_operands({})
    ([1, 2], [4, 5], None)
    """
    if row.get("operands"):
        return [int(v) for v in row["operands"]]
    return operands_of(row.get("question", ""))
