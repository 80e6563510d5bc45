"""Task registry, TaskData checks and the `arithmetic` task."""

import doctest

import pytest

import rl_reasoner.tasks as tasks
import rl_reasoner.tasks.arithmetic as arithmetic
import rl_reasoner.tasks.base as base
from rl_reasoner.tasks import TaskData, TaskError, available, describe_all, get


@pytest.mark.parametrize("module", [tasks, base, arithmetic])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0


def test_unknown_task_lists_names_and_suggests():
    with pytest.raises(TaskError, match=r"unknown task 'arithmatic'\. Did you mean 'arithmetic'\?.*Known tasks"):
        get("arithmatic")
    assert "arithmetic" in available()


def test_spec_contract():
    spec = get("arithmetic")
    assert spec.name == "arithmetic" and "\n" not in spec.description
    assert spec.columns == ("answer",)
    assert spec.default_template == "r1_zero"
    assert {r["name"] for r in spec.default_rewards} == {"format_reward", "math_accuracy"}
    assert all(set(r) == {"name", "weight", "params"} for r in spec.default_rewards)
    assert "arithmetic" in describe_all() and "math_accuracy" in describe_all()


def row(i, question=None):
    return {"id": f"r{i}", "question": question or f"q{i}", "answer": str(i)}


@pytest.mark.parametrize(
    "train, eval_, message",
    [
        ([row(1)], [row(1)], "also in the train split"),
        ([row(1)], [{**row(2), "question": "q1"}], "same question as a train row"),
        ([row(1), row(1, "other")], [row(2)], "appears twice in the train split"),
        ([row(1)], [], "eval split is empty"),
        ([{"id": "a", "question": ""}], [row(2)], "no usable 'question'"),
        ([{"question": "q"}], [row(2)], "no usable 'id'"),
    ],
)
def test_taskdata_rejects_bad_splits(train, eval_, message):
    with pytest.raises(TaskError, match=message):
        TaskData(train=train, eval=eval_, task="demo")


def check_arithmetic_rows(data):
    for r in data.train + data.eval:
        expr = r["question"].removeprefix("What is ").removesuffix("?")
        assert r["answer"] == str(eval(expr))  # independent check of the gold
    assert not {r["id"] for r in data.train} & {r["id"] for r in data.eval}
    assert not {r["question"] for r in data.train} & {r["question"] for r in data.eval}
    assert len({r["question"] for r in data.train}) == len(data.train)


def test_arithmetic_sizes_gold_and_disjointness():
    data = get("arithmetic").load({"min_value": 0, "max_value": 9, "num_train": 60, "num_eval": 30}, seed=1)
    assert (len(data.train), len(data.eval)) == (60, 30)
    check_arithmetic_rows(data)
    assert all(r["question"].startswith("What is ") for r in data.train)


def test_arithmetic_large_space_is_sampled_distinct():
    data = get("arithmetic").load(
        {"min_value": -50, "max_value": 500, "ops": "+-*", "num_terms": 3, "num_train": 3000, "num_eval": 200}, 0
    )
    assert (len(data.train), len(data.eval)) == (3000, 200)
    check_arithmetic_rows(data)
    assert {op for r in data.train for op in "+-*" if f" {op} " in r["question"]} == {"+", "-", "*"}


def test_arithmetic_is_seeded_and_eval_does_not_depend_on_run_seed():
    params = {"max_value": 30, "num_train": 50, "num_eval": 20}
    a, b, c = (get("arithmetic").load(params, seed) for seed in (0, 0, 1))
    assert a == b
    assert [r["id"] for r in a.eval] == [r["id"] for r in c.eval]
    assert [r["id"] for r in a.train] != [r["id"] for r in c.train]
    other_eval = get("arithmetic").load({**params, "eval_seed": 5}, 0)
    assert [r["id"] for r in other_eval.eval] != [r["id"] for r in a.eval]


def test_arithmetic_default_takes_every_problem_not_held_out():
    data = get("arithmetic").load({"difficulty": "add1", "num_eval": 10}, 0)
    assert (len(data.train), len(data.eval)) == (90, 10)  # 10 x 10 one-digit sums
    check_arithmetic_rows(data)


def test_arithmetic_presets_and_overrides():
    data = get("arithmetic").load({"difficulty": "add2", "num_train": 20, "num_eval": 5, "ops": "-"}, 0)
    assert all(" - " in r["question"] for r in data.train)
    assert max(int(n) for r in data.train for n in r["question"][8:-1].split(" - ")) > 9


def test_arithmetic_no_negative_answers_when_disallowed():
    data = get("arithmetic").load({"ops": "-", "allow_negative": False, "num_train": 100, "num_eval": 20}, 0)
    assert all(int(r["answer"]) >= 0 for r in data.train + data.eval)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"num_trian": 3}, "unknown param 'num_trian'. Did you mean 'num_train'"),
        ({"ops": "/"}, "subset of '\\+-\\*'"),
        ({"max_value": "9"}, "param 'max_value' should be int"),
        ({"difficulty": "hard"}, "unknown difficulty 'hard'"),
        ({"num_terms": 1}, "num_terms must be at least 2"),
        ({"min_value": 5, "max_value": 1}, "larger than max_value"),
        ({"num_eval": 0}, "at least 1"),
        ({"max_value": 9, "num_train": 95, "num_eval": 10}, "only 100 distinct problems"),
        ({"max_value": 9, "num_eval": 100}, "only 100 distinct problems"),
    ],
)
def test_arithmetic_bad_params_name_task_and_param(params, message):
    with pytest.raises(TaskError, match=message) as info:
        get("arithmetic").load(params, 0)
    assert "task 'arithmetic'" in str(info.value)


def test_available_lists_every_family_member():
    names = available()
    assert "reasoning_gym:leg_counting" in names and "reasoning_gym:<name>" not in names
    assert get("reasoning_gym:leg_counting").name == "reasoning_gym:leg_counting"
    with pytest.raises(TaskError, match=r"Known tasks: \[.*'reasoning_gym:<name>'\]"):
        get("nonsense")


def test_arithmetic_gold_is_read_by_the_safe_evaluator_with_negative_operands_and_precedence():
    data = get("arithmetic").load({"min_value": -9, "max_value": 9, "ops": "+-*", "num_terms": 3, "num_train": 50,
                                   "num_eval": 20}, seed=1)
    for row in data.train + data.eval:
        a, op1, b, op2, c = row["question"].removeprefix("What is ").removesuffix("?").split()
        a, b, c = int(a), int(b), int(c)
        apply = {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y}
        expected = (apply[op1](a, apply[op2](b, c)) if op2 == "*" and op1 != "*"
                    else apply[op2](apply[op1](a, b), c))
        assert row["answer"] == str(expected), row
    with pytest.raises(ValueError, match="Call is not allowed"):
        arithmetic.value_of("__import__('os').getpid()")
