"""The offline procedural tasks beyond arithmetic: countdown and reasoning_gym:<name> (+ its reward)."""

import doctest
import json

import pytest

import rewards.reasoning_gym as rg_reward
import rl_reasoner.tasks.countdown as countdown
import rl_reasoner.tasks.reasoning_gym as rg_task
from rewards.countdown import countdown as countdown_reward
from rewards.registry import build
from rl_reasoner.tasks import TaskError, describe_all, get


@pytest.mark.parametrize("module", [countdown, rg_task, rg_reward])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0


# --- countdown -----------------------------------------------------------------------------------------


def test_countdown_rows_are_solvable_and_scored_by_the_reward():
    data = get("countdown").load({"num_train": 200, "num_eval": 50}, seed=3)
    rows = data.train + data.eval
    assert all(3 <= len(r["numbers"]) <= 4 and 1 <= r["target"] <= 100 for r in rows)
    assert {len(r["numbers"]) for r in rows} == {3, 4}
    # The stored solution is a valid answer for the same reward the task trains with.
    scores = countdown_reward([f"<answer>{r['answer']}</answer>" for r in rows],
                              numbers=[r["numbers"] for r in rows], target=[r["target"] for r in rows])
    assert scores == [1.0] * len(rows)
    assert countdown_reward(["<answer>1 + 1</answer>"], numbers=[rows[0]["numbers"]], target=[rows[0]["target"]]) == [0.0]


def test_countdown_splits_disjoint_as_problems_and_seeded():
    params = {"num_train": 300, "num_eval": 60}
    a, b, c = (get("countdown").load(params, seed) for seed in (0, 0, 1))
    assert a == b and a.train != c.train and a.eval == c.eval
    key = lambda r: (tuple(sorted(r["numbers"])), r["target"])  # noqa: E731
    assert not {key(r) for r in a.train} & {key(r) for r in a.eval}
    assert len({key(r) for r in a.train}) == len(a.train)


def test_countdown_difficulty_knobs():
    data = get("countdown").load(
        {"min_numbers": 4, "max_numbers": 4, "max_number": 9, "max_target": 30, "ops": "+-", "num_train": 50, "num_eval": 10}, 0
    )
    assert all(len(r["numbers"]) == 4 and max(r["numbers"]) <= 9 and r["target"] <= 30 for r in data.train)
    assert all("*" not in r["answer"] and "/" not in r["answer"] for r in data.train)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"min_numbers": 5, "max_numbers": 4}, "min_numbers <= max_numbers"),
        ({"ops": "^"}, "subset of"),
        ({"num_train": 5000, "max_number": 2, "min_numbers": 3, "max_numbers": 3}, "distinct problems"),
        ({"max_target": 0, "min_target": -5, "min_number": 50}, "no solvable problem"),
    ],
)
def test_countdown_bad_params(params, message):
    with pytest.raises(TaskError, match=message):
        get("countdown").load(params, 0)


# --- reasoning_gym:<name> ----------------------------------------------------------------------------


def rg_columns(rows):
    return {"rg_dataset": [r["rg_dataset"] for r in rows], "rg_entry": [r["rg_entry"] for r in rows]}


def test_reasoning_gym_rows_carry_what_the_reward_needs():
    data = get("reasoning_gym:leg_counting").load({"num_train": 40, "num_eval": 10, "config": {"max_animals": 4}}, 0)
    assert (len(data.train), len(data.eval)) == (40, 10)
    row = data.train[0]
    assert row["rg_dataset"] == "leg_counting" and row["question"] == json.loads(row["rg_entry"])["question"].strip()
    assert all(len(json.loads(r["rg_entry"])["metadata"]["animals"]) <= 4 for r in data.train)
    reward = build({"name": "reasoning_gym"})
    right = reward([f"<think>count</think><answer> {r['answer']} </answer>" for r in data.train], **rg_columns(data.train))
    assert right == [1.0] * len(data.train)
    wrong = reward([f"<answer>{int(r['answer']) + 1}</answer>" for r in data.train], **rg_columns(data.train))
    assert wrong == [0.0] * len(data.train)


def test_reasoning_gym_num_train_means_distinct_rows_even_when_the_config_repeats_itself():
    """configs/reasoning_gym.yaml's small config repeats ~40% of its questions: more are drawn to replace them."""
    config = {"min_animals": 1, "max_animals": 2, "min_instances": 1, "max_instances": 3}
    data = get("reasoning_gym:leg_counting").load({"num_train": 300, "num_eval": 50, "config": config}, 0)
    assert (len(data.train), len(data.eval)) == (300, 50)
    assert len({r["question"] for r in data.train}) == 300 and data.dropped  # the repeats are still counted
    beyond = [r for r in data.train if json.loads(r["rg_entry"])["source"]["index"] >= 300]
    assert beyond  # rows drawn past the first 300 entries are scored against the entry they came from
    reward = build({"name": "reasoning_gym"})
    assert reward([f"<answer>{r['answer']}</answer>" for r in beyond], **rg_columns(beyond)) == [1.0] * len(beyond)


def test_reasoning_gym_a_config_with_too_few_distinct_questions_keeps_what_there_is_and_says_so():
    config = {"min_animals": 1, "max_animals": 1, "min_instances": 1, "max_instances": 1}  # a handful of questions
    data = get("reasoning_gym:leg_counting").load({"num_train": 200, "num_eval": 5, "config": config}, 0)
    assert 0 < len(data.train) < 200 and len({r["question"] for r in data.train}) == len(data.train)
    assert data.dropped["train: short of num_train (the config yields too few distinct questions)"] == 200 - len(data.train)


def test_reasoning_gym_strict_mode_refuses_partial_credit_native_keeps_it():
    rows = get("reasoning_gym:leg_counting").load({"num_train": 5, "num_eval": 5}, 0).train
    padded = [f"<answer>x {r['answer']}</answer>" for r in rows]  # gold contained in the answer
    reasons = {}
    strict = build({"name": "reasoning_gym"})(padded, **rg_columns(rows), log_extra=reasons.__setitem__)
    native = build({"name": "reasoning_gym", "params": {"mode": "native"}})(padded, **rg_columns(rows))
    assert strict == [0.0] * 5
    assert all(0.0 < value < 1.0 for value in native)
    assert all("not counted (strict)" in reason for reason in reasons["reason/reasoning_gym"])


def test_reasoning_gym_scorer_sees_exact_metadata():
    # arc_agi's scorer needs tuples in its metadata: a JSON round trip alone would give 0.05, not 1.0.
    rows = get("reasoning_gym:arc_agi").load({"num_train": 3, "num_eval": 2}, 0).train
    scores = build({"name": "reasoning_gym"})([f"<answer>{r['answer']}</answer>" for r in rows], **rg_columns(rows))
    assert scores == [1.0] * 3


def test_reasoning_gym_unreadable_entry_is_not_scorable():
    reasons = {}
    out = rg_reward.reasoning_gym_reward(["<answer>1</answer>"], ["leg_counting"], ["{not json"], log_extra=reasons.__setitem__)
    assert out == [None] and reasons["reason/reasoning_gym"][0].startswith("entry not scorable")
    with pytest.raises(ValueError, match="mode must be one of"):
        rg_reward.reasoning_gym_reward([], [], [], mode="lenient")


def test_reasoning_gym_splits_disjoint_and_duplicates_reported():
    data = get("reasoning_gym:coin_flip").load({"num_train": 200, "num_eval": 40}, 0)
    assert not {r["question"] for r in data.train} & {r["question"] for r in data.eval}
    assert (len(data.train), len(data.eval)) == (200, 40)  # repeats are replaced by further draws ...
    assert data.dropped and all(v > 0 for v in data.dropped.values())  # ... and still counted
    again = get("reasoning_gym:coin_flip").load({"num_train": 200, "num_eval": 40}, 1)
    assert [r["id"] for r in again.eval] == [r["id"] for r in data.eval]


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("reasoning_gym:leg_countin", {}, "Did you mean 'leg_counting'"),
        ("reasoning_gym:leg_counting", {"config": {"min_animal": 3}}, "Did you mean 'min_animals'"),
        ("reasoning_gym:leg_counting", {"config": {"min_animals": 5, "max_animals": 2}}, "max_animals must be >= min_animals"),
        ("reasoning_gym:leg_counting", {"num_eval": 0}, "at least 1"),
    ],
)
def test_reasoning_gym_bad_input(name, params, message):
    with pytest.raises(TaskError, match=message):
        get(name).load(params, 0)


def test_describe_all_lists_every_task():
    table = describe_all()
    for name in ("arithmetic", "countdown", "reasoning_gym:<name>"):
        assert name in table
