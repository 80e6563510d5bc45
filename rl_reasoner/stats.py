"""Intervals for the numbers a run reports: one run (Wilson), several seeds (Student t), a change (paired).

* :func:`wilson` — the 95% interval of a proportion measured on ``n`` examples (one run's accuracy). For a mean of
  per-example values in [0, 1] that are not 0/1 (pass@k, maj@k, sampled accuracy) the same interval on ``n``
  examples is used: such values vary at most as much as 0/1 ones, so it is conservative.
* :func:`seed_interval` — the 95% interval of the mean of one number over several seeds (t distribution).
* :func:`paired_change` — the change of a per-example value between two evaluations of the *same* examples, with
  its 95% interval (normal approximation on the per-example differences; for 0/1 values this is the large-sample
  form of McNemar's test). A change is "beyond noise" when its interval excludes 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import mean, stdev
from typing import Sequence

Z95 = 1.959963984540054
"""The two-sided 95% quantile of the standard normal."""

# Two-sided 95% quantiles of Student's t by degrees of freedom (1..30); beyond 30 the normal's is close enough.
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float
    n: int
    """Examples (one run), seeds (several runs) or paired examples (a change) behind the value."""

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def wilson(proportion: float, n: int) -> Interval:
    """The 95% Wilson score interval of a proportion observed on ``n`` examples.

    >>> str(wilson(0.5, 60)), str(wilson(0.0, 10))
    ('0.500 [0.377, 0.623]', '0.000 [0.000, 0.278]')
    >>> all(wilson(p / 7, 7).low <= p / 7 <= wilson(p / 7, 7).high for p in range(8))
    True
    """
    if n <= 0:
        raise ValueError(f"an interval needs at least one example, got n={n}")
    if not 0.0 <= proportion <= 1.0:
        raise ValueError(f"a proportion lies in [0, 1], got {proportion}")
    z2 = Z95 * Z95
    centre = (proportion + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(proportion * (1 - proportion) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return Interval(proportion, max(0.0, min(proportion, centre - half)), min(1.0, max(proportion, centre + half)), n)


def t95(df: int) -> float:
    """The two-sided 95% quantile of Student's t with ``df`` degrees of freedom.

    >>> t95(2), t95(1000)
    (4.303, 1.959963984540054)
    """
    if df < 1:
        raise ValueError("a t quantile needs at least one degree of freedom")
    return _T95[df - 1] if df <= len(_T95) else Z95


def seed_interval(values: Sequence[float], bounds: tuple[float, float] | None = None) -> Interval:
    """Mean and 95% interval over seeds (Student t with n - 1 degrees of freedom); one seed: no width to give.
    ``bounds``: the range the quantity cannot leave (a proportion: ``(0, 1)``); the interval is clipped to it.

    >>> str(seed_interval([0.6, 0.7, 0.8]))
    '0.700 [0.452, 0.948]'
    >>> str(seed_interval([0.78, 0.0, 0.93], bounds=(0, 1)))   # one seed collapsed: wide, but inside [0, 1]
    '0.570 [0.000, 1.000]'
    """
    if not values:
        raise ValueError("no values to summarise")
    centre = mean(values)
    if len(values) < 2:
        return Interval(centre, centre, centre, 1)
    half = t95(len(values) - 1) * stdev(values) / math.sqrt(len(values))
    low, high = centre - half, centre + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return Interval(centre, low, high, len(values))


def paired_change(before: Sequence[float], after: Sequence[float]) -> Interval:
    """The mean change of per-example values measured twice on the same examples, with its 95% interval.

    >>> change = paired_change([0, 0, 1, 0] * 25, [1, 0, 1, 1] * 25)
    >>> str(change), change.excludes_zero()
    ('0.500 [0.402, 0.598]', True)
    """
    if len(before) != len(after) or not before:
        raise ValueError(f"a paired change needs the same non-zero number of values, got {len(before)}, {len(after)}")
    diffs = [b - a for a, b in zip(before, after)]
    centre = mean(diffs)
    spread = stdev(diffs) if len(diffs) > 1 else 0.0
    half = Z95 * spread / math.sqrt(len(diffs))
    return Interval(centre, centre - half, centre + half, len(diffs))
