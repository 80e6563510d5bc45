import doctest
import threading
import time

import pytest

import rewards
from rewards import math_reward
from rewards.math_reward import math_accuracy


def reasons_of(completions, answers, **params):
    logged = {}
    scores = math_accuracy(completions, answers, log_extra=logged.__setitem__, **params)
    return scores, logged["reason/math_accuracy"]


@pytest.fixture(scope="module", autouse=True)
def warm_pool():
    """Start the verification workers once, so that timings below measure verification, not start-up."""
    math_accuracy([r"\boxed{\frac{1}{2}}"], [r"\frac{1}{2}"])


def test_doctests():
    assert doctest.testmod(math_reward).failed == 0


@pytest.mark.parametrize(
    ("gold", "completion", "expected"),
    [
        ("1/2", "<answer>0.5</answer>", 1.0),
        ("0.5", r"<answer>\frac{1}{2}</answer>", 1.0),
        (r"\frac{1}{2}", r"The answer is $\dfrac{1}{2}$.", 1.0),
        (r"\frac{1}{2}", r"\boxed{\frac{2}{4}}", 1.0),
        (r"\frac{1}{2}", r"\boxed{\frac{1}{3}}", 0.0),
        # percentages: 50% matches a gold of 50 and a gold of 0.5 (math-verify reads both ways)
        ("0.5", r"<answer>50\%</answer>", 1.0),
        ("50", "<answer>50%</answer>", 1.0),
        ("0.5", r"<answer>5\%</answer>", 0.0),
        # sets and intervals
        (r"\{1, 2\}", r"<answer>\{2, 1\}</answer>", 1.0),
        (r"\{1, 2\}", r"<answer>\{1, 3\}</answer>", 0.0),
        ("[1, 2)", "<answer>[1,2)</answer>", 1.0),
        ("[1, 2)", "<answer>[1,2]</answer>", 0.0),
        (r"(-\infty, 3)", r"<answer>(-\infty,3)</answer>", 1.0),
        # LaTeX and algebra
        (r"\frac{\sqrt{2}}{2}", r"\boxed{\frac{1}{\sqrt{2}}}", 1.0),
        (r"2\sqrt{3}", r"<answer>\sqrt{12}</answer>", 1.0),
        ("x^2+2x+1", "<answer>(x+1)^2</answer>", 1.0),
        (r"\begin{pmatrix}1\\2\end{pmatrix}", r"<answer>\begin{pmatrix}1\\2\end{pmatrix}</answer>", 1.0),
        # units, assignments, separators
        ("10", r"<answer>10 \text{ cm}</answer>", 1.0),
        ("72", "<answer>72 dollars</answer>", 1.0),
        ("3", "<answer>x = 3</answer>", 1.0),
        ("1000", "<answer>1,000</answer>", 1.0),
        # exact numbers: an approximation is not the value
        ("1/3", "<answer>0.333</answer>", 0.0),
        (r"\pi", "<answer>3.14159</answer>", 0.0),
        ("2", "<answer>3</answer>", 0.0),
    ],
)
def test_equivalences(gold, completion, expected):
    assert math_accuracy([completion], [gold]) == [expected]


def test_numbers_as_gold_values():
    assert math_accuracy(["<answer>3</answer>", "<answer>0.25</answer>", "<answer>7</answer>"], [3, 0.25, 8]) == [1.0, 1.0, 0.0]


def test_only_the_final_answer_is_read():
    # an intermediate boxed step does not spoil a correct final answer ...
    assert math_accuracy([r"First \boxed{2}, so the result is \boxed{\frac{1}{2}}"], [r"\frac{1}{2}"]) == [1.0]
    # ... and a correct intermediate answer does not rescue a wrong final one
    assert math_accuracy([r"<answer>\frac{1}{2}</answer> no: <answer>\frac{1}{3}</answer>"], [r"\frac{1}{2}"]) == [0.0]
    assert math_accuracy([r"\boxed{\frac{1}{2}} <answer>3</answer>"], [r"\frac{1}{2}"]) == [0.0]


def test_plain_number_answer_refuses_the_restated_question():
    """The hack the embedded default found: copy the sum into the answer block; math-verify finds it equal."""
    completions = ["<answer>10 + 5</answer>", "<answer>15</answer>", "<answer>3 \\cdot 5</answer>", "<answer>15.0</answer>"]
    assert math_accuracy(completions, [15] * 4) == [1.0, 1.0, 1.0, 1.0]
    logged = {}
    assert math_accuracy(completions, [15] * 4, plain_number_answer=True, log_extra=logged.__setitem__) == [0.0, 1.0, 0.0, 1.0]
    assert logged["reason/math_accuracy"] == ["not_a_number", "correct", "not_a_number", "correct"]
    # a gold that is not a plain number keeps math-verify's equivalence
    assert math_accuracy(["<answer>x^2+2x+1</answer>"], ["(x+1)^2"], plain_number_answer=True) == [1.0]


def test_last_number_fallback_only_when_configured():
    assert math_accuracy(["so we get 12"], ["12"]) == [0.0]
    assert math_accuracy(["so we get 12"], ["12"], fallback_last_number=True) == [1.0]


@pytest.mark.parametrize("gold", ["", None, "(", r"\invalid{", r"\frac{}{}"])
def test_unparseable_gold_is_none_not_wrong(gold):
    scores, reasons = reasons_of(["<answer>1</answer>"], [gold])
    assert scores == [None]
    assert reasons == ["gold_unparseable"]


def test_reasons_one_per_completion():
    completions = [
        "<answer>4</answer>",
        "<answer>5</answer>",
        "nothing here",
        r"<answer>\frac{1}{2}</answer>",
        "<answer>" + "1" * 2000 + "</answer>",
        "<answer>1</answer>",
        [{"role": "assistant", "content": "<answer>4</answer>"}],
    ]
    answers = ["4", "4", "4", "0.5", "4", "", "4"]
    scores, reasons = reasons_of(completions, answers)
    assert reasons == ["correct", "wrong", "no_answer", "correct", "answer_too_long", "gold_unparseable", "correct"]
    assert scores == [1.0, 0.0, 0.0, 1.0, 0.0, None, 1.0]


def test_params_are_checked():
    with pytest.raises(ValueError, match="timeout"):
        math_accuracy(["<answer>1</answer>"], ["1"], timeout=0)
    with pytest.raises(ValueError, match="max_answer_length"):
        math_accuracy(["<answer>1</answer>"], ["1"], max_answer_length=-1)
    with pytest.raises(ValueError, match="2 completions but 1"):
        math_accuracy(["a", "b"], ["1"])


@pytest.mark.parametrize(
    "answer",
    [
        "9^{9^{9^{9}}}",
        "10!!!!!!",
        r"\frac{1}{" * 1000 + "2" + "}" * 1000,
        "(1+x)^{100000}",
        "x" * 900,
    ],
    ids=["tower", "factorials", "nested", "expand", "long"],
)
def test_pathological_answers_score_zero_within_the_bound(answer):
    math_reward.clear_cache()
    start = time.perf_counter()
    # max_answer_length is raised so that every one of them really goes through math-verify
    scores, reasons = reasons_of([f"<answer>{answer}</answer>"], ["5"], timeout=1.0, max_answer_length=20_000)
    elapsed = time.perf_counter() - start
    assert scores == [0.0]
    assert reasons[0] in {"timeout", "wrong", "answer_unparseable"}
    assert elapsed < 1.5


def test_megabyte_completion_is_cheap():
    completion = "<think>" + "let me think " * 100_000 + "</think><answer>" + "9" * 1_000_000 + "</answer>"
    start = time.perf_counter()
    scores, reasons = reasons_of([completion], ["5"])
    assert (scores, reasons) == ([0.0], ["answer_too_long"])
    assert time.perf_counter() - start < 1.0


def test_a_hanging_answer_does_not_hold_up_the_rest_of_the_batch():
    math_reward.clear_cache()
    completions = ["<answer>9^{9^{9^{9}}}</answer>"] + [rf"\boxed{{\frac{{{n}}}{{{n + 1}}}}}" for n in range(1, 7)]
    answers = ["5"] + [rf"\frac{{{2 * n}}}{{{2 * n + 2}}}" for n in range(1, 7)]
    start = time.perf_counter()
    scores, reasons = reasons_of(completions, answers, timeout=1.0)
    assert scores == [0.0] + [1.0] * 6
    assert reasons[0] == "timeout"
    assert time.perf_counter() - start < 2.5


def test_scoring_from_a_non_main_thread():
    results = {}

    def score():
        results["scores"] = math_accuracy(
            [r"\boxed{\frac{2}{4}}", r"<answer>\{3, 1\}</answer>", r"<answer>\sqrt{8}</answer>"],
            ["0.5", r"\{1, 3\}", r"2\sqrt{3}"],
        )

    thread = threading.Thread(target=score)
    thread.start()
    thread.join(timeout=60)
    assert results["scores"] == [1.0, 1.0, 0.0]


def test_scoring_inside_a_process_running_torch_threads():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    stop = threading.Event()

    def busy_torch():
        a = torch.randn(128, 128)
        while not stop.is_set():
            a = torch.tanh(a @ a)

    worker = threading.Thread(target=busy_torch)
    worker.start()
    try:
        results = []
        threads = [
            threading.Thread(target=lambda: results.append(math_accuracy([r"\boxed{\frac{3}{6}}"], ["0.5"])))
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        stop.set()
        worker.join()
    assert results == [[1.0]] * 3


def test_exported_from_the_package():
    assert rewards.math_accuracy is math_accuracy
    assert rewards.get("math_accuracy") is math_accuracy
