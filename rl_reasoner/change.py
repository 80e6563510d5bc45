"""What a job changed, and whether it is beyond noise: the first and last evaluations compared example by example.

The same held-out examples are evaluated before and after training, so each measure is compared *paired*: the
mean of the per-example differences with its 95% interval (``rl_reasoner.stats.paired_change``; for right/wrong
values this is the large-sample form of McNemar's test). A change is **beyond noise** when that interval excludes 0.

The measures tell "learned the format" from "learned the task": format adherence, accuracy by the most lenient
reading (any answer the grader can find, format ignored), accuracy requiring the format, the reward's own accuracy,
and the sampled accuracy at the evaluation temperature. If only the format moved beyond noise, the job says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from rl_reasoner.stats import Interval, paired_change, wilson


def _flag(value) -> float:
    return 1.0 if value is True else 0.0  # undecided (None) is not right


MEASURES = [
    ("format", "format adherence", lambda r: None if r.get("formatted") is None else _flag(r["formatted"])),
    ("accuracy_lenient", "accuracy, lenient reading (format ignored)",
     lambda r: None if r.get("lenient") is None else _flag(r["lenient"])),
    ("accuracy_formatted", "accuracy requiring the format",
     lambda r: None if r.get("formatted") is None else _flag(r.get("correct") is True and r["formatted"] is True)),
    ("accuracy", "accuracy (the accuracy reward, greedy)", lambda r: _flag(r.get("correct"))),
    ("pass@1", "sampled accuracy", lambda r: r["sampled_correct"] / r["samples"] if r.get("samples") else None),
]
"""(metric, label, per-example value or None when the record cannot say)."""


@dataclass(frozen=True)
class Change:
    metric: str
    label: str
    before: Interval
    after: Interval
    change: Interval

    @property
    def beyond_noise(self) -> bool:
        return self.change.excludes_zero()


def paired_changes(first: list[dict], last: list[dict], temperature: float | None = None) -> list[Change]:
    """The change of every measure between two evaluations' per-example records (paired by ``prompt_id``); a
    measure that some record cannot give (no format reward, no lenient reading, no samples) is left out.

    >>> first = [{"prompt_id": i, "correct": i < 5, "formatted": i < 2} for i in range(40)]
    >>> last = [{"prompt_id": i, "correct": i < 6, "formatted": True} for i in range(40)]
    >>> [(c.metric, round(c.change.value, 3), c.beyond_noise) for c in paired_changes(first, last)]
    [('format', 0.95, True), ('accuracy_formatted', 0.1, True), ('accuracy', 0.025, False)]
    """
    after_by_id = {r["prompt_id"]: r for r in last}
    pairs = [(r, after_by_id[r["prompt_id"]]) for r in first if r["prompt_id"] in after_by_id]
    out = []
    for metric, label, read in MEASURES:
        before = [read(a) for a, _ in pairs]
        after = [read(b) for _, b in pairs]
        if not pairs or None in before or None in after:
            continue
        if metric == "pass@1" and temperature is not None:
            label = f"{label} (T = {temperature:g})"
        n = len(pairs)
        out.append(Change(metric, label, wilson(sum(before) / n, n), wilson(sum(after) / n, n),
                          paired_change(before, after)))
    return out


def format_changes(changes: list[Change], first_step: int, last_step: int) -> str:
    """A few lines for the end of a job: each measure before → after with intervals, the change, and a verdict."""
    n = changes[0].change.n
    lines = [f"[rl-reasoner] what changed on {n} held-out examples, step {first_step} -> {last_step} "
             f"(95% intervals; a change is beyond noise when its paired interval excludes 0):"]
    width = max(len(c.label) for c in changes)
    for c in changes:
        verdict = "beyond noise" if c.beyond_noise else "within noise"
        lines.append(f"  {c.label:<{width}}  {c.before} -> {c.after}   change {c.change.value:+.3f} "
                     f"[{c.change.low:+.3f}, {c.change.high:+.3f}]  {verdict}")
    lines.append("  " + conclusion(changes))
    return "\n".join(lines)


def conclusion(changes: list[Change]) -> str:
    """One sentence: what the job taught, as far as the intervals can tell.

    >>> i = lambda v, lo, hi: Interval(v, lo, hi, 60)
    >>> conclusion([Change("format", "", i(.5, .4, .6), i(1, .9, 1), i(.5, .4, .6)),
    ...             Change("accuracy_lenient", "", i(.7, .6, .8), i(.65, .5, .75), i(-.05, -.15, .05))])
    'learned the format only: no accuracy measure moved beyond noise'
    """
    by = {c.metric: c for c in changes}
    moved = [c for c in changes if c.metric != "format" and c.beyond_noise]
    up = [c.label for c in moved if c.change.value > 0]
    down = [c.label for c in moved if c.change.value < 0]
    format_up = "format" in by and by["format"].beyond_noise and by["format"].change.value > 0
    if not moved:
        return ("learned the format only: no accuracy measure moved beyond noise" if format_up
                else "no change beyond noise")
    parts = []
    if up:
        parts.append("improved beyond noise: " + ", ".join(up))
    if down:
        parts.append("worse beyond noise: " + ", ".join(down))
    lenient = by.get("accuracy_lenient")
    if format_up and lenient is not None and not lenient.beyond_noise:
        parts.append("the lenient accuracy did not move: the gain is the format")
    return "; ".join(parts)
