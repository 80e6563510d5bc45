"""`math_accuracy` against the field's reference verdicts (tests/data/math_agreement.jsonl).

The table holds the (gold, prediction, expected verdict) cases of the public tests of Math-Verify 0.9,
TRL's reward tests and open-r1's reward tests (each row names its `source`), re-expressed as data, plus
cases of our own in MATH and GSM8K answer styles. A row has either a `prediction` (wrapped here as the
answer of an R1-Zero completion) or a whole `completion` (used as is); `expected` is 1, 0 or null (the
reference grader cannot score it). A row with a `departure` is one where the project grades on purpose
otherwise: `{"param": value}` names the parameter value under which it departs (the suite checks the
effect both ways), "reference_options" a case that tests a math-verify option we do not use (listed in
docs/rewards.md, not counted).
"""

import json
from pathlib import Path

import pytest

from rewards.math_reward import grade

TABLE = Path(__file__).parent / "data" / "math_agreement.jsonl"
ROWS = [json.loads(line) for line in TABLE.read_text().splitlines() if line.strip()]
PARAMS = {"exact_decimals", "last_answer_wins", "set_relation", "plain_number_answer", "fallback_last_number"}
DEFAULTS = {"exact_decimals": True, "last_answer_wins": True, "set_relation": True,
            "plain_number_answer": False, "fallback_last_number": False}  # fmt: skip
TIMEOUT_S = 120.0
"""Not a verdict: the machine is shared, and a verification past its deadline would be scored None, not graded."""


def completion_of(row: dict) -> str:
    if "completion" in row:
        return row["completion"]
    return f"<think>\nLet me work it out.\n</think>\n<answer>{row['prediction']}</answer>"


def verdicts(rows: list[dict], **params) -> list[int | None]:
    graded = grade([completion_of(row) for row in rows], [row["gold"] for row in rows], timeout=TIMEOUT_S, **params)
    return [None if verdict.score is None else int(verdict.score) for verdict in graded]


def departs_by_default(row: dict) -> bool:
    departure = row.get("departure")
    if departure == "reference_options":
        return True
    return isinstance(departure, dict) and all(DEFAULTS[name] == value for name, value in departure.items())


def test_the_table_is_well_formed():
    sources = {row["source"].split(":")[0] for row in ROWS}
    assert {"math-verify", "trl", "open-r1", "own"} <= sources
    for row in ROWS:
        assert ("prediction" in row) != ("completion" in row), row
        assert row["expected"] in (0, 1, None), row
        departure = row.get("departure")
        assert departure in (None, "reference_options") or set(departure) <= PARAMS, row


def test_agreement_with_the_reference_verdicts():
    counted = [row for row in ROWS if not departs_by_default(row)]
    got = verdicts(counted)
    disagreements = [(row["source"], row["gold"], completion_of(row)[-80:], row["expected"], verdict)
                     for row, verdict in zip(counted, got) if verdict != row["expected"]]  # fmt: skip
    agreement = 1 - len(disagreements) / len(counted)
    assert len(counted) >= 330
    assert agreement >= 0.99, "\n".join(map(repr, disagreements))


@pytest.mark.parametrize(
    "row", [row for row in ROWS if isinstance(row.get("departure"), dict)], ids=lambda row: row["source"]
)
def test_each_departure_is_its_parameter_both_ways(row):
    departing = dict(row["departure"])
    following = {name: not value for name, value in departing.items()}
    assert verdicts([row], **departing) != [row["expected"]]
    assert verdicts([row], **following) == [row["expected"]]
