import pickle
import textwrap

import pytest

import rewards
from rewards.registry import BoundReward, UnknownRewardError
from plugin_fixture import PLUGIN_REWARD_NAME, make_reward_plugin


def test_builtin_rewards_are_registered():
    names = rewards.available()
    for name in ["math_accuracy", "format_reward", "countdown", "soft_overlong_punishment", "repetition_penalty", "cosine_scaled", "think_format"]:
        assert name in names
    assert rewards.get("format_reward") is rewards.format_reward


def test_register_by_decorator_and_build_by_name():
    @rewards.register("test_registry_length")
    def length_reward(completions, scale=1.0, **kwargs):
        return [scale * len(c) for c in completions]

    assert rewards.get("test_registry_length") is length_reward
    reward = rewards.build({"name": "test_registry_length", "weight": 2.0, "params": {"scale": 0.5}})
    assert reward.__name__ == "test_registry_length"
    assert reward(["ab", "abcd"]) == [1.0, 2.0]
    assert rewards.build("test_registry_length")(["ab"]) == [2.0]


def test_registering_another_function_under_a_taken_name_fails():
    with pytest.raises(ValueError, match="already registered"):

        @rewards.register("math_accuracy")
        def impostor(completions, **kwargs):
            return [1.0] * len(completions)

    assert rewards.get("math_accuracy") is rewards.math_accuracy


def test_unknown_name_lists_names_and_suggests_the_nearest():
    with pytest.raises(UnknownRewardError) as caught:
        rewards.build("math_acuracy")
    message = str(caught.value)
    assert "Did you mean 'math_accuracy'?" in message
    assert "format_reward" in message and "countdown" in message
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, ValueError)


def test_unknown_param_names_the_reward_and_the_param():
    with pytest.raises(ValueError, match=r"'math_accuracy' has no parameter 'timout'. Did you mean 'timeout'\?"):
        rewards.build({"name": "math_accuracy", "params": {"timout": 2}})
    with pytest.raises(ValueError, match=r"'format_reward' has no parameter 'log_extra'"):
        rewards.build({"name": "format_reward", "params": {"log_extra": None}})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"timeout": "3"}, r"'math_accuracy': parameter 'timeout' must be float, got str"),
        ({"fallback_last_number": 1}, r"parameter 'fallback_last_number' must be bool"),
        ({"max_answer_length": 2.5}, r"parameter 'max_answer_length' must be int"),
        ({"max_answer_length": True}, r"parameter 'max_answer_length' must be int"),
    ],
)
def test_param_of_the_wrong_type(params, message):
    with pytest.raises(ValueError, match=message):
        rewards.build({"name": "math_accuracy", "params": params})


def test_ints_are_fine_where_floats_are_expected():
    assert rewards.build({"name": "math_accuracy", "params": {"timeout": 2}}).params == {"timeout": 2}


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ({"params": {}}, ValueError, "needs a 'name'"),
        ({"name": "format_reward", "param": {}}, ValueError, "unknown keys"),
        ({"name": "format_reward", "params": [1]}, ValueError, "'params' must be a mapping"),
        (42, TypeError, "a reward spec is a name or a mapping"),
    ],
)
def test_malformed_specs(spec, error, message):
    with pytest.raises(error, match=message):
        rewards.build(spec)


def test_spec_objects_with_name_and_params_attributes():
    class Spec:
        name = "format_reward"
        weight = 1.0
        params = {"partial": True}

    assert rewards.build(Spec())(["<answer>4</answer>"]) == [0.25]


def test_import_path(tmp_path, monkeypatch):
    (tmp_path / "my_lab_rewards.py").write_text(
        textwrap.dedent(
            """
            def exact_match(completions, answer, **kwargs):
                return [float(c.strip() == a) for c, a in zip(completions, answer)]
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    reward = rewards.build({"name": "my_lab_rewards:exact_match"})
    assert reward.__name__ == "exact_match"
    assert reward([" 4", "5"], answer=["4", "4"]) == [1.0, 0.0]
    with pytest.raises(ValueError, match="has no attribute"):
        rewards.build("my_lab_rewards:nope")
    with pytest.raises(ValueError, match="cannot import module"):
        rewards.build("no_such_module_xyz:fn")


def test_factories_build_trls_shaping_rewards():
    reward = rewards.build({"name": "soft_overlong_punishment", "params": {"max_completion_len": 10, "soft_punish_cache": 4}})
    assert reward.__name__ == "soft_overlong_punishment"
    assert reward(["a", "b", "c"], completion_ids=[[0] * 6, [0] * 8, [0] * 11]) == [0.0, -0.5, -1.0]
    penalty = rewards.build({"name": "repetition_penalty", "params": {"ngram_size": 2}})
    assert penalty(["x", "y"], completion_ids=[[1, 2, 3, 4], [5, 5, 5, 5, 5]]) == [0.0, -0.75]


def test_factory_param_errors_name_the_reward():
    with pytest.raises(ValueError, match=r"'soft_overlong_punishment' needs the parameter\(s\) soft_punish_cache"):
        rewards.build({"name": "soft_overlong_punishment", "params": {"max_completion_len": 10}})
    with pytest.raises(ValueError, match=r"reward 'repetition_penalty': bad params .*max_penalty"):
        rewards.build({"name": "repetition_penalty", "params": {"max_penalty": 0.5}})


def test_bound_reward_files_reasons_under_its_own_name():
    rewards.register("test_registry_format_alias")(rewards.format_reward)
    logged = {}
    reward = rewards.build({"name": "test_registry_format_alias", "params": {"partial": True}})
    reward(["<think>a</think><answer>4</answer>"], log_extra=logged.__setitem__)
    assert logged == {"reason/test_registry_format_alias": ["ok"]}


def test_bound_reward_pickles():
    reward = rewards.build({"name": "format_reward", "params": {"partial": True}})
    copy = pickle.loads(pickle.dumps(reward))
    assert isinstance(copy, BoundReward) and copy.__name__ == "format_reward"
    assert copy(["<answer>4</answer>"]) == reward(["<answer>4</answer>"]) == [0.25]
    factory_made = rewards.build({"name": "repetition_penalty"})
    assert pickle.loads(pickle.dumps(factory_made))(["x"], completion_ids=[[1, 1, 1, 1]]) == [-0.5]


def test_trl_names_the_metric_after_the_reward():
    from trl.trainer.utils import get_callable_name

    assert get_callable_name(rewards.build({"name": "format_reward", "params": {"partial": True}})) == "format_reward"


def test_plugin_is_discovered_through_its_entry_point(tmp_path, monkeypatch):
    assert PLUGIN_REWARD_NAME not in rewards.available()
    monkeypatch.syspath_prepend(str(make_reward_plugin(tmp_path)))
    assert PLUGIN_REWARD_NAME in rewards.available()
    reward = rewards.build({"name": PLUGIN_REWARD_NAME, "params": {"max_chars": 5}})
    logged = {}
    assert reward(["short", "too long"], log_extra=logged.__setitem__) == [1.0, 0.0]
    assert reward.__name__ == PLUGIN_REWARD_NAME
    assert logged == {f"reason/{PLUGIN_REWARD_NAME}": ["short", "long"]}
    with pytest.raises(ValueError, match="has no parameter 'max_char'"):
        rewards.build({"name": PLUGIN_REWARD_NAME, "params": {"max_char": 5}})


def test_a_broken_plugin_does_not_break_the_others(tmp_path, monkeypatch):
    dist_info = tmp_path / "broken_reward_plugin-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-reward-plugin\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text("[rl_reasoner.rewards]\ntest_broken = no_such_module_abc:fn\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(UserWarning, match="test_broken"):
        names = rewards.available()
    assert "math_accuracy" in names and "test_broken" not in names
    with pytest.raises(RuntimeError, match="failed to load"):
        rewards.get("test_broken")


def test_package_imports_without_the_code_sandbox(tmp_path):
    """`rewards.code` is another part; until it exists, the package imports without `code_tests`."""
    import subprocess
    import sys
    from pathlib import Path

    script = textwrap.dedent(
        """
        import importlib.abc, sys

        class HideCodeModule(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "rewards.code":
                    raise ModuleNotFoundError("No module named 'rewards.code'", name=name)
                return None

        sys.meta_path.insert(0, HideCodeModule())
        import rewards
        assert not hasattr(rewards, "code_tests") and "code_tests" not in rewards.__all__
        assert rewards.math_accuracy(["<answer>4</answer>"], answer=["4"]) == [1.0]
        print("ok")
        """
    )
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr


def test_the_reward_written_in_the_docs_works():
    import re
    from pathlib import Path

    docs = (Path(__file__).resolve().parent.parent / "docs" / "rewards.md").read_text()
    [snippet] = [block for block in re.findall(r"```python\n(.*?)```", docs, re.S) if "answer_brevity" in block]
    assert len(snippet.strip().splitlines()) <= 16
    exec(compile(snippet, "docs/rewards.md", "exec"), {})
    reward = rewards.build({"name": "answer_brevity", "params": {"max_chars": 3}})
    logged = {}
    assert reward(["<answer>12</answer>", "<answer>12345</answer>"], log_extra=logged.__setitem__) == [1.0, 0.0]
    assert logged == {"reason/answer_brevity": ["short", "long"]}
