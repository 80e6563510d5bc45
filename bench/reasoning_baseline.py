"""Step-0 diagnostics of several prompt templates side by side (docs/reasoning_growth.md).

`rl-reasoner baseline CONFIG --set ...` diagnoses one variant; this script diagnoses several with the model
loaded once, interleaved (stratum by stratum, every variant in turn), and appends each finished batch to a JSONL
file, so a run cut short on a busy machine still compares the variants on the strata it reached. `--summarize`
prints the per-variant, per-stratum table from that file.

    python bench/reasoning_baseline.py --prompts 4 --samples 8 --max-new-tokens 96 \\
        --out bench/results/reasoning_growth/baseline_templates.jsonl
    python bench/reasoning_baseline.py --summarize bench/results/reasoning_growth/baseline_templates.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


from rl_reasoner.baseline import format_table, sample_rows, stratum_stats
from rl_reasoner.rundir import read_jsonl
from rl_reasoner.strata import group_rows, natural_order

STEP_PREFILL = "<think> Let me solve this step by step."
TOTALS = "Add the numbers one at a time, writing each running total."
"""A task hint in the user turn: the chain of running totals is the procedure that makes long sums easy."""
THINK = "task.template.prefill=<think>"
STEP = f"task.template.prefill={STEP_PREFILL}"
ASK_TOTALS = f'task.template.user="{{question}}\\n{TOTALS}"'
PLAIN = "task.chat=false"
VARIANTS = {
    "chat": [THINK],                         # chat template, R1-Zero text as system prompt
    "plain": [PLAIN, THINK],                 # the verbatim R1-Zero text, no chat template
    "chat_step": [STEP],                     # chat + TinyZero's "step by step" prefill
    "plain_step": [PLAIN, STEP],
    "chat_totals": [ASK_TOTALS, THINK],      # chat + ask for running totals
    "chat_totals_step": [ASK_TOTALS, STEP],
}
"""Template variants as `--set` overrides of configs/chain_sum.yaml; each names its prefill, whatever the recipe's."""


def measure(args) -> None:
    from transformers import set_seed

    from rl_reasoner.config import load_config
    from rl_reasoner.model import load_model
    from rl_reasoner.job import prepare

    jobs = {}
    for name in args.variants:
        overrides = VARIANTS[name] + [f"eval.max_new_tokens={args.max_new_tokens}",
                                      f"eval.batch_size={args.prompts * args.samples}"]
        jobs[name] = prepare(load_config(args.config, overrides))
    first = next(iter(jobs.values()))
    model = load_model(first.model_path, first.config.model)
    strata = list(group_rows(first.eval_rows, args.prompts))
    order = sorted(strata, key=lambda s: args.strata_order.index(s) if s in args.strata_order else 99)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.time()
    for stratum in order:
        for name, job in jobs.items():
            set_seed(args.seed)
            rows = group_rows(job.eval_rows, args.prompts)[stratum]
            records = sample_rows(model, job, rows, samples=args.samples, temperature=args.temperature,
                                  stratum=stratum)
            label = name if args.temperature == 1.0 else f"{name}_T{args.temperature:g}"
            with out.open("a") as f:
                for record in records:
                    f.write(json.dumps({"variant": label, "temperature": args.temperature, "samples": args.samples,
                                        "max_new_tokens": args.max_new_tokens, **record}) + "\n")
            ok = sum(bool(r["correct"]) for r in records)
            print(f"[bench] terms={stratum} {label}: {ok}/{len(records)} correct ({time.time() - started:.0f}s)",
                  flush=True)


def summarize(path: Path) -> str:
    records = list(read_jsonl(path))  # a bench killed mid-write leaves a torn last line: skipped, and said so
    blocks = []
    for variant in dict.fromkeys(r["variant"] for r in records):
        mine = [r for r in records if r["variant"] == variant]
        k = mine[0]["samples"]
        strata = {s: stratum_stats([r for r in mine if r["stratum"] == s], k)
                  for s in sorted(dict.fromkeys(r["stratum"] for r in mine), key=natural_order)}
        blocks.append(f"## {variant} (max_new_tokens {mine[0]['max_new_tokens']}, {k} samples per prompt)\n"
                      + format_table(strata, k))
    return "\n\n".join(blocks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/chain_sum.yaml")
    parser.add_argument("--variants", nargs="+", default=["chat", "plain", "chat_step"], choices=list(VARIANTS))
    parser.add_argument("--prompts", type=int, default=4, help="held-out prompts per stratum")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--strata-order", nargs="+", default=["3", "5", "2", "4"],
                        help="strata measured first (a run cut short still has these)")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (GRPO's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="bench/results/reasoning_growth/baseline_templates.jsonl")
    parser.add_argument("--summarize", metavar="JSONL", help="only print the table of an earlier run's file")
    args = parser.parse_args()
    if args.summarize:
        print(summarize(Path(args.summarize)))
        return
    measure(args)
    print(summarize(Path(args.out)))


if __name__ == "__main__":
    main()
