import doctest
import importlib

import pytest

import rewards

shaping = importlib.import_module("rewards.shaping")


def test_doctests():
    assert doctest.testmod(shaping).failed == 0


def test_shaping_rewards_are_trls_own_functions():
    from trl.rewards.other_rewards import _RepetitionPenalty, _SoftOverlongPunishment

    assert isinstance(rewards.build({"name": "repetition_penalty"}).function, _RepetitionPenalty)
    overlong = rewards.build({"name": "soft_overlong_punishment", "params": {"max_completion_len": 8, "soft_punish_cache": 2}})
    assert isinstance(overlong.function, _SoftOverlongPunishment)


def test_cosine_scaled_reads_the_answer_column_and_plain_strings():
    reward = rewards.build({"name": "cosine_scaled", "params": {"max_len": 100}})
    completions = [r"\boxed{\frac{1}{3}}", r"\boxed{\frac{1}{2}}"]
    scores = reward(completions, answer=[r"\frac{1}{3}", r"\frac{1}{3}"], completion_ids=[[1] * 50, [1] * 50])
    assert scores == pytest.approx([0.75, -0.75])


def test_think_format_takes_strings_and_messages():
    reward = rewards.build("think_format")
    assert reward(["<think>a</think>4", [{"role": "assistant", "content": "4"}]]) == [1.0, 0.0]


def test_bad_shaping_params_name_the_reward():
    with pytest.raises(ValueError, match="'soft_overlong_punishment': bad params"):
        rewards.build({"name": "soft_overlong_punishment", "params": {"max_completion_len": 8, "soft_punish_cache": 20}})
    with pytest.raises(ValueError, match="'cosine_scaled' needs the parameter"):
        rewards.build("cosine_scaled")
