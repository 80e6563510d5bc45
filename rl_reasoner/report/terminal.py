"""The terminal views: ``rl-reasoner aha`` (completions that re-check their work and end right) and
``rl-reasoner inspect`` (one training step's samples)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rl_reasoner.behaviour import DEFAULT_MARKERS, REFLECTION, matched_markers
from rl_reasoner.report.runs import Run, _as_dict, _fmt, _number, load_run

# -- aha examples ----------------------------------------------------------------------------------------------


def aha_examples(run_dir: str | Path | Run, limit: int = 10) -> list[dict]:
    """The earliest correct completions that contain a reflection marker, one per prompt.

    Prompts that were answered wrongly at an earlier step (in training samples, probes or held-out evaluation)
    come first, earliest first; then the other prompts, earliest first. Each example is a dict with ``step``,
    ``source`` ("train", "probe" or "eval"), ``prompt_id``, ``question``, ``answer``, ``completion``,
    ``markers`` (the reflection phrases found) and ``wrong_at`` (the earlier step answered wrongly, or None).
    """
    run = run_dir if isinstance(run_dir, Run) else load_run(run_dir)
    reflection_markers = {REFLECTION: run.markers.get(REFLECTION, DEFAULT_MARKERS[REFLECTION])}
    attempts = [("probe" if r.get("probe") else "train", r) for r in run.samples] + [
        ("eval", r) for r in run.eval_samples
    ]
    first_wrong: dict[str, int] = {}
    for _, record in attempts:
        if record.get("correct") is False and record.get("prompt_id") is not None:
            key = str(record["prompt_id"])
            first_wrong[key] = min(first_wrong.get(key, record["step"]), record["step"])

    best: dict[str, dict] = {}
    for source, record in sorted(attempts, key=lambda pair: pair[1]["step"]):
        if record.get("correct") is not True or record.get("prompt_id") is None:
            continue
        if _as_dict(record.get("flags")).get(REFLECTION) in (0, False):
            continue
        completion = str(record.get("completion") or "")
        found = matched_markers(completion, reflection_markers).get(REFLECTION)
        if not found:
            continue
        key = str(record["prompt_id"])
        wrong_at = first_wrong.get(key)
        example = {
            "step": record["step"],
            "source": source,
            "prompt_id": key,
            "question": str(record.get("question") or record.get("prompt") or ""),
            "answer": record.get("answer"),
            "completion": completion,
            "markers": found,
            "wrong_at": wrong_at if wrong_at is not None and wrong_at < record["step"] else None,
            "num_tokens": record.get("num_tokens"),
        }
        previous = best.get(key)
        if previous is None or (previous["wrong_at"] is None and example["wrong_at"] is not None):
            best[key] = example
    ranked = sorted(best.values(), key=lambda e: (e["wrong_at"] is None, e["step"], e["prompt_id"]))
    return ranked[:limit]


def format_aha(examples: list[dict]) -> str:
    """A terminal view of :func:`aha_examples`.

    >>> print(format_aha([]))
    no aha examples yet: no correct completion contains a reflection marker
    """
    if not examples:
        return "no aha examples yet: no correct completion contains a reflection marker"
    blocks = []
    for number, example in enumerate(examples, 1):
        history = f"wrong at step {example['wrong_at']}" if example["wrong_at"] is not None else "not seen wrong before"
        blocks.append(
            "\n".join(
                [
                    _rule(
                        f"aha {number}/{len(examples)} · step {example['step']} · {example['source']} · "
                        f"prompt {example['prompt_id']} · {history}"
                    ),
                    f"markers:  {', '.join(example['markers'])}",
                    f"question: {_tail(example['question'], 400)}",
                    f"answer:   {example['answer']}",
                    "completion:",
                    _indent(example["completion"]),
                ]
            )
        )
    return "\n\n".join(blocks)


# -- inspect ---------------------------------------------------------------------------------------------------


def format_step(run_dir: str | Path, step: int) -> str:
    """A readable terminal view of the completions recorded at ``step`` (training samples, probes, held-out).

    When the step was not recorded, says so and lists the steps that were.
    """
    run = load_run(run_dir)
    if not run.samples and not run.eval_samples:
        return f"no completions recorded yet in {run.path}: " + "; ".join(n for n in run.notes if "samples" in n)
    samples = [r for r in run.samples if r["step"] == step]
    held_out = [r for r in run.eval_samples if r["step"] == step]
    if not samples and not held_out:
        return (
            f"step {step} was not recorded in {run.path}.\n"
            f"steps with samples: {_ranges(r['step'] for r in run.samples) or 'none'}\n"
            f"steps with held-out completions: {_ranges(r['step'] for r in run.eval_samples) or 'none'}"
        )
    lines = [f"{run.name} · step {step}"]
    logged = next((r for r in reversed(run.metrics) if r["step"] == step), None)
    if logged:
        shown = [f"{k} {v:.3g}" for k, v in logged.items() if k in _STEP_SUMMARY_KEYS and _number(v) is not None]
        lines.append("metrics: " + ", ".join(shown))
    training = [r for r in samples if not r.get("probe")]
    probes = [r for r in samples if r.get("probe")]
    for kind, records in (("sample", training), ("probe", probes), ("held-out", held_out)):
        for number, record in enumerate(records, 1):
            lines += ["", _format_sample(record, f"{kind} {number}/{len(records)}")]
    return "\n".join(lines)


_STEP_SUMMARY_KEYS = ("reward", "completions/mean_length", "behaviour/reflection_rate", "kl", "entropy")


def _format_sample(record: dict, title: str) -> str:
    correct = {True: "correct", False: "wrong", None: "not scorable"}.get(record.get("correct"), "not scorable")
    header = [title, f"prompt {record.get('prompt_id')}", correct]
    if record.get("num_tokens") is not None:
        header.append(f"{record['num_tokens']} tokens" + (" (truncated)" if record.get("truncated") else ""))
    reasons = _as_dict(record.get("reasons"))
    rewards = [
        f"{name} {_fmt(value)}" + (f" ({reasons[name]})" if reasons.get(name) else "")
        for name, value in _as_dict(record.get("rewards")).items()
    ]
    flags = [f"{name} {count}" for name, count in _as_dict(record.get("flags")).items() if count]
    lines = [_rule(" · ".join(header))]
    if rewards:
        lines.append("rewards:  " + ", ".join(rewards))
    if flags:
        lines.append("markers:  " + ", ".join(flags))
    lines.append("prompt:   " + _tail(str(record.get("question") or record.get("prompt") or ""), 300))
    if record.get("answer") is not None:
        lines.append(f"answer:   {record['answer']}")
    lines += ["completion:", _indent(str(record.get("completion") or ""))]
    return "\n".join(lines)


def _rule(title: str, width: int = 100) -> str:
    return f"── {title} " + "─" * max(3, width - len(title) - 4)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in (text.splitlines() or [""]))


def _tail(text: str, limit: int) -> str:
    """The last ``limit`` characters of ``text`` on one line (the question is at the end of a rendered prompt).

    >>> _tail("system: be brief\\nuser: What is 2+2?", 19)
    '…user: What is 2+2?'
    """
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else "…" + flat[-(limit - 1) :]


def _ranges(steps: Iterable[int]) -> str:
    """Steps as compact ranges.

    >>> _ranges([5, 1, 2, 3, 10, 11, 3])
    '1-3, 5, 10-11'
    """
    ordered = sorted(set(steps))
    groups: list[list[int]] = []
    for step in ordered:
        if groups and step == groups[-1][-1] + 1:
            groups[-1].append(step)
        else:
            groups.append([step])
    return ", ".join(f"{g[0]}-{g[-1]}" if len(g) > 1 else str(g[0]) for g in groups)
