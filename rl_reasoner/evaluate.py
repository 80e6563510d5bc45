"""Held-out evaluation: greedy accuracy, pass@k (unbiased estimator), maj@k, length and behaviour metrics.

Generation puts the model in eval mode with the KV cache on and restores the previous mode afterwards: after
``trainer.train()`` a model is left in train mode with gradient checkpointing on, where ``generate`` produces
garbage (see DESIGN.md).
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from math import comb
from pathlib import Path

import torch

from rl_reasoner import behaviour


@dataclass
class Generation:
    text: str
    num_tokens: int
    truncated: bool


@contextmanager
def inference_mode(model):
    """Eval mode + KV cache for generation; the previous train/eval mode and cache setting are restored."""
    was_training = model.training
    config = getattr(model, "config", None)
    had_cache = getattr(config, "use_cache", None)
    model.eval()
    if config is not None:
        config.use_cache = True
    try:
        with torch.inference_mode():
            yield model
    finally:
        if config is not None and had_cache is not None:
            config.use_cache = had_cache
        model.train(was_training)


def generate(model, tokenizer, prompts: list[str], *, max_new_tokens: int, do_sample: bool = False,
             temperature: float = 1.0, num_return_sequences: int = 1, batch_size: int = 64) -> list[Generation]:
    """Generate completions for string prompts; returns ``len(prompts) * num_return_sequences`` generations,
    the samples of one prompt consecutive."""
    eos_ids = model.generation_config.eos_token_id
    eos_ids = set([eos_ids] if isinstance(eos_ids, int) else (eos_ids or [])) | {tokenizer.eos_token_id}
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    out: list[Generation] = []
    try:
        with inference_mode(model):
            device = next(model.parameters()).device
            for start in range(0, len(prompts), batch_size):
                batch = tokenizer(prompts[start:start + batch_size], return_tensors="pt", padding=True,
                                  add_special_tokens=False).to(device)
                sampling = {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": 0} if do_sample \
                    else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
                ids = model.generate(**batch, max_new_tokens=max_new_tokens, num_return_sequences=num_return_sequences,
                                     pad_token_id=tokenizer.pad_token_id, use_cache=True, **sampling)
                for row in ids[:, batch["input_ids"].shape[1]:].tolist():
                    end = next((i for i, t in enumerate(row) if t in eos_ids), None)
                    tokens = row if end is None else row[:end]
                    out.append(Generation(tokenizer.decode(tokens, skip_special_tokens=True), len(tokens), end is None))
    finally:
        tokenizer.padding_side = padding_side
    return out


def score(reward_fn, completions: list[str], rows: list[dict]) -> list[float | None]:
    """Call a TRL-signature reward on completions paired with their dataset rows."""
    columns = {key: [row[key] for row in rows] for key in rows[0] if key != "prompt"}
    return reward_fn(completions, prompts=[row.get("prompt") for row in rows], **columns)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al., 2021).

    >>> pass_at_k(4, 1, 1), pass_at_k(4, 0, 4), pass_at_k(4, 1, 4)
    (0.25, 0.0, 1.0)
    """
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def majority_correct(answers: list[str | None], correct: list[bool]) -> bool:
    """maj@k: the most frequent extracted answer (ties: first seen) is judged by any sample that gave it."""
    votes = Counter(a for a in answers if a is not None)
    if not votes:
        return False
    top = max(votes, key=lambda a: (votes[a], -answers.index(a)))
    return any(ok for a, ok in zip(answers, correct) if a == top)


def evaluate(model, tokenizer, rows: list[dict], *, accuracy_fn, format_fn=None, max_new_tokens: int,
             k: int = 0, temperature: float = 1.0, batch_size: int = 64, markers=None,
             step: int = 0) -> tuple[dict[str, float], list[dict]]:
    """Score a model on held-out rows (each with a rendered ``prompt``). Returns (metrics, per-example records)."""
    prompts = [row["prompt"] for row in rows]
    greedy = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size)
    texts = [g.text for g in greedy]
    correct = [r == 1.0 for r in score(accuracy_fn, texts, rows)]
    formatted = [r == 1.0 for r in score(format_fn, texts, rows)] if format_fn else [None] * len(texts)
    metrics = {"accuracy": sum(correct) / len(correct)}
    metrics.update(behaviour.batch_metrics(
        texts, num_tokens=[g.num_tokens for g in greedy], truncated=[g.truncated for g in greedy],
        correct=correct, formatted=formatted, prompts=prompts, markers=markers))
    records = [{"step": step, "prompt_id": row["id"], "question": row.get("question"), "answer": row.get("answer"),
                "completion": g.text, "correct": ok, "num_tokens": g.num_tokens, "truncated": g.truncated}
               for row, g, ok in zip(rows, greedy, correct)]
    if k > 0:
        sampled = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, do_sample=True,
                           temperature=temperature, num_return_sequences=k, batch_size=max(1, batch_size // k))
        sampled_rows = [row for row in rows for _ in range(k)]
        sampled_texts = [g.text for g in sampled]
        ok = [r == 1.0 for r in score(accuracy_fn, sampled_texts, sampled_rows)]
        answers = [_final_answer(t) for t in sampled_texts]
        groups = [slice(i * k, (i + 1) * k) for i in range(len(rows))]
        metrics["pass@1"] = sum(ok) / len(ok)
        metrics[f"pass@{k}"] = sum(pass_at_k(k, sum(ok[g]), k) for g in groups) / len(rows)
        metrics[f"maj@{k}"] = sum(majority_correct(answers[g], ok[g]) for g in groups) / len(rows)
    return metrics, records


def _final_answer(text: str) -> str | None:
    from rewards.extract import extract_answer

    answer = extract_answer(text)
    return answer.strip() if answer else None


def run_eval(target: Path, checkpoint: str | None = None, overrides: list[str] | None = None,
             label: str | None = None) -> dict[str, float]:
    """``rl-reasoner eval``: score a run's model (or a config's model) on the task's held-out split.

    ``target`` is a run directory (its ``config.yaml``; the model is ``--checkpoint``, else the run's ``final/``,
    else its last complete checkpoint, said so) or a job file (the model is ``--checkpoint``, else ``model.name``).
    For a run directory the results go to their own files, ``eval_posthoc.jsonl`` / ``eval_posthoc_samples.jsonl``
    (each record carries ``label``, the checkpoint and the number of examples), never to the training run's
    ``eval.jsonl``: a later evaluation on other settings must not replace what the run recorded.
    """
    import time

    import yaml

    from rl_reasoner.config import ConfigError, apply_override, from_dict, load_config
    from rl_reasoner.model import load_model
    from rl_reasoner.resume import last_complete_checkpoint
    from rl_reasoner.rundir import RunDir
    from rl_reasoner.train import prepare

    target = Path(target)
    if not target.exists():
        raise FileNotFoundError(f"{target}: no such run directory or config file")
    run = None
    if target.is_dir():
        run = RunDir(target)
        raw = run.read_config()
        if raw is None:
            raise FileNotFoundError(f"{target}: not a run directory (no readable config.yaml)")
        raw.pop("meta", None)
        for item in overrides or []:
            apply_override(raw, item, str(target / "config.yaml"))
        config = from_dict(raw, str(target / "config.yaml"))
        config.source = str(target / "config.yaml")
    else:
        config = load_config(target, overrides)
    if checkpoint is not None and not Path(checkpoint).is_dir():
        raise FileNotFoundError(f"--checkpoint {checkpoint}: no such directory")
    model_path = checkpoint
    if model_path is None and run is not None:
        if (run.path / "final").is_dir():
            model_path = str(run.path / "final")
        elif (last := last_complete_checkpoint(run.checkpoints)) is not None:
            model_path = str(last)
            print(f"[rl-reasoner] {run.path} has no final/ (the run did not finish): evaluating its last complete "
                  f"checkpoint, {last.name}", flush=True)
        else:
            raise ConfigError(f"{run.path} has neither final/ nor a complete checkpoint: no trained model to evaluate. "
                              f"Fix: pass --checkpoint DIR, or evaluate the base model with `rl-reasoner eval CONFIG`")
    job = prepare(config)
    model_path = model_path or job.model_path
    step = _step_of(Path(model_path), run)
    model = load_model(model_path, config.model)
    rows = job.eval_rows[: config.eval.num_examples or None]
    print(f"[rl-reasoner] evaluating {model_path} on {len(rows)} held-out {config.task.name} examples", flush=True)
    metrics, records = evaluate(model, job.tokenizer, rows, accuracy_fn=job.accuracy_fn, format_fn=job.format_fn,
                                max_new_tokens=job.max_new_tokens, k=config.eval.k,
                                temperature=config.eval.temperature, batch_size=config.eval.batch_size, step=step)
    width = max(map(len, metrics))
    for name, value in metrics.items():
        print(f"  {name:<{width}}  {value:.4f}")
    if run is not None:
        source = {"label": label or Path(model_path).name, "checkpoint": str(model_path), "num_examples": len(rows),
                  "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        run.append(POSTHOC, [{"step": step, "task": config.task.name, "metric": m, "value": v, **source}
                             for m, v in metrics.items()])
        run.append(POSTHOC + "_samples", [{**r, **source} for r in records])
        print(f"[rl-reasoner] results recorded in {run.file(POSTHOC)} (label {source['label']!r})", flush=True)
    return metrics


POSTHOC = "eval_posthoc"
"""The run-directory file (``eval_posthoc.jsonl``) of evaluations made later with ``rl-reasoner eval``."""


def _step_of(model_path: Path, run) -> int:
    """The training step a model was saved at (checkpoint-N → N; a run's final model → its last step)."""
    import json

    if model_path.name.startswith("checkpoint-") and model_path.name.split("-")[1].isdigit():
        return int(model_path.name.split("-")[1])
    state = model_path / "trainer_state.json"
    if state.is_file():
        return json.loads(state.read_text()).get("global_step", 0)
    if run is not None and model_path.name == "final":
        steps = [r.get("step", 0) for r in run.read("metrics")]
        return max(steps, default=0)
    return 0
