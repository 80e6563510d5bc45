"""Held-out evaluation: greedy accuracy (as the reward reads it, requiring the format, and by the most lenient
reading), format adherence, pass@k from n > k samples (unbiased estimator), maj@k on the reward's canonical answer,
length, truncation and behaviour metrics; every accuracy with its 95% Wilson interval.

"Correct" is ``rl_reasoner.correct.verdict`` of the accuracy reward: an undecided answer (``None``) is never
right, and its share is reported on its own (``undecided``).

Generation puts the model in eval mode with the KV cache on and restores the previous mode afterwards: after
``trainer.train()`` a model is left in train mode with gradient checkpointing on, where ``generate`` produces
garbage.
"""

from __future__ import annotations

import copy
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from math import comb

import torch

from rewards.answers import canonical_answer_of, has_answers
from rl_reasoner import behaviour, shared_prefix
from rl_reasoner.correct import tally, verdict
from rl_reasoner.stats import wilson


@dataclass
class Generation:
    text: str
    num_tokens: int
    truncated: bool
    ids: list[int] = field(default_factory=list)
    """The completion's token ids (what TRL's length and repetition rewards read as ``completion_ids``)."""


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
    the samples of one prompt consecutive.

    The samples of a prompt share one prefill of it (:func:`rl_reasoner.shared_prefix.install_generate`) where that
    is exact; ``generate``'s own ``num_return_sequences`` would prefill the prompt once per sample, which is most of
    the cost of sampling short answers to long prompts (the R1-Zero template is ~110 tokens, an answer ~20).

    Under ZeRO-3 / FSDP every process must call this with the same number of prompts (``synced_gpus``, which
    transformers turns on there, keeps their forward passes in step)."""
    share_prefill = num_return_sequences > 1 and shared_prefix.unsupported_reason(model) is None
    if share_prefill:
        shared_prefix.install_generate(model)
    eos_ids = model.generation_config.eos_token_id
    eos_ids = set([eos_ids] if isinstance(eos_ids, int) else (eos_ids or [])) | {tokenizer.eos_token_id}
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    out: list[Generation] = []
    starts = range(0, len(prompts), batch_size)
    began = time.monotonic()
    try:
        with inference_mode(model):
            device = next(model.parameters()).device
            for start in starts:
                batch = tokenizer(prompts[start:start + batch_size], return_tensors="pt", padding=True,
                                  add_special_tokens=False).to(device)
                if share_prefill:  # the rows of a prompt, consecutive as num_return_sequences gives them
                    batch = {name: t.repeat_interleave(num_return_sequences, dim=0) for name, t in batch.items()}
                sampling = {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": 0} if do_sample \
                    else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
                settings = copy.deepcopy(model.generation_config)  # as one object: the shared prefill takes no kwargs
                settings.update(max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id, use_cache=True,
                                num_return_sequences=1 if share_prefill else num_return_sequences, **sampling)
                ids = model.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                     generation_config=settings)
                for row in ids[:, batch["input_ids"].shape[1]:].tolist():
                    end = next((i for i, t in enumerate(row) if t in eos_ids), None)
                    tokens = row if end is None else row[:end]
                    out.append(Generation(tokenizer.decode(tokens, skip_special_tokens=True), len(tokens), end is None,
                                          tokens))
                if len(starts) > 1:  # long work shows progress: 200 prompts of 128 tokens take minutes on a CPU
                    print(f"[rl-reasoner]   generated {min(start + batch_size, len(prompts))}/{len(prompts)} prompts "
                          f"({time.monotonic() - began:.0f}s)", flush=True)
    finally:
        tokenizer.padding_side = padding_side
    return out


@contextmanager
def vllm_sampling(engine, *, max_new_tokens: int, do_sample: bool, temperature: float):
    """Set an engine's sampling settings (TRL's ``VLLMGeneration`` reads them from its attributes) for one
    evaluation, and restore the training ones afterwards."""
    settings = {"temperature": temperature if do_sample else 0.0, "top_p": 1.0, "top_k": -1 if do_sample else 0,
                "min_p": 0.0, "repetition_penalty": 1.0, "max_completion_length": max_new_tokens}
    saved = {name: getattr(engine, name) for name in settings if hasattr(engine, name)}
    for name, value in settings.items():
        setattr(engine, name, value)
    try:
        yield engine
    finally:
        for name in settings:
            if name in saved:
                setattr(engine, name, saved[name])
            else:
                delattr(engine, name)


def generate_vllm(engine, tokenizer, prompts: list[str], *, max_new_tokens: int, do_sample: bool = False,
                  temperature: float = 1.0, num_return_sequences: int = 1, eos_ids=()) -> list[Generation]:
    """Generate through the trainer's vLLM engine (TRL's ``VLLMGeneration``, colocate or server mode).

    Like TRL's own call it is collective: every process calls it with its own prompts (the same number on each, as
    the server mode slices the broadcast answers by count), each prompt repeated ``num_return_sequences`` times."""
    ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    repeated = [row for row in ids for _ in range(num_return_sequences)]
    eos = set(eos_ids) | {tokenizer.eos_token_id}
    with vllm_sampling(engine, max_new_tokens=max_new_tokens, do_sample=do_sample, temperature=temperature):
        _, completion_ids, _, _ = engine.generate(prompts=repeated, images=None, num_generations=num_return_sequences)
    out = []
    for row in completion_ids:
        row = list(row)
        end = next((i for i, t in enumerate(row) if t in eos), None)
        tokens = row if end is None else row[:end]
        out.append(Generation(tokenizer.decode(tokens, skip_special_tokens=True), len(tokens),
                              end is None and len(row) >= max_new_tokens, tokens))
    return out


def score(reward_fn, completions: list[str], rows: list[dict], completion_ids: list[list[int]] | None = None
          ) -> list[float | None]:
    """Call a TRL-signature reward on completions paired with their dataset rows (and their token ids, which TRL's
    length and repetition rewards read)."""
    columns = {key: [row[key] for row in rows] for key in rows[0] if key != "prompt"}
    if completion_ids is not None:
        columns["completion_ids"] = completion_ids
    return reward_fn(completions, prompts=[row.get("prompt") for row in rows], **columns)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al., 2021).

    >>> pass_at_k(4, 1, 1), pass_at_k(4, 0, 4), pass_at_k(4, 1, 4), pass_at_k(8, 2, 2)
    (0.25, 0.0, 1.0, 0.4642857142857143)
    """
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def majority_correct(answers: list[str | None], correct: list[bool | None]) -> bool:
    """maj@k: the most frequent answer (ties: first seen) is judged by any sample that gave it.

    >>> majority_correct(["1/2", "3", "1/2", None], [True, False, True, False]), majority_correct([None], [False])
    (True, False)
    """
    votes = Counter(a for a in answers if a is not None)
    if not votes:
        return False
    top = max(votes, key=lambda a: (votes[a], -answers.index(a)))
    return any(ok is True for a, ok in zip(answers, correct) if a == top)


def pass_ks(k: int) -> list[int]:
    """The k of pass@k reported for a configured k: the powers of two below it, and k.

    >>> pass_ks(16), pass_ks(6), pass_ks(1)
    ([1, 2, 4, 8, 16], [1, 2, 4, 6], [1])
    """
    return sorted({2 ** i for i in range(k.bit_length()) if 2 ** i <= k} | {k})


def verdicts(reward_fn, texts: list[str], rows: list[dict], ids: list[list[int]]) -> list[bool | None]:
    return [verdict(s) for s in score(reward_fn, texts, rows, ids)]


def score_examples(generate_fn, rows: list[dict], *, accuracy_reward, format_reward=None, k: int = 0, samples: int = 0,
                   temperature: float = 1.0, step: int = 0) -> list[dict]:
    """Generate and score every held-out row; one record per row (what ``eval_samples.jsonl`` holds and what
    :func:`summarize` turns into metrics, so that processes can each score a share and gather the records).

    ``generate_fn(prompts, do_sample=..., temperature=..., num_return_sequences=...) -> list[Generation]``.
    Greedy: ``correct`` (the accuracy reward), ``formatted`` (the format reward), ``lenient`` (the reward's lenient
    reading, if it has one); each True/False, or None when undecided. With ``k``: ``samples`` answers at
    ``temperature`` (0: ``4 * k``), ``sampled_correct``/``sampled_undecided`` counts and ``maj`` (the share of
    disjoint groups of k whose majority answer, by the reward's canonical answer, is right; not for a reward
    without answers, see ``rewards.answers.has_answers``)."""
    if not rows:
        return []
    prompts = [row["prompt"] for row in rows]
    greedy = generate_fn(prompts, do_sample=False, temperature=temperature, num_return_sequences=1)
    texts, ids = [g.text for g in greedy], [g.ids for g in greedy]
    correct = verdicts(accuracy_reward, texts, rows, ids)
    formatted = verdicts(format_reward, texts, rows, ids) if format_reward else [None] * len(rows)
    lenient_fn = getattr(accuracy_reward, "lenient_scores", None)
    lenient = [verdict(s) for s in score(lenient_fn, texts, rows)] if lenient_fn else [None] * len(rows)
    records = [{"step": step, "prompt_id": row["id"], "question": row.get("question"), "answer": row.get("answer"),
                "completion": g.text, "correct": ok, "formatted": form, "lenient": easy,
                "num_tokens": g.num_tokens, "truncated": g.truncated}
               for row, g, ok, form, easy in zip(rows, greedy, correct, formatted, lenient)]
    if k > 0:
        n = samples or 4 * k
        sampled = generate_fn(prompts, do_sample=True, temperature=temperature, num_return_sequences=n)
        sampled_rows = [row for row in rows for _ in range(n)]
        sampled_texts = [g.text for g in sampled]
        ok = verdicts(accuracy_reward, sampled_texts, sampled_rows, [g.ids for g in sampled])
        vote = has_answers(accuracy_reward)  # maj@k: not for a program judged by its tests
        answers = [canonical_answer_of(accuracy_reward, t, **row) for t, row in zip(sampled_texts, sampled_rows)
                   if vote]
        for i, record in enumerate(records):
            group = slice(i * n, (i + 1) * n)
            counts = tally(1.0 if v else (None if v is None else 0.0) for v in ok[group])
            record.update({"samples": n, "sampled_correct": counts.correct, "sampled_undecided": counts.undecided})
            if vote:
                votes = [majority_correct(answers[group][j:j + k], ok[group][j:j + k]) for j in range(0, n - k + 1, k)]
                record["maj"] = sum(votes) / len(votes)
    return records


def summarize(records: list[dict], *, k: int = 0) -> dict[str, dict]:
    """Metrics of scored records: ``{name: {"value", "n", "ci_low", "ci_high"}}`` (95% Wilson intervals over the
    ``n`` examples; see ``rl_reasoner.stats``).

    accuracy (the accuracy reward, greedy), accuracy_formatted (right *and* well formatted: R1-Zero's accuracy),
    accuracy_lenient (any answer the grader can read, format ignored), format (format adherence), undecided (the
    share the grader could not decide: never counted as right), and with ``k``: pass@1 (sampled accuracy),
    pass@j for j in :func:`pass_ks` (unbiased, from ``samples`` > k answers) and maj@k."""
    n = len(records)
    if n == 0:
        return {}
    out: dict[str, dict] = {}

    def add(name: str, value: float) -> None:
        interval = wilson(min(1.0, max(0.0, value)), n)
        out[name] = {"value": value, "n": n, "ci_low": interval.low, "ci_high": interval.high}

    def share(values) -> float:
        return sum(1 for v in values if v is True) / n

    add("accuracy", share(r["correct"] for r in records))
    if any(r.get("formatted") is not None for r in records):
        add("accuracy_formatted", share(r["correct"] is True and r.get("formatted") is True for r in records))
        add("format", share(r.get("formatted") for r in records))
    if any(r.get("lenient") is not None for r in records):
        add("accuracy_lenient", share(r.get("lenient") for r in records))
    add("undecided", sum(r["correct"] is None for r in records) / n)
    if k > 0 and all("samples" in r for r in records):
        add("pass@1", sum(r["sampled_correct"] / r["samples"] for r in records) / n)
        for j in pass_ks(k):
            if j > 1:
                add(f"pass@{j}", sum(pass_at_k(r["samples"], r["sampled_correct"], j) for r in records) / n)
        if all("maj" in r for r in records):
            add(f"maj@{k}", sum(r["maj"] for r in records) / n)
    return out


def evaluate_model(model, tokenizer, rows: list[dict], *, accuracy_reward, format_reward=None, max_new_tokens: int,
                   k: int = 0, samples: int = 0, temperature: float = 1.0, batch_size: int = 64, markers=None,
                   step: int = 0) -> tuple[dict[str, float], list[dict]]:
    """Generate with a model (HF, in this process) on held-out rows (each with a rendered ``prompt``) and score it.

    Returns (metrics, per-example records); ``metrics`` maps a name to its value, and ``metrics["intervals"]``
    is not there: the intervals are in :func:`summarize`'s output, which :func:`metric_records` writes."""

    def generate_fn(prompts, *, do_sample, temperature, num_return_sequences):
        per_batch = batch_size if num_return_sequences == 1 else max(1, batch_size // num_return_sequences)
        return generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, do_sample=do_sample,
                        temperature=temperature, num_return_sequences=num_return_sequences, batch_size=per_batch)

    records = score_examples(generate_fn, rows, accuracy_reward=accuracy_reward, format_reward=format_reward, k=k,
                             samples=samples, temperature=temperature, step=step)
    summary = summarize(records, k=k)
    return {**{name: m["value"] for name, m in summary.items()},
            **behaviour_of(records, rows, markers)}, records


def behaviour_of(records: list[dict], rows: list[dict], markers=None) -> dict[str, float]:
    """The ``behaviour/*`` metrics of the greedy answers of scored records."""
    prompts = {row["id"]: row.get("prompt") for row in rows}
    return behaviour.batch_metrics(
        [r["completion"] for r in records], num_tokens=[r["num_tokens"] for r in records],
        truncated=[r["truncated"] for r in records], correct=[r["correct"] for r in records],
        formatted=[r.get("formatted") for r in records], prompts=[prompts.get(r["prompt_id"], "") for r in records],
        markers=markers)


def metric_records(summary: dict[str, dict], extra: dict[str, float], *, step: int, task: str, **source) -> list[dict]:
    """``eval.jsonl`` lines: one per metric; accuracies carry ``n``, ``ci_low``, ``ci_high``."""
    return ([{"step": step, "task": task, "metric": name, **m, **source} for name, m in summary.items()]
            + [{"step": step, "task": task, "metric": name, "value": v, **source} for name, v in extra.items()])


def console_line(summary: dict[str, dict]) -> str:
    """The evaluation's accuracies with their intervals, for the console.

    >>> console_line({"accuracy": {"value": 0.5, "n": 60, "ci_low": 0.377, "ci_high": 0.623}})
    'accuracy 0.500 [0.377, 0.623]'
    """
    return " | ".join(f"{name} {m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]" for name, m in summary.items())
