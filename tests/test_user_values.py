"""One type check and one spelling hint for every value a user writes: reward params, task params, config."""

from dataclasses import dataclass

import pytest

import rewards
from rewards.user_values import BadValue, coerce, did_you_mean
from rl_reasoner.config import ConfigError, from_dict
from rl_reasoner.tasks.base import TaskError, parse_params


@dataclass
class Params:
    rate: float = 0.5
    sizes: list[int] | None = None


@pytest.mark.parametrize(
    ("value", "hint", "expected"),
    [(2, float, 2.0), ("1e-5", float, 1e-5), ("-3E2", float, -300.0), (None, dict, {}), ((1, 2), list[int], (1, 2)),
     ("a", str | None, "a"), (None, int | None, None)],
)
def test_coerce_accepts_what_a_job_file_may_write(value, hint, expected):
    assert coerce(value, hint) == expected
    assert type(coerce(value, hint)) is type(expected)


@pytest.mark.parametrize(("value", "hint"), [("3", float), ("fast", float), (True, int), (2.5, int), (1, bool),
                                             ("x", list[str]), ([1, "b"], list[int]), (None, int), ([], dict)])
def test_coerce_refuses_a_value_of_another_type(value, hint):
    with pytest.raises(BadValue, match="expected "):
        coerce(value, hint)


def test_reward_params_task_params_and_config_fields_agree():
    # the same two values, written in each place a job file has: 1e-5 (a string to YAML 1.1) is a float,
    # the string "3" is not a number
    assert rewards.build({"name": "math_accuracy", "params": {"timeout": "1e-5"}}).params["timeout"] == 1e-5
    assert parse_params("demo", Params, {"rate": "1e-5"}).rate == 1e-5
    assert from_dict({"sampling": {"pass_rate_decay": "1e-5"}}).sampling.pass_rate_decay == 1e-5
    with pytest.raises(ValueError, match="'timeout' must be float"):
        rewards.build({"name": "math_accuracy", "params": {"timeout": "3"}})
    with pytest.raises(TaskError, match="param 'rate' should be float, got '3'"):
        parse_params("demo", Params, {"rate": "3"})
    with pytest.raises(ConfigError, match="sampling.pass_rate_decay: expected float, got '3'"):
        from_dict({"sampling": {"pass_rate_decay": "3"}})
    with pytest.raises(ConfigError, match=r"rewards\[0\]\.weight: expected float"):
        from_dict({"rewards": [{"name": "math_accuracy", "weight": "heavy"}]})


def test_did_you_mean_names_the_closest_choice_only_when_close():
    assert did_you_mean("timout", ["timeout", "weight"]) == " Did you mean 'timeout'?"
    assert did_you_mean("zzz", ["timeout", "weight"]) == ""
    with pytest.raises(ConfigError, match=r"run\.stpes: unknown key\. Did you mean 'steps'\? Valid keys: "):
        from_dict({"run": {"stpes": 3}})


def test_a_command_line_value_is_read_as_yaml_in_both_commands_that_take_one():
    from rl_reasoner.config import apply_override
    from rl_reasoner.score import parse_assignments

    raw = {}
    apply_override(raw, "eval.k=[3, 5]", "job.yaml")
    assert raw == {"eval": {"k": [3, 5]}}
    assert parse_assignments(["numbers=[3, 5]", "gold="], "column") == {"numbers": [3, 5], "gold": None}
    with pytest.raises(ConfigError, match=r"job\.yaml: --set eval\.k: '\[3,' is not a YAML value"):
        apply_override(raw, "eval.k=[3,", "job.yaml")
    with pytest.raises(ValueError, match=r"--param numbers: '\[3,' is not a YAML value"):
        parse_assignments(["numbers=[3,"], "param")
