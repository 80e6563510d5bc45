"""Behaviour metrics: markers, per-1k rates, repetition, language mixing, the reflective accuracy split."""

import json
import math

import pytest

from rl_reasoner.behaviour import (
    DEFAULT_MARKERS,
    batch_metrics,
    language_mixing,
    load_markers,
    marker_flags,
    matched_markers,
    repetition_ratio,
)

WAIT = {"reflection": ["wait"]}


def test_default_markers_ship_both_published_reflection_lists_and_the_four_behaviours():
    assert set(DEFAULT_MARKERS) == {"reflection", "verification", "backtracking", "subgoal_setting", "enumeration"}
    simplerl_zoo = ["recheck", "rethink", "try again", "wait", "alternatively", "retry", "however"]
    oat_zero = ["reassess", "reevaluate", "re-evaluate", "re-examine", "double-check", "go over the steps"]
    assert set(simplerl_zoo + oat_zero) <= set(DEFAULT_MARKERS["reflection"])
    reflection = DEFAULT_MARKERS["reflection"]
    assert len(reflection) == len(set(reflection)), "duplicates of the two lists are dropped on load"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wait, that is not right.", 1),
        ("WAIT. wait... Wait!", 3),
        ("I await the result.", 0),
        ("The waiter waits.", 0),
        ("wait-free algorithm", 1),
        ("", 0),
    ],
)
def test_markers_match_whole_words_in_any_case(text, expected):
    assert marker_flags(text, WAIT) == {"reflection": expected}


def test_multi_word_markers_span_any_whitespace_and_curly_apostrophes():
    markers = {"backtracking": ["try again", "that's wrong"]}
    assert marker_flags("Let me try\n  again. That’s wrong; that's wrong.", markers) == {"backtracking": 3}
    assert marker_flags("retry again", markers) == {"backtracking": 0}


def test_a_marker_with_a_capital_letter_matches_that_case_only():
    markers = {"aha": ["Aha"]}
    assert marker_flags("Aha! aha, AHA", markers) == {"aha": 1}


def test_overlapping_markers_count_once_per_category_but_in_every_category():
    markers = {"reflection": ["check again", "check"], "verification": ["check"]}
    assert marker_flags("check again", markers) == {"reflection": 1, "verification": 1}


def test_chinese_markers_match_inside_unsegmented_text():
    assert marker_flags("等等，我再检查一下", {"reflection": ["等等", "检查"]}) == {"reflection": 2}


def test_matched_markers_returns_the_text_as_written():
    found = matched_markers("Let’s Re-Evaluate. Hmm, wait", {"reflection": ["re-evaluate", "wait"], "none": ["zzz"]})
    assert found == {"reflection": ["Re-Evaluate", "wait"]}


def test_load_markers_replaces_adds_and_removes_categories():
    markers = load_markers({"reflection": ["hmm"], "aha_moment": ["aha"], "enumeration": []})
    assert markers["reflection"] == ["hmm"]
    assert markers["aha_moment"] == ["aha"]
    assert "enumeration" not in markers
    assert markers["verification"] == DEFAULT_MARKERS["verification"]
    assert load_markers() == DEFAULT_MARKERS and load_markers() is not DEFAULT_MARKERS


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"Bad Name": ["x"]}, "lower case"),
        ({"reflection": "wait"}, "must be a list"),
        ({"reflection": ["wait", ""]}, "non-empty string"),
        (["wait"], "mapping"),
    ],
)
def test_load_markers_rejects_bad_overrides_with_a_clear_error(overrides, message):
    with pytest.raises(ValueError, match=message):
        load_markers(overrides)


def test_per_1k_is_markers_per_thousand_completion_tokens_pooled_over_the_batch():
    metrics = batch_metrics(
        ["wait wait", "nothing here", "Wait."],
        num_tokens=[100, 300, 100],
        truncated=[False] * 3,
        correct=[None] * 3,
        formatted=[None] * 3,
        markers=WAIT,
    )
    assert metrics["behaviour/reflection_per_1k"] == pytest.approx(1000 * 3 / 500)
    assert metrics["behaviour/reflection_rate"] == pytest.approx(2 / 3)


def test_repetition_of_a_looping_text_is_far_above_normal_text():
    normal = (
        "First add the units: 7 plus 5 is 12, so write 2 and carry 1. Then add the tens with the carry: "
        "1 plus 2 plus 3 is 6. The sum is 62, and checking by subtraction gives 62 minus 25 equals 37."
    )
    looping = "So the answer is 12. " + "Let me check: 7 + 5 = 12. " * 30
    assert repetition_ratio(normal) < 0.1
    assert repetition_ratio(looping) > 0.8
    assert repetition_ratio("too short") == 0.0
    with pytest.raises(ValueError):
        repetition_ratio("x", n=0)


def test_language_mixing_of_an_english_prompt_with_a_chinese_completion():
    prompt = "What is 12 + 30? Think step by step."
    assert language_mixing("12 + 30 = 42, so the answer is 42.", prompt) == 0.0
    assert language_mixing("答案是四十二", prompt) == 1.0
    half = language_mixing("abcd 答案答案", prompt)
    assert half == pytest.approx(4 / 8)
    # From a Chinese prompt, the English letters are the foreign ones.
    assert language_mixing("abcd 答案答案", "请计算 12 + 30") == pytest.approx(4 / 8)
    assert language_mixing("答案答案答案", "请计算") == 0.0
    assert language_mixing("12 + 30 = 42", prompt) == 0.0


def test_accuracy_is_split_by_whether_the_completion_reflects():
    metrics = batch_metrics(
        ["wait, 4", "wait, 5", "wait, 4", "4", "5", "5", "?"],
        num_tokens=[3, 3, 3, 1, 1, 1, 1],
        truncated=[False] * 7,
        correct=[True, False, True, True, False, False, None],
        formatted=[None] * 7,
        markers=WAIT,
    )
    assert metrics["behaviour/accuracy_reflective"] == pytest.approx(2 / 3)
    assert metrics["behaviour/accuracy_non_reflective"] == pytest.approx(1 / 3)


def test_batch_metrics_reports_every_design_metric_on_a_realistic_batch():
    completions = [
        "<think>First, 17 + 25: 17 + 20 = 37, 37 + 5 = 42. Wait, let me verify: 42 - 25 = 17.</think>"
        "<answer>42</answer>",
        "<think>17 + 25 = 41</think><answer>41</answer>",
        "<think>" + "17 + 25 = 42. " * 40,
        [{"role": "assistant", "content": "答案是 42"}],
    ]
    metrics = batch_metrics(
        completions,
        num_tokens=[40, 12, 256, 5],
        truncated=[False, False, True, False],
        correct=[True, False, None, True],
        formatted=[True, True, False, False],
        prompts=["What is 17 + 25?"] * 4,
    )
    for name in (
        "length_mean",
        "length_correct",
        "length_incorrect",
        "truncation_rate",
        "format_adherence",
        "repetition",
        "language_mixing",
        "accuracy_reflective",
        "accuracy_non_reflective",
    ):
        assert "behaviour/" + name in metrics, name
    for category in DEFAULT_MARKERS:
        assert f"behaviour/{category}_rate" in metrics and f"behaviour/{category}_per_1k" in metrics
    assert metrics["behaviour/length_mean"] == pytest.approx((40 + 12 + 256 + 5) / 4)
    assert metrics["behaviour/length_correct"] == pytest.approx((40 + 5) / 2)
    assert metrics["behaviour/length_incorrect"] == 12
    assert metrics["behaviour/truncation_rate"] == 0.25
    assert metrics["behaviour/format_adherence"] == 0.5
    assert metrics["behaviour/reflection_rate"] == 0.25
    assert metrics["behaviour/verification_rate"] == 0.25
    assert metrics["behaviour/language_mixing"] == pytest.approx(0.25)
    assert metrics["behaviour/repetition"] > 0.2
    assert all(math.isfinite(value) for value in metrics.values())


def test_empty_groups_are_omitted_never_nan():
    metrics = batch_metrics(["4"], num_tokens=[1], truncated=[False], correct=[None], formatted=[None])
    for name in (
        "length_correct",
        "length_incorrect",
        "format_adherence",
        "accuracy_reflective",
        "accuracy_non_reflective",
    ):
        assert "behaviour/" + name not in metrics
    json.dumps(metrics, allow_nan=False)
    assert batch_metrics([], num_tokens=[], truncated=[], correct=[], formatted=[]) == {}


def test_mismatched_lengths_are_a_clear_error():
    with pytest.raises(ValueError, match="num_tokens has 1 entries but there are 2 completions"):
        batch_metrics(["a", "b"], num_tokens=[1], truncated=[False] * 2, correct=[None] * 2, formatted=[None] * 2)
