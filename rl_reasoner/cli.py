"""``rl-reasoner``: train | eval | report | aha | inspect | tasks | difficulty | baseline | score | check | runs.

Every failure the user can fix ends in one line on stderr, ``rl-reasoner <command>: error: <problem>. Fix: ...``,
and exit status 2; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rl-reasoner", description="Pure-RL (R1-Zero style) reasoning trainer.")
    parser.add_argument("--version", action="version", version=f"rl-reasoner {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="run a training job from a YAML config")
    p.add_argument("config", help="job file, e.g. configs/default.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override one config value (repeatable), e.g. --set run.steps=10")
    p.add_argument("--resume", action="store_true", help="continue from the run directory's last checkpoint")
    p.add_argument("--seeds", metavar="S,S,...", help="train once per seed, in sequence, into runs/<name>/seed-<s>/ "
                   "(e.g. 0,1,2); `rl-reasoner report runs/<name>` aggregates them")

    p = sub.add_parser("eval", help="score a model on the task's held-out split")
    p.add_argument("target", help="a run directory or a config file")
    p.add_argument("--checkpoint", help="checkpoint directory (default: the run's final/, else its last checkpoint; "
                                        "for a config: model.name)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")
    p.add_argument("--label", help="name of this evaluation in the run's eval_posthoc.jsonl (default: the model's "
                                   "directory name)")

    p = sub.add_parser("report", help="write report/index.html with plots for one or more runs")
    p.add_argument("runs", nargs="+", help="run directories (several: drawn on the same axes; a directory of "
                   "seed-<s>/ runs from `train --seeds`: aggregated across seeds)")
    p.add_argument("--out", help="output directory (default: <first run>/report)")

    p = sub.add_parser("aha", help="print the 'aha' examples of a run")
    p.add_argument("run")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--corrections", action="store_true",
                   help="instead: the first completions that fix a wrong intermediate result (chained sums)")

    p = sub.add_parser("inspect", help="show the sampled completions of one step")
    p.add_argument("run")
    p.add_argument("--step", type=int, required=True)

    p = sub.add_parser("tasks", help="list the available tasks, or one task's parameters with their defaults")
    p.add_argument("name", nargs="?", help="a task name, e.g. countdown or reasoning_gym:leg_counting")

    p = sub.add_parser("difficulty", help="estimate per-prompt pass rates with the initial model")
    p.add_argument("config")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")

    p = sub.add_parser("score", help="explain one reward verdict: extracted answer, path, reason, score")
    p.add_argument("completion", help="the completion text ('-': read it from stdin)")
    p.add_argument("--reward", default="math_accuracy", help="reward name (default: math_accuracy)")
    p.add_argument("--gold", help="the gold answer (the 'answer' column)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="a reward parameter (repeatable)")
    p.add_argument("--column", action="append", default=[], metavar="KEY=VALUE", help="a dataset column (repeatable)")

    p = sub.add_parser("baseline", help="step-0 diagnostics per difficulty: can reasoning length grow with reward?")
    p.add_argument("config")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")
    p.add_argument("--samples", type=int, default=8, help="answers per prompt (pass@k's k)")
    p.add_argument("--prompts", type=int, default=16, help="held-out prompts per stratum (0: all)")
    p.add_argument("--temperature", type=float, help="sampling temperature (default: grpo.temperature, else 1.0)")
    p.add_argument("--out", help="JSON file (default: <run.output_dir>/baseline/<run.name>.json)")

    p = sub.add_parser("check", help="validate a job file without loading the model and print the resolved job")
    p.add_argument("config")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")

    p = sub.add_parser("runs", help="a table of the runs under a directory (default: runs/)")
    p.add_argument("dir", nargs="?", default="runs")

    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args) or 0
    except KeyboardInterrupt:
        _close_progress_bars()
        hint = (f"; every finished step is kept: continue with `rl-reasoner train {args.config} --resume`"
                if args.command == "train" else "")
        print(f"interrupted{hint}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rl-reasoner inspect RUN --step 3 | head`: the reader left; exit quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except UserError as e:
        _close_progress_bars()
        print(f"rl-reasoner {args.command}: error: {e}", file=sys.stderr)
        return 2


def _close_progress_bars() -> None:
    """End any progress bar's line first, so the error is the last line and is not redrawn over."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", None) or []):
        bar.close()


def user_errors():
    """The exception types that mean 'bad input' (printed as one message, no traceback)."""
    from rl_reasoner.config import ConfigError
    from rl_reasoner.model import ModelError
    from rl_reasoner.rundir import RunInUse
    from rl_reasoner.tasks import TaskError
    from rl_reasoner.templates import TemplateError

    return ConfigError, ModelError, RunInUse, TaskError, TemplateError, FileNotFoundError, OSError


class UserError(Exception):
    pass


def _wrap(fn):
    def run(args):
        try:
            return fn(args)
        except user_errors() as e:
            raise UserError(_one_line(e, args)) from e
    return run


def _one_line(error: Exception, args) -> str:
    """The message of a user error; an I/O failure (no space, read-only, permission) also says what to do."""
    import errno

    if not isinstance(error, OSError) or error.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES,
                                                               errno.EPERM, errno.ENOTDIR):
        return str(error)
    from rl_reasoner.preflight import describe_os_error

    fix = "Fix: free space or choose a writable location"
    if args.command == "train":
        fix += f", then continue with `rl-reasoner train {args.config} --resume`"
    return f"{describe_os_error(error)}. {fix}"


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("rl-reasoner")
    except metadata.PackageNotFoundError:
        return "unknown (not installed; run from a source tree)"


@_wrap
def cmd_train(args):
    from rl_reasoner.config import ConfigError, load_config
    from rl_reasoner.train import train

    try:
        if args.seeds is not None:
            from rl_reasoner.seeds import parse_seeds, train_seeds

            try:
                seeds = parse_seeds(args.seeds)
            except ValueError as e:
                raise ConfigError(str(e)) from None
            train_seeds(args.config, args.overrides, seeds, resume=args.resume)
            return
        train(load_config(args.config, args.overrides), resume=args.resume)
    finally:
        _leave_process_group()


def _leave_process_group() -> None:
    """Under ``accelerate launch``, take the process group down before the interpreter exits: left to the exit, gloo's
    threads once aborted a rank after a finished run (SIGABRT, "terminate called without an active exception")."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@_wrap
def cmd_eval(args):
    from rl_reasoner.posthoc import run_eval

    run_eval(Path(args.target), checkpoint=args.checkpoint, overrides=args.overrides, label=args.label)


@_wrap
def cmd_report(args):
    from rl_reasoner.report import write_report

    index = write_report([Path(r) for r in args.runs], Path(args.out) if args.out else None)
    print(f"report written: {index}")


@_wrap
def cmd_aha(args):
    from rl_reasoner.report import aha_examples, format_aha

    if args.corrections:
        from rl_reasoner.growth_report import correction_examples, format_corrections

        print(format_corrections(correction_examples(Path(args.run), limit=args.limit)))
        return
    print(format_aha(aha_examples(Path(args.run), limit=args.limit)))


@_wrap
def cmd_inspect(args):
    from rl_reasoner.report import format_step

    print(format_step(Path(args.run), args.step))


@_wrap
def cmd_tasks(args):
    from rl_reasoner.task_help import describe_task
    from rl_reasoner.tasks import describe_all

    print(describe_task(args.name) if args.name else describe_all())


@_wrap
def cmd_difficulty(args):
    from rl_reasoner.config import load_config
    from rl_reasoner.difficulty import estimate_difficulty

    estimate_difficulty(load_config(args.config, args.overrides))


def cmd_score(args):
    from rl_reasoner.score import run

    return run(args)


@_wrap
def cmd_baseline(args):
    from rl_reasoner.baseline import run_baseline
    from rl_reasoner.config import load_config

    run_baseline(load_config(args.config, args.overrides), samples=args.samples, prompts=args.prompts,
                 temperature=args.temperature, out=Path(args.out) if args.out else None)


@_wrap
def cmd_check(args):
    from rl_reasoner.check import check_job
    from rl_reasoner.config import load_config

    print(check_job(load_config(args.config, args.overrides)))


@_wrap
def cmd_runs(args):
    from rl_reasoner.runs import format_runs

    print(format_runs(Path(args.dir)))


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "report": cmd_report, "aha": cmd_aha, "inspect": cmd_inspect,
            "tasks": cmd_tasks, "difficulty": cmd_difficulty, "baseline": cmd_baseline, "score": cmd_score,
            "check": cmd_check, "runs": cmd_runs}

if __name__ == "__main__":
    sys.exit(main())
