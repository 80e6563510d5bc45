import threading

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
def test_pathological_answers_are_never_correct_and_never_hang(answer):
    """An answer that makes sympy explode is stopped at the deadline and scored None ("timeout"), or found wrong."""
    math_reward.clear_cache()
    # max_answer_length is raised so that every one of them really goes through math-verify
    scores, reasons = reasons_of([f"<answer>{answer}</answer>"], ["5"], timeout=1.0, max_answer_length=20_000)
    assert [scores, reasons] in ([[None], ["timeout"]], [[0.0], ["wrong"]], [[0.0], ["answer_unparseable"]])


def test_megabyte_completion_is_cheap():
    completion = "<think>" + "let me think " * 100_000 + "</think><answer>" + "9" * 1_000_000 + "</answer>"
    scores, reasons = reasons_of([completion], ["5"])
    assert (scores, reasons) == ([0.0], ["answer_too_long"])


def test_a_hanging_answer_does_not_hold_up_the_rest_of_the_batch():
    math_reward.clear_cache()
    completions = ["<answer>9^{9^{9^{9}}}</answer>"] + [rf"\boxed{{\sin \frac{{{n}\pi}}{{{n + 1}}}}}" for n in range(1, 7)]
    answers = ["5"] + [rf"\sin \frac{{{2 * n}\pi}}{{{2 * n + 2}}}" for n in range(1, 7)]
    scores, reasons = reasons_of(completions, answers, timeout=3.0)  # a wide deadline: the others end in ms, if quiet
    assert scores[0] is None and reasons[0] == "timeout"
    assert all(score in (1.0, None) for score in scores[1:])  # a loaded machine may time out, never mark wrong
    assert scores[1:].count(1.0) >= 1


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


# ---- the issue's classes of false verdicts ---------------------------------------------------------


@pytest.mark.parametrize(
    ("gold", "completion", "expected"),
    [
        # prose in the answer block: math-verify finds the math in it
        (r"x \geq 5", r"<answer>Therefore $x \geq 5$ is the solution.</answer>", 1.0),
        ("28", r"<answer>28\%</answer>", 1.0),
        # number formats
        ("1000", "<answer>1 000</answer>", 1.0),
        ("0.111", "<answer>0,111</answer>", 1.0),
        ("500", "<answer>0,500</answer>", 0.0),
        ("14916", "<answer>14{,}916</answer>", 1.0),
        ("16386.20", r"<answer>\$16,\!386.20</answer>", 1.0),
        ("1000.99", "<answer>1,000.99$</answer>", 1.0),
        (r"\frac{1}{3}", r"<answer>\cfrac{1}{3}</answer>", 1.0),
        # words: a gold that is not math cannot be scored; identical strings are equal
        ("silent", "<answer>listen</answer>", None),
        ("forty two", "<answer>42</answer>", None),
        ("12:00", "<answer>12:00</answer>", 1.0),
        # several boxes written together are one answer, a set; boxes apart: the last one
        ("(2, 2), (6, 2)", r"<answer>\boxed{(2, 2)} \text{ and } \boxed{(6, 2)}</answer>", 1.0),
        ("4", r"<answer>\boxed{3}. Wait, that is wrong: \boxed{4}</answer>", 1.0),
        # extraction order: the last stated answer; nothing after </think> is no answer
        ("10455", r"We get \boxed{255}. Hmm, recheck: the final answer is $10,455$", 1.0),
        ("42", r"<think>so maybe \boxed{42}</think>", 0.0),
    ],
)
def test_issue_classes(gold, completion, expected):
    assert math_accuracy([completion], [gold]) == [expected]


def test_plain_number_answer_accepts_number_formats():
    completions = [f"<answer>{a}</answer>" for a in ["1 000", "1,000", r"\$1,000", "x = 1000", "1000 \\%", "10 \\cdot 100"]]
    scores, reasons = reasons_of(completions, [1000] * 6, plain_number_answer=True)
    assert reasons[:4] == ["correct"] * 4
    assert reasons[5] == "not_a_number"


FRESH_PROCESS = """
import sys
sys.path.insert(0, ROOT)
from rewards.math_reward import math_accuracy
print(math_accuracy([r"<answer>\\tan^2 y + 1</answer>", r"<answer>4 0/0</answer>", r"<answer>\\{1, x\\}</answer>"],
                    [r"\\sec^2 y", "0", r"\\{x, 1\\}"]))
"""


def _run_fresh(seed: str) -> str:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONHASHSEED": seed}
    result = subprocess.run([sys.executable, "-c", FRESH_PROCESS.replace("ROOT", repr(root))], capture_output=True, text=True,
                            env=env, timeout=600, check=True)  # fmt: skip
    return result.stdout.strip().splitlines()[-1]


def test_first_call_in_a_fresh_process_is_graded_and_verdicts_do_not_depend_on_the_process():
    """Cold start: workers import math-verify before their first deadline. One input, one verdict, in any process."""
    first, second = _run_fresh("1"), _run_fresh("2")
    assert first.startswith("[1.0, ") and first.endswith(", 1.0]")
    assert first == second


def test_killed_workers_under_load_never_turn_a_correct_answer_into_zero():
    """Workers SIGKILLed mid-batch while the cores are busy: a correct answer gets 1.0 or None, never 0.0."""
    import os
    import signal
    import subprocess
    import sys

    math_reward.clear_cache()
    pool = math_reward.shared_pool(math_reward.VERIFY_FUNCTION, warm_up=math_reward.WARM_UP_FUNCTION)
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    completions = [rf"<answer>\cos 0 + {n}</answer>" for n in range(1, 81)]
    answers = [str(n + 1) for n in range(1, 81)]
    killed, scores, reasons = 0, [], []
    try:
        # A batch can finish between two looks at the pool; grade fresh batches until a kill landed mid-batch.
        for _ in range(5):
            math_reward.clear_cache()
            results = {}
            batch = threading.Thread(target=lambda out=results: out.update(scores=reasons_of(completions, answers)))
            batch.start()
            while batch.is_alive() and killed < 4:
                busy = [worker for worker in list(pool._workers) if worker.job is not None]
                if busy:
                    try:
                        os.kill(busy[0].process.pid, signal.SIGKILL)
                        killed += 1
                    except ProcessLookupError:
                        pass
                    batch.join(timeout=0.2)
                else:
                    batch.join(timeout=0.005)
            batch.join()
            scores += results["scores"][0]
            reasons += results["scores"][1]
            if killed:
                break
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert killed >= 1
    assert all(score in (1.0, None) for score in scores), list(zip(scores, reasons))
    assert all(reason in ("correct", "timeout", "error") for reason in reasons)
    assert scores.count(1.0) >= len(scores) // 2


def test_undecided_rate_is_logged():
    metrics = {}
    math_accuracy(["<answer>1</answer>", "<answer>1</answer>"], ["1", "forty two"], log_metric=metrics.__setitem__)
    assert metrics == {"math_accuracy/undecided": 0.5}
