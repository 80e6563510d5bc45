"""``rl-reasoner difficulty CONFIG``: the pass rate of every training prompt under the initial model.

The offline half of the curriculum (what open-r1 does by hand with pass-rate filtering): sample
``sampling.difficulty_samples`` answers per training prompt with the job's initial model, score them with the
accuracy reward, and write the pass rates to a JSON file. A job that sets ``sampling.pass_rates`` to that file starts
its running pass rates from it, so with ``sampling.curriculum`` on it draws the informative prompts (pass rate
neither 0 nor 1) from the first step instead of discovering them.

File format (``pass_rates.json``)::

    {"meta": {"model": ..., "task": ..., "task_params": ..., "seed": ..., "samples": 8, "temperature": 1.0, ...},
     "pass_rates": {"<row id>": 0.25, ...}}
"""

from __future__ import annotations

import time
from pathlib import Path

from rl_reasoner.config import JobConfig
from rl_reasoner.correct import tally
from rl_reasoner.curriculum import informative_probability, read_pass_rates, write_pass_rates  # noqa: F401 (the file's API)


def pass_rates_path(config: JobConfig) -> Path:
    """Where a job's pass rates go: ``sampling.pass_rates``, else ``<run.output_dir>/pass_rates/<run.name>.json``."""
    if config.sampling.pass_rates:
        return Path(config.sampling.pass_rates)
    return Path(config.run.output_dir) / "pass_rates" / f"{config.run.name}.json"


def pass_rate(scores: list[float | None]) -> float | None:
    """The share of decided answers that are correct (``rl_reasoner.correct``: undecided ones, None or NaN, left
    out, and counted in the file's meta); None when none was decided.

    >>> pass_rate([1.0, 0.0, None, 1.0]), pass_rate([None, None])
    (0.6666666666666666, None)
    """
    return tally(scores).pass_rate()


def summarize(rates: list[float], group_size: int) -> dict[str, float]:
    """Shares of never-solved, always-solved and informative prompts, and the share of GRPO groups of
    ``group_size`` expected to be informative when prompts are drawn uniformly.

    >>> summary = summarize([0.0, 0.5, 1.0, 0.0], group_size=2)
    >>> [summary[k] for k in ("never_solved", "always_solved", "informative", "expected_informative_groups")]
    [0.5, 0.25, 0.25, 0.125]
    """
    n = len(rates)
    if n == 0:
        raise ValueError("no pass rates to summarize")
    return {
        "prompts": n,
        "never_solved": sum(r == 0.0 for r in rates) / n,
        "always_solved": sum(r == 1.0 for r in rates) / n,
        "informative": sum(0.0 < r < 1.0 for r in rates) / n,
        "expected_informative_groups": sum(informative_probability(r, group_size) for r in rates) / n,
    }


def estimate_difficulty(config: JobConfig) -> Path:
    """Sample answers for every training prompt with the initial model, write their pass rates; returns the file."""
    from transformers import set_seed

    from rl_reasoner.evaluate import generate, score
    from rl_reasoner.model import load_model
    from rl_reasoner.job import prepare

    set_seed(config.run.seed)
    job = prepare(config)
    rows = job.train_rows[: config.sampling.difficulty_max_prompts or None]
    k = config.sampling.difficulty_samples
    temperature = float(config.grpo.get("temperature", 1.0))
    model = load_model(job.model_path, config.model)
    per_batch = max(1, config.eval.batch_size // k)
    rates: dict[str, float] = {}
    undecided = {"answers": 0, "prompts": 0}  # answers the grader could not decide; prompts with none decided
    started = time.time()
    for start in range(0, len(rows), per_batch):
        batch = rows[start:start + per_batch]
        answers = generate(model, job.tokenizer, [row["prompt"] for row in batch], max_new_tokens=job.max_new_tokens,
                           do_sample=True, temperature=temperature, num_return_sequences=k, batch_size=per_batch)
        scores = score(job.accuracy_reward, [a.text for a in answers], [row for row in batch for _ in range(k)])
        for i, row in enumerate(batch):
            counts = tally(scores[i * k:(i + 1) * k])
            undecided["answers"] += counts.undecided
            if counts.pass_rate() is None:
                undecided["prompts"] += 1
            else:
                rates[str(row["id"])] = counts.pass_rate()
        print(f"[rl-reasoner] difficulty: {start + len(batch)}/{len(rows)} prompts ({time.time() - started:.0f}s)",
              flush=True)
    path = pass_rates_path(config)
    write_pass_rates(path, rates, {
        "model": config.model.name, "task": config.task.name, "task_params": config.task.params,
        "seed": config.run.seed, "samples": k, "temperature": temperature, "max_new_tokens": job.max_new_tokens,
        "reward": job.accuracy_reward_name, "prompts": len(rows), "undecided": undecided,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })
    group_size = int(config.grpo.get("num_generations", 8))
    summary = summarize(list(rates.values()), group_size) if rates else None
    if summary:
        print(f"[rl-reasoner] {summary['prompts']} prompts: never solved {summary['never_solved']:.0%}, always "
              f"solved {summary['always_solved']:.0%}, informative {summary['informative']:.0%}; expected share of "
              f"informative groups of {group_size} under uniform sampling {summary['expected_informative_groups']:.0%}")
    if undecided["answers"]:
        print(f"[rl-reasoner] undecided (the grader could not score them, left out of the rates): "
              f"{undecided['answers']} of {len(rows) * k} answers; {undecided['prompts']} prompts have no rate",
              flush=True)
    print(f"[rl-reasoner] pass rates written: {path}\n  use them: --set sampling.curriculum=true "
          f"--set sampling.pass_rates={path}", flush=True)
    return path
