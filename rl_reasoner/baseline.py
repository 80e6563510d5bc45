"""``rl-reasoner baseline CONFIG``: can reasoning grow on this task, with this template, from this model?

Before any training time is spent, sample ``--samples`` answers at temperature ``--temperature`` (default: the
job's ``grpo.temperature``, what GRPO samples with) for ``--prompts`` held-out problems of each difficulty stratum
(the rows' ``terms`` or ``difficulty`` column; one stratum "all" when there is none) with the job's *untrained*
model, score them with the job's accuracy reward, and print per stratum:

- pass@1 and pass@k (unbiased estimator), and the share of prompts solved at least once: is there a signal at all?
  A stratum never solved gives GRPO groups with zero advantage;
- the mean length (tokens) of all, correct and wrong completions, and of the terminated ones (not cut off);
- the correlation of length with correctness (point-biserial: Pearson's r of tokens with 0/1);
- correct running totals written per completion (``rl_reasoner.chain_steps``) for chained sums, and do steps pay:
  pass@1 of the completions that write at least one correct running total against that of the others. Length is a
  proxy; this is the thing itself (a short guess and a long ramble are both "no steps");
- a verdict: RL sharpens what the model already samples, so length can grow with reward only if correct answers
  are longer than the model's usual answer. Judged on terminated completions (one cut off at the budget that ends
  on the right number is luck): "yes" when the correct ones are longer than the mean and r > 0; "no" when they are
  not; "no signal" when nothing was solved within the budget.

The numbers, the settings and every completion go to a JSON file (``--out``, default
``<run.output_dir>/baseline/<run.name>.json``), so variants (templates, prefills, budgets) can be compared
side by side: run it once per ``--set`` variant.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path

from rl_reasoner import chain_steps
from rl_reasoner.strata import group_rows
from rl_reasoner.config import JobConfig
from rl_reasoner.correct import verdict

def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def correlation(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's r; None when either side is constant or there are fewer than 2 points.

    >>> correlation([10, 20, 30, 40], [0, 0, 1, 1])
    0.894...
    >>> correlation([10, 20], [1, 1]) is None
    True
    """
    n = len(xs)
    if n < 2 or n != len(ys):
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def growth_verdict(stats: dict) -> str:
    """The plain answer for one stratum: can reward pull completions longer here?

    Judged on *terminated* completions: a completion cut off at the budget that happens to end on the right number
    (read by a last-number fallback) is luck, and ``mask_truncated_completions`` leaves it out of the loss anyway.

    >>> growth_verdict({"correct": 2, "correct_truncated": 2})
    'no signal: never correct within the budget (2 correct only when cut off)'
    >>> growth_verdict({"correct": 5, "length_correct_terminated": 60.0, "length_terminated": 40.0,
    ...                 "r_length_correct": 0.2})
    'yes: correct answers are longer (60 vs 40 tokens, terminated)'
    >>> growth_verdict({"correct": 5, "length_correct_terminated": 30.0, "length_terminated": 40.0,
    ...                 "r_length_correct": -0.1})
    'no: correct answers are not longer (30 vs 40 tokens, terminated)'
    """
    lucky = stats.get("correct_truncated", 0)
    if not stats.get("correct"):
        return "no signal: never correct"
    if stats["correct"] == lucky:
        return f"no signal: never correct within the budget ({lucky} correct only when cut off)"
    correct, usual = stats["length_correct_terminated"], stats["length_terminated"]
    longer = correct > usual
    r = stats.get("r_length_correct")
    if longer and (r is None or r > 0):
        return f"yes: correct answers are longer ({correct:.0f} vs {usual:.0f} tokens, terminated)"
    return f"no: correct answers are {'longer, but r <= 0' if longer else 'not longer'} " \
           f"({correct:.0f} vs {usual:.0f} tokens, terminated)"


def stratum_stats(samples: list[dict], k: int) -> dict:
    """Diagnostics of one stratum from its samples (``prompt_id``, ``correct`` True/False/None, ``num_tokens``,
    ``truncated``, ``intermediate_correct`` or None), ``k`` samples per prompt."""
    from rl_reasoner.evaluate import pass_at_k

    decided = [s for s in samples if s["correct"] is not None]
    correct = [s for s in decided if s["correct"]]
    wrong = [s for s in decided if not s["correct"]]
    by_prompt: dict[str, list[dict]] = {}
    for s in samples:
        by_prompt.setdefault(s["prompt_id"], []).append(s)
    steps = [s["intermediate_correct"] for s in samples if s.get("intermediate_correct") is not None]
    stats = {
        "prompts": len(by_prompt),
        "samples": len(samples),
        "undecided": len(samples) - len(decided),
        "correct": len(correct),
        "pass@1": len(correct) / len(samples) if samples else None,
        f"pass@{k}": _mean([pass_at_k(len(g), sum(bool(s["correct"]) for s in g), min(k, len(g)))
                            for g in by_prompt.values()]),
        "solved_prompts": sum(any(s["correct"] for s in g) for g in by_prompt.values()),
        "length_mean": _mean([s["num_tokens"] for s in samples]),
        "length_correct": _mean([s["num_tokens"] for s in correct]),
        "length_wrong": _mean([s["num_tokens"] for s in wrong]),
        "length_terminated": _mean([s["num_tokens"] for s in samples if not s["truncated"]]),
        "truncated": _mean([float(s["truncated"]) for s in samples]),
        "correct_truncated": sum(s["truncated"] for s in correct),
        "length_correct_terminated": _mean([s["num_tokens"] for s in correct if not s["truncated"]]),
        "r_length_correct": correlation([s["num_tokens"] for s in decided], [float(s["correct"]) for s in decided]),
        "intermediate_correct": _mean(steps),
        **steps_pay(decided),
    }
    stats["verdict"] = growth_verdict(stats)
    return stats


def steps_pay(decided: list[dict]) -> dict:
    """pass@1 of the decided completions that write a correct running total (``with_steps``) and of the others
    (``without_steps``), with their counts; {} when no completion is a chained sum.

    >>> steps_pay([{"correct": True, "intermediate_correct": 1}, {"correct": False, "intermediate_correct": 2},
    ...            {"correct": False, "intermediate_correct": 0}])
    {'with_steps': 2, 'pass@1_with_steps': 0.5, 'without_steps': 1, 'pass@1_without_steps': 0.0}
    """
    chains = [s for s in decided if s.get("intermediate_correct") is not None]
    if not chains:
        return {}
    with_steps = [bool(s["correct"]) for s in chains if s["intermediate_correct"] > 0]
    without = [bool(s["correct"]) for s in chains if s["intermediate_correct"] == 0]
    return {"with_steps": len(with_steps), "pass@1_with_steps": _mean(with_steps),
            "without_steps": len(without), "pass@1_without_steps": _mean(without)}


def baseline_path(config: JobConfig) -> Path:
    """Default output file: ``<run.output_dir>/baseline/<run.name>.json``."""
    return Path(config.run.output_dir) / "baseline" / f"{config.run.name}.json"


def format_table(strata: dict[str, dict], k: int) -> str:
    """The per-stratum diagnostics as an aligned text table (one row per stratum)."""
    def num(value, fmt):
        return "-" if value is None else format(value, fmt)

    header = f"{'stratum':>7} {'prompts':>7} {'pass@1':>6} {f'pass@{k}':>6} {'solved':>6} {'len':>5} " \
             f"{'len ok':>6} {'len bad':>7} {'r(len,ok)':>9} {'steps ok':>8} {'ok|steps':>11} {'ok|none':>11} " \
             f"{'trunc':>5}  verdict"
    lines = [header]
    for name, s in strata.items():
        lines.append(
            f"{name:>7} {s['prompts']:>7} {num(s['pass@1'], '.3f'):>6} {num(s[f'pass@{k}'], '.3f'):>6} "
            f"{s['solved_prompts']:>3}/{s['prompts']:<2} {num(s['length_mean'], '.0f'):>5} "
            f"{num(s['length_correct'], '.0f'):>6} {num(s['length_wrong'], '.0f'):>7} "
            f"{num(s['r_length_correct'], '+.2f'):>9} {num(s['intermediate_correct'], '.2f'):>8} "
            f"{_rate(s, 'with_steps'):>11} {_rate(s, 'without_steps'):>11} "
            f"{num(s['truncated'], '.2f'):>5}  {s['verdict']}")
    return "\n".join(lines)


def _rate(stats: dict, group: str) -> str:
    """'0.11 of 53' for the table's steps-pay columns; '-' when the group is empty or not a chained sum."""
    rate = stats.get(f"pass@1_{group}")
    return "-" if rate is None else f"{rate:.2f} of {stats[group]}"


def sample_rows(model, job, rows: list[dict], *, samples: int, temperature: float, stratum: str) -> list[dict]:
    """``samples`` sampled answers per row from ``model``, scored with the job's accuracy reward: one record each
    (``stratum``, ``prompt_id``, ``question``, ``answer``, ``completion``, ``num_tokens``, ``truncated``,
    ``correct`` True/False/None, ``intermediate_correct`` or None when the row is not a chained sum)."""
    from rl_reasoner.evaluate import generate, score

    per_batch = max(1, job.config.eval.batch_size // samples)
    records = []
    for start in range(0, len(rows), per_batch):
        batch = rows[start:start + per_batch]
        answers = generate(model, job.tokenizer, [row["prompt"] for row in batch], max_new_tokens=job.max_new_tokens,
                           do_sample=True, temperature=temperature, num_return_sequences=samples, batch_size=per_batch)
        paired = [row for row in batch for _ in range(samples)]
        for row, answer, value in zip(paired, answers, score(job.accuracy_reward, [a.text for a in answers], paired)):
            ops = chain_steps.row_operands(row)
            records.append({
                "stratum": stratum, "prompt_id": row["id"], "question": row["question"], "answer": row.get("answer"),
                "completion": answer.text, "num_tokens": answer.num_tokens, "truncated": answer.truncated,
                "correct": verdict(value),
                "intermediate_correct": chain_steps.step_counts(answer.text, ops)["intermediate_correct"]
                if ops else None,
            })
    return records


def run_baseline(config: JobConfig, *, samples: int = 8, prompts: int = 16, temperature: float | None = None,
                 out: Path | None = None) -> dict:
    """Sample, score and summarise per stratum (see the module doc); returns the summary written to ``out``.
    ``temperature`` None: the job's ``grpo.temperature`` (what training samples with), else 1.0."""
    from transformers import set_seed

    from rl_reasoner.model import load_model
    from rl_reasoner.job import prepare

    if samples < 1 or prompts < 0:
        raise ValueError(f"--samples must be >= 1 and --prompts >= 0, got {samples} and {prompts}")
    if temperature is None:
        temperature = float(config.grpo.get("temperature", 1.0))
    set_seed(config.run.seed)
    job = prepare(config)
    groups = group_rows(job.eval_rows, prompts)
    model = load_model(job.model_path, config.model)
    started = time.time()
    records: list[dict] = []
    total = sum(map(len, groups.values()))
    for name, rows in groups.items():
        records += sample_rows(model, job, rows, samples=samples, temperature=temperature, stratum=name)
        print(f"[rl-reasoner] baseline: {len(records) // samples}/{total} prompts "
              f"({time.time() - started:.0f}s)", flush=True)
    strata = {name: stratum_stats([r for r in records if r["stratum"] == name], samples) for name in groups}
    summary = {
        "meta": {"config": config.source, "model": config.model.name, "task": config.task.name,
                 "task_params": config.task.params, "template": config.task.template, "chat": config.task.chat,
                 "prompt_example": next(iter(groups.values()))[0]["prompt"], "samples": samples,
                 "prompts_per_stratum": prompts, "temperature": temperature, "max_new_tokens": job.max_new_tokens,
                 "reward": job.accuracy_reward_name, "seed": config.run.seed,
                 "seconds": round(time.time() - started, 1), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
        "strata": strata,
        "completions": records,
    }
    path = out or baseline_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=1) + "\n")
    print(format_table(strata, samples))
    print(f"[rl-reasoner] baseline written: {path} ({summary['meta']['seconds']:.0f}s)", flush=True)
    return summary
