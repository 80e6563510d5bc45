"""Reward for `reasoning_gym:<name>` tasks: the dataset's own `score_answer`, strict by default.

reasoning-gym's default scorer gives partial credit when the gold merely appears inside the answer
("x 30" against "30" scores 0.5) — a reward a policy learns to hack by padding its answer. `mode="strict"`
(the default) gives 1.0 only when the dataset's scorer gives full marks and 0.0 otherwise; `mode="native"`
passes the scorer's value through unchanged.

Rows carry `rg_dataset` and `rg_entry` (JSON with the entry and the `source` it was drawn from: config,
seed, size and index). The entry is rebuilt from its source, so the scorer sees exactly the metadata it
produced (a JSON round trip turns tuples into lists, which breaks some scorers); the JSON copy is used
only when no source is recorded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from rewards.extract import completion_text, last_answer_block
from rewards.registry import register

MODES = ("strict", "native")


@lru_cache(maxsize=32)
def _dataset(name: str, config_json: str, seed: int, size: int):
    import reasoning_gym

    return reasoning_gym.create_dataset(name, **json.loads(config_json), seed=seed, size=size)


def _scorer(name: str, source: dict | None):
    """The dataset object whose `score_answer` scores entries of `name` (built from `source` when known)."""
    if source is not None:
        return _dataset(name, json.dumps(source["config"], sort_keys=True), source["seed"], source["size"])
    return _dataset(name, "{}", 0, 1)


@lru_cache(maxsize=4096)
def load_entry(name: str, entry_json: str) -> tuple[Any, dict]:
    """The dataset (for its scorer) and the exact entry described by a row's `rg_dataset` and `rg_entry`.

    Cached: the completions of one prompt share the entry, and some datasets take a while to rebuild one.

    >>> dataset, entry = load_entry("leg_counting", json.dumps(
    ...     {"question": "?", "answer": "4", "metadata": {}, "source": None}))
    >>> entry["answer"], dataset.score_answer("4", entry)
    ('4', 1.0)
    """
    payload = json.loads(entry_json)
    source = payload.get("source")
    dataset = _scorer(name, source)
    if source is not None:
        rebuilt = dataset[source["index"]]
        if rebuilt["question"] == payload["question"]:
            return dataset, rebuilt
    return dataset, {key: payload.get(key) for key in ("question", "answer", "metadata")}


def score(answer: str | None, dataset: Any, entry: dict, mode: str = "strict") -> tuple[float, str]:
    """Score one extracted answer; returns the reward and a short reason.

    >>> dataset, entry = load_entry("leg_counting", json.dumps(
    ...     {"question": "?", "answer": "30", "metadata": {}, "source": None}))
    >>> score("x 30", dataset, entry, "native"), score("x 30", dataset, entry, "strict")
    ((0.5, 'partial credit 0.5'), (0.0, 'partial credit 0.5 not counted (strict)'))
    """
    if answer is None:
        return 0.0, "no final <answer> block"
    try:
        value = float(dataset.score_answer(answer, entry))
    except Exception as error:  # a scorer choking on a malformed answer means the answer is wrong
        return 0.0, f"scorer rejected the answer ({type(error).__name__})"
    if value >= 1.0:
        return 1.0, "correct"
    if value <= 0.0:
        return 0.0, "wrong"
    if mode == "strict":
        return 0.0, f"partial credit {value:g} not counted (strict)"
    return value, f"partial credit {value:g}"


@register("reasoning_gym")
def reasoning_gym_reward(
    completions: list,
    rg_dataset: list[str],
    rg_entry: list[str],
    mode: str = "strict",
    log_extra: Callable[[str, list], None] | None = None,
    **kwargs: Any,
) -> list[float | None]:
    """Score each completion's final `<answer>` block with its reasoning-gym dataset's `score_answer`.

    Args:
        completions: strings or TRL chat messages.
        rg_dataset: dataset name per row (a column of `reasoning_gym:<name>` tasks).
        rg_entry: JSON entry per row (a column of `reasoning_gym:<name>` tasks).
        mode: "strict" (full credit or nothing, the default) or "native" (the scorer's partial credit).
        log_extra: TRL's hook; receives the reasons under `reason/reasoning_gym`.

    Returns:
        One reward per completion; `None` when the row's entry cannot be read (not scorable).

    >>> entry = json.dumps({"question": "?", "answer": "30", "metadata": {}, "source": None})
    >>> reasoning_gym_reward(["<answer>30</answer>", "<answer>x 30</answer>", "30"], ["leg_counting"] * 3, [entry] * 3)
    [1.0, 0.0, 0.0]
    """
    if mode not in MODES:
        raise ValueError(f"reasoning_gym reward: mode must be one of {MODES}, got {mode!r}")
    rewards: list[float | None] = []
    reasons: list[str] = []
    for completion, name, entry_json in zip(completions, rg_dataset, rg_entry, strict=True):
        try:
            dataset, entry = load_entry(name, entry_json)
        except Exception as error:
            rewards.append(None)
            reasons.append(f"entry not scorable ({type(error).__name__}: {error})")
            continue
        answer = last_answer_block(completion_text(completion))
        value, reason = score(None if answer is None else answer.strip(), dataset, entry, mode)
        rewards.append(value)
        reasons.append(reason)
    if callable(log_extra):
        log_extra("reason/reasoning_gym", reasons)
    return rewards
