"""``rl-reasoner``: train | eval | report | aha | inspect | tasks | difficulty."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rl-reasoner", description="Pure-RL (R1-Zero style) reasoning trainer.")
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
    p.add_argument("--checkpoint", help="checkpoint directory (default: the run's final model, else the config's)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")

    p = sub.add_parser("report", help="write report/index.html with plots for one or more runs")
    p.add_argument("runs", nargs="+", help="run directories (several: drawn on the same axes; a directory of "
                   "seed-<s>/ runs from `train --seeds`: aggregated across seeds)")
    p.add_argument("--out", help="output directory (default: <first run>/report)")

    p = sub.add_parser("aha", help="print the 'aha' examples of a run")
    p.add_argument("run")
    p.add_argument("--limit", type=int, default=10)

    p = sub.add_parser("inspect", help="show the sampled completions of one step")
    p.add_argument("run")
    p.add_argument("--step", type=int, required=True)

    sub.add_parser("tasks", help="list the available tasks")

    p = sub.add_parser("difficulty", help="estimate per-prompt pass rates with the initial model")
    p.add_argument("config")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")

    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args) or 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rl-reasoner inspect RUN --step 3 | head`: the reader left; exit quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except UserError as e:
        print(f"rl-reasoner {args.command}: error: {e}", file=sys.stderr)
        return 2


def user_errors():
    """The exception types that mean 'bad input' (printed as one message, no traceback)."""
    from rl_reasoner.config import ConfigError
    from rl_reasoner.model import ModelError
    from rl_reasoner.tasks import TaskError
    from rl_reasoner.templates import TemplateError

    return ConfigError, ModelError, TaskError, TemplateError, FileNotFoundError


class UserError(Exception):
    pass


def _wrap(fn):
    def run(args):
        try:
            return fn(args)
        except user_errors() as e:
            raise UserError(str(e)) from e
    return run


@_wrap
def cmd_train(args):
    from rl_reasoner.config import ConfigError, load_config
    from rl_reasoner.train import train

    if args.seeds is not None:
        from rl_reasoner.seeds import parse_seeds, train_seeds

        try:
            seeds = parse_seeds(args.seeds)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        train_seeds(args.config, args.overrides, seeds, resume=args.resume)
        return
    train(load_config(args.config, args.overrides), resume=args.resume)


@_wrap
def cmd_eval(args):
    from rl_reasoner.evaluate import run_eval

    run_eval(Path(args.target), checkpoint=args.checkpoint, overrides=args.overrides)


@_wrap
def cmd_report(args):
    from rl_reasoner.report import write_report

    index = write_report([Path(r) for r in args.runs], Path(args.out) if args.out else None)
    print(f"report written: {index}")


@_wrap
def cmd_aha(args):
    from rl_reasoner.report import aha_examples, format_aha

    print(format_aha(aha_examples(Path(args.run), limit=args.limit)))


@_wrap
def cmd_inspect(args):
    from rl_reasoner.report import format_step

    print(format_step(Path(args.run), args.step))


@_wrap
def cmd_tasks(args):
    from rl_reasoner.tasks import describe_all

    print(describe_all())


@_wrap
def cmd_difficulty(args):
    from rl_reasoner.config import load_config
    from rl_reasoner.difficulty import estimate_difficulty

    estimate_difficulty(load_config(args.config, args.overrides))


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "report": cmd_report, "aha": cmd_aha, "inspect": cmd_inspect,
            "tasks": cmd_tasks, "difficulty": cmd_difficulty}

if __name__ == "__main__":
    sys.exit(main())
