"""CPU time per tests run of this sandbox against another version, interleaved, without wall-clock timing.

For a change of the sandbox judged on a shared machine: both sandboxes run the same HumanEval programs (the
workload of `bench/rewards_code.py`: 164 canonical solutions and 164 broken variants, repeated to `--runs`)
in batches of 16, alternated ABBA so that a change of the machine's load hits both alike; the figure is the
CPU time of each sandbox's servers with everything below them (the programs they reaped, the live tester),
read from `/proc`, per run. Server start-up is not counted (a one-off per process). Kernel threads' work
(e.g. freeing a namespace) is not in it either.

Run: `nice -n 19 .venv/bin/python bench/sandbox_cpu.py --against OTHER [--workers 2] [--runs 1312]`, OTHER
being another version's `rewards/sandbox/` directory or a `sandbox.py` from before it became a package
(`git show fb4e498:rewards/sandbox.py > /tmp/old_sandbox.py`). Root only (the servers' uids).
"""

import argparse
import os
import sys

from rewards_code import TIMEOUT_S, load_sandbox, workload  # bench/ is this script's first sys.path entry

BATCH = 16
_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a server, of the children it reaped, and of its live children (the tester)."""

    def own_and_reaped(process: int) -> float:
        with open(f"/proc/{process}/stat") as file:
            fields = file.read().rsplit(")", 1)[1].split()
        return sum(int(value) for value in fields[11:15]) / _TICKS  # utime, stime, cutime, cstime

    with open(f"/proc/{pid}/task/{pid}/children") as file:
        children = [int(child) for child in file.read().split()]
    return own_and_reaped(pid) + sum(own_and_reaped(child) for child in children)


def main(argv: list[str] | None = None) -> dict:
    """Print and return the CPU milliseconds per run of this sandbox and of `--against`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, help="another sandbox (package directory or old sandbox.py)")
    parser.add_argument("--workers", type=int, default=2, help="slots per sandbox (the trainer uses one per CPU)")
    parser.add_argument("--runs", type=int, default=1312, help="programs run by each sandbox (the workload, repeated)")
    args = parser.parse_args(argv or [])
    import rewards.sandbox

    items = workload()
    items = (items * (args.runs // len(items) + 1))[: args.runs]
    sandboxes = {"this one": rewards.sandbox, "--against": load_sandbox(args.against)}
    boxes, runs = {}, {}
    for name, module in sandboxes.items():
        Program = getattr(module, "SandboxRun", None) or module.Job  # `Job` before the sandbox became a package
        runs[name] = [
            Program(item.problem["prompt"] + item.solution, tests=item.problem["test"], entry_point=item.problem["entry_point"])
            for item in items
        ]
        limits = module.Limits(wall_seconds=TIMEOUT_S, cpu_seconds=TIMEOUT_S)
        boxes[name] = module.Sandbox(workers=args.workers, limits=limits)
        boxes[name].run_many(runs[name][: 2 * args.workers])  # start the servers (not counted)
    servers = {name: [slot.process.pid for slot in box._slots] for name, box in boxes.items()}
    start = {name: sum(map(tree_cpu_seconds, pids)) for name, pids in servers.items()}
    passed = dict.fromkeys(boxes, 0)
    for batch, first in enumerate(range(0, len(items), BATCH)):
        for name in list(boxes)[:: 1 if batch % 2 == 0 else -1]:
            results = boxes[name].run_many(runs[name][first : first + BATCH])
            passed[name] += sum(result.passed is True for result in results)
    figures = {}
    for name, pids in servers.items():
        figures[name] = 1000 * (sum(map(tree_cpu_seconds, pids)) - start[name]) / len(items)
        boxes[name].close()
    print(
        f"sandbox CPU per tests run, {len(items)} runs each, {args.workers} workers, interleaved"
        f" (load average now {os.getloadavg()[0]:.1f}): this one {figures['this one']:.2f} ms"
        f" (passed {passed['this one']}), --against {figures['--against']:.2f} ms (passed {passed['--against']})"
        f" ({figures['this one'] / figures['--against'] - 1:+.1%})"
    )
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
