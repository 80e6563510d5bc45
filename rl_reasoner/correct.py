"""The one definition of "correct" used by training metrics, pass rates, evaluation, difficulty and report.

An accuracy reward returns 1.0 for a correct answer, a smaller number for a wrong one, and ``None`` (or NaN,
which is how TRL stores ``None``) when it could not decide. Every part of the project reads a score through
:func:`verdict`, so "undecided" is never silently counted as wrong or dropped: it is counted on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

CORRECT = 1.0  # the score an accuracy reward gives a correct answer


def verdict(score: float | None) -> bool | None:
    """True for full marks, False for any other number, None when the grader could not decide (None or NaN).

    >>> verdict(1.0), verdict(0.0), verdict(0.5), verdict(None), verdict(float("nan"))
    (True, False, False, None, None)
    """
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return None
    return float(score) >= CORRECT


@dataclass(frozen=True)
class Tally:
    """Counts of correct, wrong and undecided answers."""

    correct: int
    wrong: int
    undecided: int

    @property
    def total(self) -> int:
        return self.correct + self.wrong + self.undecided

    @property
    def decided(self) -> int:
        return self.correct + self.wrong

    def accuracy(self) -> float | None:
        """Correct over all answers (an undecided answer is not correct); None when there are none.

        >>> Tally(3, 1, 1).accuracy()
        0.6
        """
        return self.correct / self.total if self.total else None

    def pass_rate(self) -> float | None:
        """Correct over decided answers (undecided left out, as a pass-rate estimate needs); None when none decided.

        >>> Tally(3, 1, 1).pass_rate(), Tally(0, 0, 2).pass_rate()
        (0.75, None)
        """
        return self.correct / self.decided if self.decided else None


def tally(scores: Iterable[float | None]) -> Tally:
    """Count the verdicts of a list of accuracy scores.

    >>> tally([1.0, 0.0, None, 1.0, float("nan")])
    Tally(correct=2, wrong=1, undecided=2)
    """
    counts = {True: 0, False: 0, None: 0}
    for score in scores:
        counts[verdict(score)] += 1
    return Tally(counts[True], counts[False], counts[None])
