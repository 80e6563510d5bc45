"""``rl-reasoner eval``: evaluate a run's model (or a config's model) on the held-out split after training.

The results of a run directory go to their own file, ``eval_posthoc.jsonl`` (:data:`POSTHOC`), never to the run's
``eval.jsonl``: an evaluation made later, on other settings, must not replace what the run recorded. The
evaluation itself is :func:`rl_reasoner.evaluate.evaluate_model`, the same as in training.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from rl_reasoner.config import ConfigError, apply_override, from_dict, load_config
from rl_reasoner.evaluate import evaluate_model, metric_records, summarize
from rl_reasoner.job import prepare
from rl_reasoner.model import load_model
from rl_reasoner.resume import CHECKPOINT_NAME, last_complete_checkpoint
from rl_reasoner.rundir import RunDir
from rl_reasoner.strata import eval_metrics as stratum_metrics

POSTHOC = "eval_posthoc"
"""The run-directory file (``eval_posthoc.jsonl``) of evaluations made later with ``rl-reasoner eval``."""


def run_eval(target: Path, checkpoint: str | None = None, overrides: list[str] | None = None,
             label: str | None = None) -> dict[str, float]:
    """``rl-reasoner eval``: score a run's model (or a config's model) on the task's held-out split.

    ``target`` is a run directory (its ``config.yaml``; the model is ``--checkpoint``, else the run's ``final/``,
    else its last complete checkpoint, said so) or a job file (the model is ``--checkpoint``, else ``model.name``).
    For a run directory the results go to their own files, ``eval_posthoc.jsonl`` / ``eval_posthoc_samples.jsonl``
    (each record carries ``label``, the checkpoint and the number of examples), never to the training run's
    ``eval.jsonl``: a later evaluation on other settings must not replace what the run recorded.
    """
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
    metrics, records = evaluate_model(model, job.tokenizer, rows, accuracy_reward=job.accuracy_reward,
                                      format_reward=job.format_reward, max_new_tokens=job.max_new_tokens,
                                      k=config.eval.k, samples=config.eval.samples,
                                      temperature=config.eval.temperature, batch_size=config.eval.batch_size,
                                      step=step)
    metrics.update(stratum_metrics(rows, records))  # per difficulty stratum; {} without a stratum column
    summary = summarize(records, k=config.eval.k)
    width = max(map(len, metrics))
    for name, value in metrics.items():
        interval = f"  [{summary[name]['ci_low']:.4f}, {summary[name]['ci_high']:.4f}]" if name in summary else ""
        print(f"  {name:<{width}}  {value:.4f}{interval}")
    if run is not None:
        source = {"label": label or Path(model_path).name, "checkpoint": str(model_path), "num_examples": len(rows),
                  "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        run.append(POSTHOC, metric_records(summary, {m: v for m, v in metrics.items() if m not in summary},
                                           step=step, task=config.task.name, **source))
        run.append(POSTHOC + "_samples", [{**r, **source} for r in records])
        print(f"[rl-reasoner] results recorded in {run.file(POSTHOC)} (label {source['label']!r})", flush=True)
    return metrics


def _step_of(model_path: Path, run) -> int:
    """The training step a model was saved at (checkpoint-N → N; a run's final model → its last step)."""
    if match := CHECKPOINT_NAME.fullmatch(model_path.name):
        return int(match.group(1))
    state = model_path / "trainer_state.json"
    if state.is_file():
        return json.loads(state.read_text()).get("global_step", 0)
    if run is not None and model_path.name == "final":
        steps = [r.get("step", 0) for r in run.read("metrics")]
        return max(steps, default=0)
    return 0
