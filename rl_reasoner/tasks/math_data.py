"""Math word-problem datasets from the hub or local files: `gsm8k`, `math`, `math500` and the generic
`custom` loader (any `datasets` id or local JSONL / JSON / parquet / CSV, with a column mapping).

Every gold answer must parse as math (an exact number, or LaTeX that math-verify reads); rows whose gold
does not are dropped, counted in `TaskData.dropped` and logged — never trained on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from rewards.extract import clean_answer, last_boxed
from rl_reasoner.tasks.base import TaskSpec, format_reward_spec, stable_id
from rl_reasoner.tasks.hub import SourceParams, Unverifiable, load_from_source


def math_gold(gold: str | None) -> str:
    """The gold answer, cleaned like the math reward cleans it; raises `Unverifiable` if it is empty.

    Whether it parses is checked for a whole batch by `verify_math_golds`.

    >>> math_gold(" $\\\\frac{1}{2}$. ")
    '\\\\frac{1}{2}'
    >>> math_gold("")
    Traceback (most recent call last):
    ...
    rl_reasoner.tasks.hub.Unverifiable: empty gold answer
    """
    gold = clean_answer(str(gold)) if gold is not None else ""
    if not gold:
        raise Unverifiable("empty gold answer")
    return gold


def verify_math_golds(rows: list[dict]) -> list[str | None]:
    """Score each row's gold, given as the answer, with the `math_accuracy` reward that will score the policy:
    a gold it cannot parse or that does not match itself can never be learned from.

    "Cannot parse" is asked of the reward too: a gold that sympy cannot read is matched by its text alone, so it
    matches itself but leaves any other answer undecided (`None`); a readable gold finds that answer wrong.

    >>> verify_math_golds([{"answer": "\\\\frac{1}{2}"}, {"answer": "\\\\frac{1}{"}])
    [None, 'gold does not parse (math_accuracy cannot score it)']
    """
    from rewards.math_reward import math_accuracy

    golds = [row["answer"] for row in rows]
    if not golds:
        return []
    itself = math_accuracy([f"<answer>{gold}</answer>" for gold in golds], golds)
    other = math_accuracy(["<answer>\\text{not the gold}</answer>"] * len(golds), golds)
    return [
        "gold does not parse (math_accuracy cannot score it)" if same is None or different is None
        else None if same == 1.0
        else "gold does not match itself under math_accuracy"
        for same, different in zip(itself, other)
    ]


def gsm8k_gold(solution: str) -> str:
    """The GSM8K gold: the number after the final `####`, without thousands separators.

    >>> gsm8k_gold("She pays 3 * 4 = <<3*4=12>>12 dollars.\\n#### 1,200")
    '1200'
    """
    if "####" not in solution:
        raise Unverifiable("no '####' gold marker in the answer")
    return math_gold(solution.rsplit("####", 1)[1].strip().replace(",", ""))


def boxed_gold(solution: str) -> str:
    """The MATH gold: the content of the last `\\boxed{}` of the solution.

    >>> boxed_gold("so $x = \\\\boxed{\\\\frac{3}{4}}$.")
    '\\\\frac{3}{4}'
    """
    boxed = last_boxed(solution or "")
    if boxed is None:
        raise Unverifiable("no \\boxed{} answer in the solution")
    return math_gold(boxed)


def text_column(record: dict, column: str) -> str:
    """The stripped text of `record[column]`: `KeyError` if the column is missing, `Unverifiable` if empty.

    >>> text_column({"q": " 1+1? "}, "q")
    '1+1?'
    """
    value = record[column]
    if not isinstance(value, str) or not value.strip():
        raise Unverifiable(f"empty {column!r}")
    return value.strip()


def _level(value) -> int | None:
    """MATH difficulty level 1-5 from "Level 3" or 3; None when absent or unknown ("Level ?")."""
    match = re.search(r"\d+", str(value)) if value is not None else None
    return int(match.group()) if match else None


def _row_id(task: str):
    return lambda row: stable_id(task, row["question"])


# --- gsm8k ---------------------------------------------------------------------------------------------


@dataclass
class GSM8KParams(SourceParams):
    """Where `gsm8k` reads (hub `openai/gsm8k`, config `main`, by default) and how many rows it keeps."""

    path: str = "openai/gsm8k"
    config: str | None = "main"


def gsm8k_row(record: dict) -> dict:
    """A GSM8K record (`question`, `answer` ending in `#### <number>`) → a task row."""
    return {"question": text_column(record, "question"), "answer": gsm8k_gold(text_column(record, "answer"))}


GSM8K = TaskSpec(
    name="gsm8k",
    description="GSM8K grade-school math (hub openai/gsm8k or local files); gold = the number after '####'.",
    columns=("answer",),
    default_rewards=[{"name": "math_accuracy", "weight": 1.0, "params": {}}, format_reward_spec()],
    default_template="r1_zero",
    loader=lambda p, seed: load_from_source("gsm8k", p, seed, gsm8k_row, _row_id("gsm8k"), verify_math_golds),
    params_type=GSM8KParams,
)


# --- math / math500 ------------------------------------------------------------------------------------


@dataclass
class MathParams(SourceParams):
    """Where `math` reads (the 7,500 / 5,000 MATH train / test problems on the hub by default)."""

    path: str = "DigitalLearningGmbH/MATH-lighteval"
    config: str | None = "default"


@dataclass
class Math500Params(SourceParams):
    """`math500`: train on the MATH training problems, evaluate on MATH-500 (a subset of MATH test)."""

    path: str = "DigitalLearningGmbH/MATH-lighteval"
    config: str | None = "default"
    eval_path: str | None = "HuggingFaceH4/MATH-500"
    eval_split: str | None = "test"


def math_row(record: dict) -> dict:
    """A MATH record (`problem`, `solution` with a `\\boxed{}` answer, optional `answer`, `level`) → a row.

    A non-empty `answer` column (MATH-500 has one) is the gold; otherwise the solution's last `\\boxed{}`.
    """
    answer = record.get("answer")
    gold = math_gold(answer) if isinstance(answer, str) and answer.strip() else boxed_gold(record["solution"])
    return {"question": text_column(record, "problem"), "answer": gold, "level": _level(record.get("level"))}


MATH = TaskSpec(
    name="math",
    description="MATH competition problems (hub or local files); gold = the last \\boxed{} of the solution.",
    columns=("answer",),
    default_rewards=[{"name": "math_accuracy", "weight": 1.0, "params": {}}],
    default_template="qwen_math",
    loader=lambda p, seed: load_from_source("math", p, seed, math_row, _row_id("math"), verify_math_golds),
    params_type=MathParams,
)

MATH500 = TaskSpec(
    name="math500",
    description="Train on MATH train, evaluate on MATH-500 (HuggingFaceH4/MATH-500); gold from \\boxed{}.",
    columns=("answer",),
    default_rewards=[{"name": "math_accuracy", "weight": 1.0, "params": {}}],
    default_template="qwen_math",
    loader=lambda p, seed: load_from_source("math500", p, seed, math_row, _row_id("math500"), verify_math_golds),
    params_type=Math500Params,
)


# --- custom --------------------------------------------------------------------------------------------


@dataclass
class CustomParams(SourceParams):
    """Any question/answer dataset: a hub id or local file, with its column names mapped onto ours."""

    path: str = ""
    question_column: str = "question"
    """Source column holding the question."""
    answer_column: str = "answer"
    """Source column holding the gold answer (or a solution it is extracted from, see `answer_format`)."""
    answer_format: Literal["plain", "gsm8k", "boxed"] = "plain"
    """How the gold is read from the answer column: as is, after `####`, or from the last `\\boxed{}`."""
    verify: Literal["math", "none"] = "math"
    """"math": drop rows whose gold `math_accuracy` cannot score; "none": keep any non-empty gold (for a
    reward that compares strings)."""
    columns: dict[str, str] = field(default_factory=dict)
    """Extra columns to carry for the rewards, as {our name: source column}, e.g. {"tests": "test_list"}."""
    id_column: str | None = None
    """Source column with a unique id per row; None derives ids from the question text."""


def custom_row(p: CustomParams):
    """The row converter for `custom` with params `p`."""

    def to_row(record: dict) -> dict:
        raw = record[p.answer_column]
        text = "" if raw is None else str(raw)
        if p.answer_format == "gsm8k":
            gold = gsm8k_gold(text)
        elif p.answer_format == "boxed":
            gold = boxed_gold(text)
        elif "####" in text or "\\boxed" in text:
            raise Unverifiable("the gold holds a '####' or \\boxed{} marker: set answer_format")
        else:
            gold = math_gold(text) if p.verify == "math" else text.strip()
        if not gold:
            raise Unverifiable("empty gold answer")
        row = {"question": text_column(record, p.question_column), "answer": gold}
        row.update({ours: record[theirs] for ours, theirs in p.columns.items()})
        if p.id_column is not None:
            row["id"] = f"custom-{record[p.id_column]}"
        return row

    return to_row


CUSTOM = TaskSpec(
    name="custom",
    description="Any question/answer dataset: hub id or local JSONL/JSON/parquet/CSV, with a column mapping.",
    columns=("answer",),
    default_rewards=[{"name": "math_accuracy", "weight": 1.0, "params": {}}, format_reward_spec()],
    default_template="r1_zero",
    loader=lambda p, seed: load_from_source(
        "custom", p, seed, custom_row(p), _row_id("custom"), verify_math_golds if p.verify == "math" else None
    ),
    params_type=CustomParams,
)

SPECS = (GSM8K, MATH, MATH500, CUSTOM)
