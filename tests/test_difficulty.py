"""The offline difficulty pass: pass rates per training prompt, their file, and a job that starts from them."""

import json

import pytest
import yaml

from rl_reasoner.config import ConfigError, SamplingConfig, load_config
from rl_reasoner.difficulty import estimate_difficulty, pass_rate, read_pass_rates, summarize, write_pass_rates


def test_pass_rate_leaves_unscorable_answers_out():
    assert pass_rate([1.0, 1.0, 0.0, 0.0]) == 0.5
    assert pass_rate([1.0, None, float("nan")]) == 1.0
    assert pass_rate([0.99, 0.0]) == 0.0  # partial credit is not a pass
    assert pass_rate([None]) is None


def test_summary_counts_never_always_and_sometimes_solved_prompts():
    summary = summarize([0.0, 0.0, 0.25, 1.0], group_size=4)
    assert (summary["never_solved"], summary["always_solved"], summary["informative"]) == (0.5, 0.25, 0.25)
    assert summary["expected_informative_groups"] == pytest.approx((1 - 0.25 ** 4 - 0.75 ** 4) / 4)
    with pytest.raises(ValueError):
        summarize([], group_size=4)


def test_pass_rate_file_round_trips_and_bad_files_are_named(tmp_path):
    path = tmp_path / "sub" / "rates.json"
    write_pass_rates(path, {"a": 0.25, "b": 1.0}, {"samples": 4, "model": "m"})
    assert read_pass_rates(path) == ({"a": 0.25, "b": 1.0}, 4)
    with pytest.raises(FileNotFoundError, match="rl-reasoner difficulty"):
        read_pass_rates(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"pass_rates": {"a": 0.5}}))
    with pytest.raises(ConfigError, match="bad.json"):
        read_pass_rates(bad)
    bad.write_text(json.dumps({"meta": {"samples": 4}, "pass_rates": {"a": 1.5}}))
    with pytest.raises(ConfigError, match="within"):
        read_pass_rates(bad)
    with pytest.raises(ValueError, match="samples"):
        write_pass_rates(path, {"a": 0.5}, {})


def tiny_config(tmp_path, model_dir, **sampling):
    job = {
        "model": {"name": str(model_dir), "dtype": "float32"},
        "task": {"name": "arithmetic", "params": {"max_value": 30, "num_train": 6, "num_eval": 4},
                 "template": "plain", "chat": False},
        "grpo": {"num_generations": 4, "per_device_train_batch_size": 8, "max_completion_length": 6},
        "run": {"name": "tiny", "output_dir": str(tmp_path / "runs"), "seed": 0},
        "eval": {"batch_size": 8},
        "sampling": {"difficulty_samples": 3, **sampling},
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    return load_config(path)


def test_difficulty_pass_scores_every_training_prompt_and_a_trainer_starts_from_it(tmp_path, tiny_model_dir, capsys):
    import dataclasses

    from trl import GRPOConfig

    from rl_reasoner.job import prepare
    from rl_reasoner.train import build_trainer

    config = tiny_config(tmp_path, tiny_model_dir, difficulty_max_prompts=5)
    path = estimate_difficulty(config)
    assert path == tmp_path / "runs" / "pass_rates" / "tiny.json"
    assert "sampling.pass_rates=" in capsys.readouterr().out
    data = json.loads(path.read_text())
    job = prepare(config)
    assert set(data["pass_rates"]) == {row["id"] for row in job.train_rows[:5]}
    assert all(rate in (0.0, 1 / 3, 2 / 3, 1.0) for rate in data["pass_rates"].values())
    assert data["meta"]["samples"] == 3 and data["meta"]["reward"] == job.accuracy_reward_name

    # a job with sampling.pass_rates starts its running pass rates from the file (3 answers each)
    data["pass_rates"][job.train_rows[0]["id"]] = 0.5  # make one rate recognisable
    path.write_text(json.dumps(data))
    sampling = SamplingConfig(curriculum=True, pass_rates=str(path))
    args = GRPOConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=8, num_generations=4,
                      max_completion_length=6, report_to="none", bf16=False)
    trainer = build_trainer(dataclasses.replace(config, sampling=sampling), job, args=args)
    assert len(trainer.pass_rates) == 5
    assert trainer.pass_rates.rate(job.train_rows[0]["id"]) == 0.5
    assert trainer.pass_rates.scored[job.train_rows[0]["id"]] == 3
    assert trainer.prompt_sampler.weights()[0] == 1.0  # pass rate 0.5: the most informative weight

    other = tmp_path / "other.json"
    write_pass_rates(other, {"not-a-training-id": 0.5}, {"samples": 3})
    with pytest.raises(ValueError, match="none of its prompt ids"):
        build_trainer(dataclasses.replace(config, sampling=SamplingConfig(curriculum=True, pass_rates=str(other))),
                      job, args=args)
