"""The reasoning-growth pieces: the chain_sum task, running-total checks, per-stratum metrics, step-0 diagnostics
(without a model), the report's growth plots and the `baseline` command's input errors."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from rl_reasoner import chain_steps, strata
from rl_reasoner.baseline import correlation, format_table, growth_verdict, stratum_stats
from rl_reasoner.cli import main
from rl_reasoner.growth_report import steps_panels, strata_panels
from rl_reasoner.report import load_run, write_report
from rl_reasoner.tasks import TaskError, get


# -- task ------------------------------------------------------------------------------------------------------


def test_chain_sum_mixes_every_length_and_holds_out_a_stratified_split():
    data = get("chain_sum").load({}, seed=0)
    assert Counter(r["terms"] for r in data.eval) == {2: 50, 3: 50, 4: 50, 5: 50}
    assert Counter(r["terms"] for r in data.train) == {2: 50, 3: 200, 4: 200, 5: 200}  # 100 two-term sums in all
    assert {r["question"] for r in data.train}.isdisjoint(r["question"] for r in data.eval)
    # the first N held-out rows stay stratified (eval.num_examples takes the first N)
    assert [r["terms"] for r in data.eval[:8]] == [2, 3, 4, 5, 2, 3, 4, 5]
    # the easy items are mixed in, not in a block
    assert len({r["terms"] for r in data.train[:20]}) >= 3
    for row in data.train[:50] + data.eval[:50]:
        assert len(row["operands"]) == row["terms"]
        assert row["answer"] == str(sum(row["operands"]))
        assert row["question"] == "What is " + " + ".join(map(str, row["operands"])) + "?"
        assert all(0 <= v <= 9 for v in row["operands"])


def test_chain_sum_eval_split_is_the_same_for_every_run_seed_and_training_differs():
    a, b = get("chain_sum").load({}, seed=0), get("chain_sum").load({}, seed=1)
    assert [r["id"] for r in a.eval] == [r["id"] for r in b.eval]
    assert [r["id"] for r in a.train] != [r["id"] for r in b.train]


def test_chain_sum_large_spaces_are_sampled_and_too_small_ones_are_refused():
    data = get("chain_sum").load({"min_terms": 6, "max_terms": 6, "num_train_per_terms": 30,
                                  "num_eval_per_terms": 10}, seed=0)
    assert len(data.train) == 30 and len(data.eval) == 10
    with pytest.raises(TaskError, match="num_eval_per_terms"):
        get("chain_sum").load({"max_terms": 2, "min_value": 1, "max_value": 3, "num_eval_per_terms": 9}, seed=0)
    with pytest.raises(TaskError, match="min_terms"):
        get("chain_sum").load({"min_terms": 4, "max_terms": 3}, seed=0)


# -- running totals --------------------------------------------------------------------------------------------


def _worked_chain(operands, mistake_at=None):
    """A think block that adds the chain step by step (optionally off by one at one step) and answers."""
    total, lines = operands[0], []
    for i, value in enumerate(operands[1:], start=1):
        result = total + value + (1 if i == mistake_at else 0)
        lines.append(f"{total} + {value} = {result}")
        total = result
    return "<think> " + ". ".join(lines) + f" </think> <answer>{total}</answer>"


@pytest.mark.parametrize("seed", range(5))
def test_a_correct_worked_chain_reaches_every_running_total(seed):
    rng = random.Random(seed)
    operands = [rng.randint(0, 9) for _ in range(rng.randint(3, 5))]
    counts = chain_steps.step_counts(_worked_chain(operands), operands)
    assert counts["equations"] == len(operands) - 1
    assert counts["equations_wrong"] == 0
    assert counts["intermediate_correct"] == counts["intermediate_possible"] == len(
        set(chain_steps.running_totals(operands)))


def test_a_slip_breaks_the_running_totals_after_it():
    operands = [3, 8, 6, 2, 5]  # totals 11, 17, 19
    counts = chain_steps.step_counts(_worked_chain(operands, mistake_at=2), operands)  # 11 + 6 = 18
    assert counts["equations_wrong"] == 1
    assert counts["intermediate_correct"] == 1  # only 11; 18 + 2 = 20 is right arithmetic but not a total


def test_only_the_think_block_counts_and_restating_the_question_is_no_intermediate_result():
    operands = [3, 8, 6]
    assert chain_steps.step_counts("3 + 8 + 6 = 17</think> <answer>3 + 8 = 11</answer>", operands) == {
        "equations": 1, "equations_wrong": 0, "intermediate_correct": 0, "intermediate_possible": 1}
    assert chain_steps.step_counts("The answer is 17", operands)["equations"] == 0


def test_corrections_find_a_wrong_result_fixed_later():
    assert chain_steps.corrections("3 + 8 = 12, no wait, 3 + 8 = 11 </think>") == [(((3, 8), 12), ((3, 8), 11))]
    assert chain_steps.corrections("3 + 8 = 12, so 12 + 1 = 13") == []


def test_batch_metrics_are_empty_for_tasks_without_chains():
    assert chain_steps.batch_metrics(["7"], [None]) == {}
    assert chain_steps.row_operands({"question": "What is 7 * 2?"}) is None


# -- per-stratum held-out metrics ------------------------------------------------------------------------------


def test_eval_metrics_split_accuracy_and_terminated_length_by_stratum():
    rows = get("chain_sum").load({"num_eval_per_terms": 2}, seed=0).eval
    records = []
    for i, row in enumerate(rows):
        worked = row["terms"] == 5
        completion = _worked_chain(row["operands"]) if worked else "<answer>0</answer>"
        records.append({"completion": completion, "correct": worked, "num_tokens": 40 if worked else 5,
                        "truncated": i == len(rows) - 1})
    metrics = strata.eval_metrics(rows, records)
    assert metrics["accuracy[terms=5]"] == 1.0 and metrics["accuracy[terms=2]"] == 0.0
    assert metrics["length_terminated[terms=5]"] == 40.0  # the truncated one (the last row) is left out
    assert metrics["intermediate_correct[terms=5]"] >= 1.0
    assert metrics["intermediate_correct[terms=2]"] == 0.0
    assert strata.eval_metrics([{"answer": "1"}], [records[0]]) == {}


# -- step-0 diagnostics ----------------------------------------------------------------------------------------


def test_stratum_stats_and_verdict():
    samples = [{"prompt_id": f"p{i // 4}", "correct": i % 4 == 0, "num_tokens": 60 if i % 4 == 0 else 20,
                "truncated": False, "intermediate_correct": 1 if i % 4 == 0 else 0} for i in range(8)]
    samples.append({"prompt_id": "p1", "correct": None, "num_tokens": 128, "truncated": True,
                    "intermediate_correct": 0})
    stats = stratum_stats(samples, k=4)
    assert stats["correct"] == 2 and stats["undecided"] == 1 and stats["solved_prompts"] == 2
    assert stats["pass@1"] == pytest.approx(2 / 9)
    assert stats["length_correct"] == 60 and stats["length_wrong"] == 20
    assert stats["r_length_correct"] == pytest.approx(1.0)
    assert stats["verdict"].startswith("yes")
    flipped = stratum_stats([{**s, "num_tokens": 80 - s["num_tokens"]} for s in samples[:8]], k=4)
    assert flipped["verdict"].startswith("no:")
    assert growth_verdict({"correct": 0}).startswith("no signal")
    lucky = stratum_stats([{**s, "truncated": bool(s["correct"])} for s in samples[:8]], k=4)
    assert lucky["correct_truncated"] == 2 and lucky["verdict"].startswith("no signal")  # cut-off luck is no signal
    assert correlation([1, 2, 3], [0, 0, 0]) is None
    # do steps pay: the two right answers wrote a running total, the six wrong ones none; the undecided one is left out
    assert (stats["with_steps"], stats["pass@1_with_steps"]) == (2, 1.0)
    assert (stats["without_steps"], stats["pass@1_without_steps"]) == (6, 0.0)
    assert "1.00 of 2" in format_table({"3": stats}, 4) and "0.00 of 6" in format_table({"3": stats}, 4)
    not_chains = stratum_stats([{**s, "intermediate_correct": None} for s in samples], k=4)
    assert "with_steps" not in not_chains and " - " in format_table({"all": not_chains}, 4)


def test_baseline_command_reports_a_missing_config_as_one_error(capsys):
    assert main(["baseline", "configs/no_such.yaml"]) == 2
    assert "no such config file" in capsys.readouterr().err


def test_chain_sum_recipe_loads_with_its_levers():
    from rl_reasoner.config import load_config
    from rl_reasoner.templates import get_template

    config = load_config("configs/chain_sum.yaml")
    assert config.task.name == "chain_sum"
    assert get_template(config.task.template).prefill == "<think> Let me solve this step by step."  # best at step 0
    grpo = config.grpo
    # the cut-off mask made a pilot ramble (docs/reasoning_growth.md): a cut-off completion must count as wrong
    assert grpo["max_completion_length"] >= 128 and grpo["mask_truncated_completions"] is False
    assert grpo["loss_type"] in ("dr_grpo", "dapo") and grpo["scale_rewards"] == "none"
    assert 0.0 < grpo["temperature"] <= 1.0
    # pilot 6, the best measured: an anchor, 4 prompts a step, talk past the answer penalised instead of a format reward
    assert grpo["beta"] > 0 and grpo["per_device_train_batch_size"] // grpo["num_generations"] == 4
    assert [r.name for r in config.rewards] == ["math_accuracy", "soft_overlong_punishment"]
    assert config.rewards[1].params["max_completion_len"] == grpo["max_completion_length"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_worked_example_recipe_is_what_pilot_12_ran(seed):
    """configs/chain_sum_worked.yaml must reproduce the kept runs its header quotes, field for field."""
    from pathlib import Path

    import yaml

    from rl_reasoner.config import load_config

    kept = Path(__file__).resolve().parents[1] / f"bench/results/reasoning_growth/example_96/seed-{seed}/config.yaml"
    ran = yaml.safe_load(kept.read_text(encoding="utf-8"))
    ran.pop("meta")  # the command, the host and the versions: not the recipe
    config = load_config("configs/chain_sum_worked.yaml",
                         [f"run.seed={seed}", f"run.name=chain_example_96/seed-{seed}"])
    assert config.to_dict() == ran  # to_dict holds the recipe only; the run adds meta when it starts


@pytest.mark.parametrize("kept, seed, steps", [("unscaffold_96", 0, []), ("unscaffold_96", 1, []),
                                               ("unscaffold_96", 2, []),
                                               ("unscaffold", 1, ["run.steps=48"]),
                                               ("unscaffold", 2, ["run.steps=48"])])
def test_unscaffold_recipe_is_what_pilot_14_ran_from_its_seeds_stage_one(kept, seed, steps):
    """configs/chain_sum_unscaffold.yaml is pilot 14's stage 2; the runs started from pilot 12's checkpoints, kept
    under their pilot's name, where a new user's stage 1 writes runs/chain_sum_worked/seed-<s>/final."""
    from pathlib import Path

    import yaml

    from rl_reasoner.config import load_config

    record = Path(__file__).resolve().parents[1] / f"bench/results/reasoning_growth/{kept}/seed-{seed}/config.yaml"
    ran = yaml.safe_load(record.read_text(encoding="utf-8"))
    ran.pop("meta")
    assert ran["model"]["name"] == f"runs/chain_example_96/seed-{seed}/final"
    config = load_config("configs/chain_sum_unscaffold.yaml", [f"run.seed={seed}"])
    assert config.model.name == f"runs/chain_sum_worked/seed-{seed}/final"
    config = load_config("configs/chain_sum_unscaffold.yaml",
                         [f"run.seed={seed}", f"run.name=chain_{kept}/seed-{seed}",
                          "model.name=runs/chain_example_96/seed-{seed}/final", *steps])
    assert config.to_dict() == ran


# -- report ----------------------------------------------------------------------------------------------------


def test_report_draws_the_growth_plots(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("".join(json.dumps(
        {"step": s, "reward": 0.1 * s, "behaviour/intermediate_correct": 0.2 * s, "behaviour/equations": s}) + "\n"
        for s in (1, 2, 3)))
    (run / "eval.jsonl").write_text("".join(json.dumps({"step": s, "task": "chain_sum", "metric": m, "value": v}) + "\n"
                                            for s in (0, 3) for m, v in (("accuracy", 0.5), ("accuracy[terms=2]", 0.9),
                                                                          ("accuracy[terms=10]", 0.1))))
    loaded = load_run(run)
    assert [c.label for c in strata_panels(loaded)["held-out accuracy per stratum"]] == ["terms=2", "terms=10"]
    assert steps_panels(loaded)["correct running totals (training)"][0].values == pytest.approx([0.2, 0.4, 0.6])
    index = write_report([run])
    assert (index.parent / "steps.png").is_file() and (index.parent / "strata.png").is_file()


def test_report_across_seeds_draws_each_stratum_with_its_band(tmp_path):
    from rl_reasoner.growth_report import seeds_strata_panels

    job = tmp_path / "job"
    for seed, end in enumerate((0.2, 0.3, 0.4)):
        run = job / f"seed-{seed}"
        run.mkdir(parents=True)
        (run / "config.yaml").write_text("run: {}\n")
        records = [("accuracy[terms=5]", 0, 0.1), ("accuracy[terms=5]", 10, end), ("length_terminated[terms=5]", 0, 30),
                   ("length_terminated[terms=5]", 10, 40 + 10 * seed), ("accuracy[terms=2]", 0, 0.6)]
        if seed < 2:  # a step only two of the three seeds evaluated is left out
            records.append(("accuracy[terms=5]", 5, 0.5))
        (run / "eval.jsonl").write_text("".join(json.dumps({"step": step, "task": "chain_sum", "metric": metric,
                                                            "value": value}) + "\n" for metric, step, value in records))
    panels = seeds_strata_panels([load_run(job / f"seed-{s}") for s in range(3)])
    accuracy = {c.label: c for c in panels["held-out accuracy per stratum"]}
    assert list(accuracy) == ["terms=2", "terms=5"]
    five = accuracy["terms=5"]
    assert five.steps == [0, 10] and five.values == pytest.approx([0.1, 0.3])
    assert five.low[1] < 0.3 < five.high[1] and five.low[0] == pytest.approx(0.1)  # three equal values: no spread
    length = panels["held-out length of terminated completions (tokens)"][0]
    assert length.values == pytest.approx([30, 50]) and length.high[1] - length.low[1] > 20
    index = write_report([job])
    assert (index.parent / "strata_seeds.png").is_file()
    assert 'src="strata_seeds.png"' in index.read_text()


def test_report_across_two_seeds_keeps_each_band_inside_its_metric_range(tmp_path):
    # two seeds far apart (pilot 12 at step 24: 5 terms 30% and 4%): a t band (t = 12.7) would leave [0, 1]
    from rl_reasoner.growth_report import seeds_strata_panels

    job = tmp_path / "job"
    for seed, (accuracy, length) in enumerate(((0.30, 32.8), (0.04, 22.4))):
        run = job / f"seed-{seed}"
        run.mkdir(parents=True)
        (run / "config.yaml").write_text("run: {}\n")
        (run / "eval.jsonl").write_text("".join(json.dumps({"step": 24, "task": "chain_sum", "metric": m, "value": v})
                                                + "\n" for m, v in (("accuracy[terms=5]", accuracy),
                                                                     ("length_terminated[terms=5]", length))))
    panels = seeds_strata_panels([load_run(job / f"seed-{s}") for s in range(2)])
    five = panels["held-out accuracy per stratum"][0]
    assert five.values == pytest.approx([0.17]) and (five.low, five.high) == ([0.0], [1.0])
    length = panels["held-out length of terminated completions (tokens)"][0]
    assert length.low == [0.0] and length.high[0] == pytest.approx(27.6 + 12.706 * 5.2, abs=0.1)


def _bench(name):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _seed_records(job, seed, accuracy, length, totals):
    run = job / f"seed-{seed}"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("run: {}\n")
    records = [{"step": step, "task": "chain_sum", "metric": f"{metric}[terms=5]", "value": values[i]}
               for i, step in enumerate((0, 20)) for metric, values in
               (("accuracy", accuracy), ("length_terminated", length), ("intermediate_correct", totals))
               if values[i] is not None]  # no length_terminated when every answer was cut off
    (run / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def test_growth_claim_needs_all_three_conditions_across_seeds(tmp_path, capsys):
    claim = _bench("growth_claim")
    grown = tmp_path / "grown"
    for seed, (end, length) in enumerate(((0.40, 45.0), (0.46, 48.0), (0.52, 40.0))):
        _seed_records(grown, seed, (0.2, end), (30.0, length), (0.1, 0.8 + 0.1 * seed))
    assert claim.judge(grown, "terms=5") is True
    assert "claim MET on terms=5" in capsys.readouterr().out

    short = tmp_path / "short"  # accuracy and running totals up, but the answers stay short: x1.1, not x1.3
    for seed, end in enumerate((0.40, 0.46, 0.52)):
        _seed_records(short, seed, (0.2, end), (30.0, 33.0), (0.1, 0.8))
    assert claim.judge(short, "terms=5") is False
    out = capsys.readouterr().out
    assert "length x1.3 no" in out and "accuracy up yes" in out

    noisy = tmp_path / "noisy"  # one seed fell: the interval over seeds includes 0
    for seed, end in enumerate((0.60, 0.05, 0.50)):
        _seed_records(noisy, seed, (0.2, end), (30.0, 60.0), (0.1, 0.8 + 0.1 * seed))
    assert claim.judge(noisy, "terms=5") is False
    assert "accuracy up no" in capsys.readouterr().out

    single = tmp_path / "single"
    _seed_records(single, 0, (0.2, 0.9), (30.0, 60.0), (0.1, 0.9))
    assert claim.judge(single, "terms=5") is False  # one seed has no interval: no rise can be claimed
    capsys.readouterr()

    two = tmp_path / "two"  # two seeds: t = 12.7, so the interval's top would pass +100 points
    for seed, end in enumerate((0.75, 0.95)):
        _seed_records(two, seed, (0.05, end), (30.0, 60.0), (0.1, 0.9))
    claim.judge(two, "terms=5")
    assert "1. accuracy change, mean over seeds [95% t interval]: +0.800 [-0.471, +1.000]" in capsys.readouterr().out


def test_growth_claim_judges_a_start_where_every_answer_was_cut_off(tmp_path, capsys):
    claim = _bench("growth_claim")
    looped = tmp_path / "looped"  # step 0 ran every answer to the budget: no terminated length to compare with
    for seed, end in enumerate((0.40, 0.46, 0.52)):
        _seed_records(looped, seed, (0.2, end), (None, 60.0), (0.1, 0.8 + 0.1 * seed))
    assert claim.judge(looped, "terms=5") is False
    out = capsys.readouterr().out
    assert "none terminated (step 0) -> 60.000 (step 20)" in out
    assert "no terminated completion at the start or the end of seed-0, seed-1, seed-2" in out
    assert "accuracy up yes, length x1.3 no, running totals up yes" in out


def test_growth_claim_takes_a_two_stage_jobs_start_from_the_untrained_models_evaluation(tmp_path, capsys):
    import pytest

    claim = _bench("growth_claim")
    untrained = tmp_path / "untrained"  # one run: the untrained model's greedy evaluation is the same for every seed
    _seed_records(untrained, 0, (0.1, 0.1), (30.0, 30.0), (0.0, 0.0))
    second = tmp_path / "second"  # the second stage's own first evaluation is the first stage's end: long, right
    for seed, end in enumerate((0.40, 0.46, 0.52)):
        _seed_records(second, seed, (0.3, end), (50.0, 45.0), (2.0, 2.4))
    assert claim.judge(second, "terms=5") is False  # against its own start: shorter (x0.9), so not met
    capsys.readouterr()
    assert claim.judge(second, "terms=5", start=untrained) is True  # against the untrained model: x1.5
    out = capsys.readouterr().out
    assert f"the start is the first evaluation of {untrained}" in out
    assert "length_terminated 30.000 (step 0) -> 45.000 (step 20)" in out and "30.0 -> 45.0 tokens (x1.50)" in out

    (untrained / "seed-0" / "config.yaml").write_text("task: {params: {num_eval_per_terms: 50}}\n")
    with pytest.raises(SystemExit, match="task differ"):  # another held-out split cannot be the start
        claim.judge(second, "terms=5", start=untrained)
    _seed_records(untrained, 1, (0.1, 0.1), (30.0, 30.0), (0.0, 0.0))
    (untrained / "seed-0").rename(untrained / "seed-7")
    with pytest.raises(SystemExit, match="no seed-0/ and 2 seeds to choose from"):
        claim.judge(second, "terms=5", start=untrained)


def test_growth_claim_reads_the_kept_two_stage_records_against_the_untrained_start(capsys):
    from pathlib import Path

    claim = _bench("growth_claim")
    kept = Path(__file__).resolve().parents[1] / "bench/results/reasoning_growth"
    # pilot 14: stage 2 (no example) from pilot 12's checkpoints; its start is pilot 13's step 0, the same split
    assert claim.judge(kept / "unscaffold", "terms=5", start=kept / "step_96") is False
    out = capsys.readouterr().out
    assert "seed-1: accuracy 0.179 (step 0) -> 0.597 (step 48)" in out
    assert "30.3 -> 38.8 tokens (x1.28); per seed x1.25, x1.32; needed x1.3" in out
    assert "accuracy up yes, length x1.3 no, running totals up yes" in out


def test_growth_claim_states_how_long_each_seed_took(tmp_path):
    from pathlib import Path

    claim = _bench("growth_claim")
    kept = Path(__file__).resolve().parents[1] / "bench/results/reasoning_growth/example_96"
    assert claim.timing(kept / "seed-0") == ("96 steps, median step 61 s (mean 73), 116 min of steps, "
                                             "131 min to the last step")
    assert claim.timing(tmp_path) == "no step times recorded"  # a seed kept without metrics.jsonl


def test_aha_corrections_find_the_first_self_corrected_sum(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    samples = [
        {"step": 1, "prompt_id": "a", "completion": "3 + 8 = 12 </think> <answer>18</answer>", "correct": False},
        {"step": 4, "prompt_id": "a", "completion": "3 + 8 = 12, wait, 3 + 8 = 11. 11 + 6 = 17 </think>",
         "correct": True},
        {"step": 6, "prompt_id": "a", "completion": "3 + 8 = 10, 8 + 3 = 11 </think>", "correct": True},
    ]
    (run / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    assert main(["aha", str(run), "--corrections"]) == 0
    out = capsys.readouterr().out
    assert "step 4" in out and "3 + 8 = 12 -> 3 + 8 = 11" in out and "step 6" not in out


def test_one_step_on_chain_sum_with_the_recipe_levers_logs_running_totals_and_strata(tmp_path, tiny_model_dir):
    import yaml

    from rl_reasoner.config import load_config
    from rl_reasoner.rundir import read_jsonl
    from rl_reasoner.train import train

    job = {
        "model": {"name": str(tiny_model_dir), "dtype": "float32"},
        "task": {"name": "chain_sum", "params": {"num_train_per_terms": 8, "num_eval_per_terms": 2},
                 "template": {"base": "r1_zero", "prefill": "<think> Let me solve this step by step."}, "chat": False},
        "rewards": [{"name": "math_accuracy", "params": {"plain_number_answer": True}},
                    {"name": "format_reward", "weight": 0.1, "params": {"prefilled_think": True}}],
        "grpo": {"num_generations": 4, "per_device_train_batch_size": 8, "max_completion_length": 12,
                 "mask_truncated_completions": True, "loss_type": "dr_grpo", "scale_rewards": "none",
                 "temperature": 1.0, "beta": 0.0, "logging_steps": 1, "save_steps": 1},
        "run": {"name": "chain", "output_dir": str(tmp_path / "runs"), "seed": 0, "steps": 1},
        "behaviour": {"samples_per_step": 2, "num_probes": 0},
        "eval": {"num_examples": 8, "batch_size": 8},
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    run = train(load_config(path))
    metrics = list(read_jsonl(run / "metrics.jsonl"))
    assert "behaviour/intermediate_correct" in metrics[0] and "behaviour/equations" in metrics[0]
    evals = {(r["step"], r["metric"]) for r in read_jsonl(run / "eval.jsonl")}
    for step in (0, 1):
        assert {(step, f"accuracy[terms={n}]") for n in (2, 3, 4, 5)} <= evals


def test_steps_pay_reproduces_the_docs_table_from_a_kept_record():
    from pathlib import Path

    record = Path(__file__).resolve().parents[1] / "bench/results/reasoning_growth/worked_example/baseline.json"
    bench = _bench("steps_pay")
    (rows,) = bench.records(record).values()
    assert bench.summary(rows) == ("with a running total 6/53, without 4/139; two-number sums right 379/486, "
                                   "3+ numbers at once 24/186")  # the worked-example row of docs/reasoning_growth.md


def test_chain_lengths_counts_the_equations_written_per_stratum():
    from collections import Counter

    bench = _bench("chain_lengths")
    samples = [{"step": 0, "question": "What is 1 + 2 + 3?", "completion": " 1 + 2 = 3. 3 + 3 = 6. </think> 6"},
               {"step": 0, "question": "What is 1 + 2 + 3?", "completion": " 6 </think> <answer>6</answer>"},
               {"step": 4, "question": "What is 1 + 2 + 3 + 4?", "completion": " 1 + 2 = 3. 3 + 3 = 6. 6 + 4 = 10."},
               {"step": 4, "question": "What is 7 * 2?", "completion": " 7 * 2 = 14"}]
    assert bench.counts(samples, cap=6) == {(0, 3): Counter({2: 1, 0: 1}), (4, 4): Counter({3: 1})}
    assert bench.counts(samples, cap=2)[(4, 4)] == Counter({2: 1})  # capped


@pytest.mark.parametrize("seed, findings", [
    # pilot 10 after 24 steps: the worked example's two equations, whatever the chain's length
    ("example_no2/seed-1", ["seed-1 step  24 terms=5 (needs 4): 1: 5, 2: 43, 3: 2 of 50; exactly 4: 0/50"]),
    # pilot 12 after 96 steps: the equations written follow the chain (pilot 10 at 24 steps: two on 90%)
    ("example_96/seed-0", ["seed-0 step   0 terms=5 (needs 4): 1: 1, 2: 9, 3: 7, 5: 3, ≥6: 30 of 50; exactly 4: 0/50",
                           "seed-0 step  96 terms=5 (needs 4): 3: 20, 4: 29, ≥6: 1 of 50; exactly 4: 29/50",
                           "seed-0 step  96 terms=3 (needs 2): 2: 49, 3: 1 of 50; exactly 2: 49/50"]),
    # pilot 12, seed 1: in pilot 10's two-equation shape at step 24, writing the chain by step 48
    ("example_96/seed-1", ["seed-1 step  24 terms=5 (needs 4): 2: 45, 3: 5 of 50; exactly 4: 0/50",
                           "seed-1 step  48 terms=5 (needs 4): 2: 5, 3: 21, 4: 24 of 50; exactly 4: 24/50",
                           "seed-1 step  96 terms=5 (needs 4): 3: 17, 4: 32, ≥6: 1 of 50; exactly 4: 32/50"]),
    # pilot 12, seed 2: three equations at step 24, the chain a lagging minority at 48, the majority by 96
    ("example_96/seed-2", ["seed-2 step  24 terms=5 (needs 4): 1: 2, 2: 14, 3: 25, 4: 9 of 50; exactly 4: 9/50",
                           "seed-2 step  48 terms=5 (needs 4): 1: 1, 2: 18, 3: 18, 4: 13 of 50; exactly 4: 13/50",
                           "seed-2 step  96 terms=5 (needs 4): 3: 17, 4: 32, ≥6: 1 of 50; exactly 4: 32/50"]),
])
def test_chain_lengths_reads_the_kept_records_as_the_docs_say(seed, findings):
    from pathlib import Path

    kept = Path(__file__).resolve().parents[1] / "bench/results/reasoning_growth" / seed
    lines = _bench("chain_lengths").table(kept, cap=6)
    for finding in findings:
        assert finding in lines
