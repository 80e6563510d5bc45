"""Measurement through real (tiny-model) jobs: TRL's shaping rewards with probes, several seeds and their report."""

import json

import pytest
import yaml

from rl_reasoner.cli import main
from rl_reasoner.rundir import read_jsonl


def job_file(tmp_path, model_dir, **sections):
    job = {
        "model": {"name": str(model_dir), "dtype": "float32"},
        "task": {"name": "arithmetic", "params": {"max_value": 30, "num_train": 16, "num_eval": 6},
                 "template": "r1_zero", "chat": False},
        "grpo": {"num_generations": 4, "per_device_train_batch_size": 4, "max_completion_length": 12,
                 "learning_rate": 1e-3, "save_steps": 1, "beta": 0.0},
        "run": {"name": "tiny", "output_dir": str(tmp_path / "runs"), "seed": 0, "steps": 1},
        "behaviour": {"samples_per_step": 2, "num_probes": 2, "probe_every": 1},
        "eval": {"num_examples": 6, "k": 1, "batch_size": 8},
    }
    job.update(sections)
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    return path


@pytest.mark.slow
def test_every_trl_shaping_reward_trains_and_scores_the_probes(tmp_path, tiny_model_dir):
    """TRL's length and repetition rewards read completion_ids: probes and evaluation pass them."""
    shaping = [{"name": "soft_overlong_punishment", "weight": 0.1,
                "params": {"max_completion_len": 12, "soft_punish_cache": 4}},
               {"name": "repetition_penalty", "weight": 0.1, "params": {"ngram_size": 2}},
               {"name": "cosine_scaled", "weight": 0.1, "params": {"max_len": 12}},
               {"name": "think_format", "weight": 0.1}]
    rewards = [{"name": "math_accuracy"}, {"name": "format_reward", "params": {"prefilled_think": True}}, *shaping]
    assert main(["train", str(job_file(tmp_path, tiny_model_dir, rewards=rewards))]) == 0
    run = tmp_path / "runs" / "tiny"
    names = {"math_accuracy", "format_reward", "soft_overlong_punishment", "repetition_penalty",
             "cosine_scaled", "think_format"}
    probes = [s for s in read_jsonl(run / "samples.jsonl") if s["probe"]]
    assert sorted({p["step"] for p in probes}) == [0, 1] and len(probes) == 4
    for probe in probes:
        assert set(probe["rewards"]) == names
        assert -1.0 <= probe["rewards"]["soft_overlong_punishment"] <= 0.0
        assert -1.0 <= probe["rewards"]["repetition_penalty"] <= 0.0
    metrics = list(read_jsonl(run / "metrics.jsonl"))
    assert all(f"rewards/{name}/mean" in metrics[0] for name in names)


@pytest.mark.slow
def test_seeds_run_in_sequence_and_the_report_aggregates_them(tmp_path, tiny_model_dir, capsys):
    job = job_file(tmp_path, tiny_model_dir)
    assert main(["train", str(job), "--seeds", "0,1"]) == 0
    out = capsys.readouterr().out
    assert out.count("what changed on 6 held-out examples, step 0 -> 1") == 2
    assert "beyond noise" in out or "within noise" in out
    group = tmp_path / "runs" / "tiny"
    for seed in (0, 1):
        run = group / f"seed-{seed}"
        config = yaml.safe_load((run / "config.yaml").read_text())
        assert config["run"]["seed"] == seed and config["meta"]["seed"] == seed
        evals = list(read_jsonl(run / "eval.jsonl"))
        accuracy = [e for e in evals if e["metric"] == "accuracy"]
        assert [e["step"] for e in accuracy] == [0, 1]
        assert all(e["n"] == 6 and e["ci_low"] <= e["value"] <= e["ci_high"] for e in accuracy)
        assert {"accuracy_formatted", "accuracy_lenient", "format", "undecided", "pass@1", "maj@1"} <= {
            e["metric"] for e in evals}
        records = [r for r in read_jsonl(run / "eval_samples.jsonl") if r["step"] == 1]
        assert len(records) == 6 and all(r["samples"] == 4 for r in records)  # n = 4k

    assert main(["report", str(group)]) == 0
    page = (group / "report" / "index.html").read_text()
    assert (group / "report" / "seeds.png").is_file()
    assert "Across seeds" in page and "seed-0" in page and "seed-1" in page and "What changed" in page
    # the table's mean at step 0 is the mean of the two seeds' accuracies
    from rl_reasoner.seeds import across_seeds

    evals = [list(read_jsonl(group / f"seed-{s}" / "eval.jsonl")) for s in (0, 1)]
    points = dict(across_seeds(evals)[("arithmetic", "accuracy")])
    values = [next(e["value"] for e in ev if e["metric"] == "accuracy" and e["step"] == 0) for ev in evals]
    assert points[0].value == pytest.approx(sum(values) / 2) and points[0].n == 2
    assert json.dumps(str(points[0]))[1:-1] in page


def test_a_second_stage_starts_each_seed_from_its_own_checkpoint_and_a_missing_one_stops_it_first(
        tmp_path, tiny_model_dir, capsys, monkeypatch):
    from rl_reasoner import train as train_module
    from rl_reasoner.config import load_config

    stage1 = tmp_path / "runs" / "stage1"
    job = job_file(tmp_path, tiny_model_dir, model={"name": f"{stage1}/seed-{{seed}}/final", "dtype": "float32"})
    assert load_config(job, ["run.seed=2"]).model.name == f"{stage1}/seed-2/final"

    started = []
    monkeypatch.setattr(train_module, "train", lambda config, resume=False: started.append(config) or config.run_dir)
    (stage1 / "seed-0").mkdir(parents=True)
    (stage1 / "seed-0" / "final").symlink_to(tiny_model_dir)
    assert main(["train", str(job), "--seeds", "0,1"]) == 2
    assert started == []  # seed 1's stage 1 is missing: nothing trains, not seed 0 either
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"seed 1: model.name='{stage1}/seed-1/final': no such directory" in error
    assert "a second stage's is the first stage's final/" in error
    (stage1 / "seed-1").mkdir()
    (stage1 / "seed-1" / "final").mkdir()  # a stage killed while writing final/: no config.json, not a checkpoint
    assert main(["train", str(job), "--seeds", "0,1"]) == 2 and started == []
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"seed 1: model.name='{stage1}/seed-1/final' is a path but holds no config.json" in error
    assert main(["train", str(job), "--seeds", "0"]) == 0
    assert [c.model.name for c in started] == [f"{stage1}/seed-0/final"]


def test_an_interval_across_seeds_stays_inside_its_metrics_range():
    """One collapsed seed among good ones makes the t interval of a mean wider than the metric's range: a
    proportion's interval is clipped to [0, 1], a behaviour share's too, a length's or a count's at 0 only."""
    from rl_reasoner.seeds import across_seeds

    evals = [[{"step": 60, "task": "t", "metric": "accuracy", "value": v, "n": 60, "ci_low": 0.0, "ci_high": 1.0},
              {"step": 60, "task": "t", "metric": "behaviour/length_mean", "value": length},
              {"step": 60, "task": "t", "metric": "behaviour/truncation_rate", "value": cut},
              {"step": 60, "task": "t", "metric": "behaviour/equations", "value": equations},
              {"step": 60, "task": "t", "metric": "reward", "value": v - 0.5}]
             for v, length, cut, equations in ((0.78, 11.0, 0.0, 0.9), (0.0, 15.0, 0.02, 1.0), (0.93, 1.0, 0.0, 0.1))]
    points = across_seeds(evals)
    accuracy = points[("t", "accuracy")][0][1]
    assert accuracy.value == pytest.approx(0.57) and (accuracy.low, accuracy.high) == (0.0, 1.0)
    length = points[("t", "behaviour/length_mean")][0][1]
    assert length.value == pytest.approx(9.0) and length.low == 0.0 and length.high > 20  # no cap above
    cut = points[("t", "behaviour/truncation_rate")][0][1]
    assert cut.low == 0.0 and 0.0 < cut.high < 1.0
    equations = points[("t", "behaviour/equations")][0][1]
    assert equations.low == 0.0 and equations.high > 1.0  # a count per completion, not a share
    reward = points[("t", "reward")][0][1]
    assert reward.low < -0.5  # a range unknown: the t interval as it is
