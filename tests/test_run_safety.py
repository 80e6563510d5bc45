"""A careless user's mistakes end in one line naming the problem and the fix, before any model loads; a damaged run
directory is still readable. Each case of issue #17 is one test here (the training ones use the tiny model)."""

import json
import re
import warnings
from pathlib import Path

import pytest
import yaml

from rl_reasoner import model as model_mod
from rl_reasoner.cli import main
from rl_reasoner.rundir import RunDir, read_jsonl

REPO = Path(__file__).resolve().parents[1]


def tiny_job(tmp_path, model_dir, **sections) -> Path:
    job = {
        "model": {"name": str(model_dir), "dtype": "float32"},
        "task": {"name": "arithmetic", "params": {"max_value": 30, "num_train": 16, "num_eval": 4},
                 "template": "plain", "chat": False},
        "rewards": [{"name": "math_accuracy"}],
        "grpo": {"num_generations": 4, "per_device_train_batch_size": 4, "max_completion_length": 8,
                 "learning_rate": 1e-3, "save_steps": 1, "beta": 0.0},
        "run": {"name": "job", "output_dir": str(tmp_path / "runs"), "seed": 0, "steps": 2},
        "behaviour": {"samples_per_step": 2, "num_probes": 1, "probe_every": 1},
        "eval": {"num_examples": 2, "batch_size": 4},
    }
    for section, values in sections.items():
        job[section] = {**job.get(section, {}), **values}
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    return path


@pytest.fixture
def no_model_load(monkeypatch):
    """Fail the test if any model weights are loaded: the errors below must come first."""
    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the error")

    monkeypatch.setattr("rl_reasoner.train.load_model", refuse)
    monkeypatch.setattr("rl_reasoner.model.load_model", refuse)


def one_line_error(capsys, argv, *fragments) -> str:
    """Run the CLI, expect exit 2 and exactly one stderr line `rl-reasoner <cmd>: error: ...` with the fragments."""
    assert main(argv) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("rl-reasoner ")]
    assert len(err) == 1, err
    assert err[0].startswith(f"rl-reasoner {argv[0]}: error: "), err[0]
    for fragment in fragments:
        assert fragment in err[0], err[0]
    return err[0]


# -- the readers: a torn or undecodable line is skipped and counted ----------------------------------------------


def damaged_run(tmp_path) -> Path:
    """A recorded run whose samples.jsonl ends in a line cut inside "é" and whose metrics.jsonl holds garbage."""
    run = RunDir(tmp_path / "damaged").create()
    (run.path / "config.yaml").write_text(yaml.safe_dump({"run": {"name": "damaged", "steps": 4},
                                                          "task": {"name": "arithmetic"}}))
    run.append("metrics", [{"step": 1, "reward": 0.5, "time": 1.0}])
    with open(run.file("metrics"), "ab") as f:
        f.write(b"\x00\x9f\xff garbage \xfe\n")
    run.append("metrics", [{"step": 2, "reward": 0.75, "time": 2.0}])
    sample = {"step": 1, "prompt_id": "p1", "prompt": "q", "question": "What is 2+2?", "answer": "4",
              "completion": "Wait, café... <answer>4</answer>", "correct": True, "rewards": {"math_accuracy": 1.0},
              "probe": False}
    run.append("samples", [sample])
    whole = (json.dumps({**sample, "step": 2, "completion": "déjà vu"}, ensure_ascii=False) + "\n").encode()
    with open(run.file("samples"), "ab") as f:
        f.write(whole[: whole.index("é".encode()) + 1])  # a job killed in the middle of the two bytes of "é"
    run.append("eval", [{"step": 0, "task": "arithmetic", "metric": "accuracy", "value": 0.25}])
    return run.path


def test_every_reader_skips_a_cut_utf8_character_and_binary_garbage_and_says_how_many(tmp_path, capsys):
    path = damaged_run(tmp_path)
    assert [r["step"] for r in read_jsonl(path / "metrics.jsonl")] == [1, 2]
    assert "metrics.jsonl: skipped 1 unreadable line" in capsys.readouterr().err
    assert [r["step"] for r in read_jsonl(path / "samples.jsonl")] == [1]
    assert "samples.jsonl: skipped 1 unreadable line" in capsys.readouterr().err

    assert main(["report", str(path)]) == 0
    page = (path / "report" / "index.html").read_text()
    assert "metrics.jsonl: skipped 1 unreadable line" in page and "samples.jsonl: skipped 1" in page
    assert main(["aha", str(path)]) == 0
    assert "café" in capsys.readouterr().out
    assert main(["inspect", str(path), "--step", "1"]) == 0
    assert main(["runs", str(tmp_path)]) == 0
    assert re.search(r"damaged\s+arithmetic\s+2/4\s+0\.250 @ step 0\s+running", capsys.readouterr().out)


# -- one-line errors before the model loads ------------------------------------------------------------------------


def test_an_empty_job_file_is_refused_instead_of_running_all_defaults(tmp_path, capsys):
    (tmp_path / "empty.yaml").write_text("\n# nothing here\n")
    one_line_error(capsys, ["train", str(tmp_path / "empty.yaml")], "the file is empty. Fix:")


def test_num_generations_not_dividing_the_batch(tmp_path, tiny_model_dir, capsys, no_model_load):
    job = tiny_job(tmp_path, tiny_model_dir)
    one_line_error(capsys, ["train", str(job), "--set", "grpo.num_generations=3"],
                   "must be divisible by num_generations (3)", "Fix: choose grpo.num_generations")


def test_a_missing_local_model_path(tmp_path, tiny_model_dir, capsys, no_model_load):
    job = tiny_job(tmp_path, tiny_model_dir)
    one_line_error(capsys, ["train", str(job), "--set", f"model.name={tmp_path}/no/such/model"],
                   "no such directory. Fix:")


def test_a_custom_jsonl_file_that_is_not_utf8(tmp_path, tiny_model_dir, capsys, no_model_load):
    data = tmp_path / "data.jsonl"
    data.write_bytes('{"question": "2+2 \u00e9?", "answer": "4"}\n'.encode("latin-1"))
    job = tiny_job(tmp_path, tiny_model_dir)
    one_line_error(capsys, ["train", str(job), "--set", "task.name=custom", "--set", f"task.params={{path: {data}}}"],
                   str(job), "is not UTF-8 text", "Fix: re-encode it as UTF-8")


def test_a_task_error_names_the_job_file(tmp_path, tiny_model_dir, capsys, no_model_load):
    job = tiny_job(tmp_path, tiny_model_dir)
    one_line_error(capsys, ["train", str(job), "--set", "task.params.max_valu=3"], f"{job}: task 'arithmetic'")


def test_an_output_dir_under_a_file(tmp_path, tiny_model_dir, capsys, no_model_load):
    (tmp_path / "a_file").write_text("")
    job = tiny_job(tmp_path, tiny_model_dir, run={"output_dir": str(tmp_path / "a_file" / "runs")})
    one_line_error(capsys, ["train", str(job)], "is not writable (a file is in the way", "Fix: choose a writable")


def test_a_tracker_that_is_not_installed_names_its_extra(tmp_path, tiny_model_dir, capsys, monkeypatch, no_model_load):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "trackio" else real(name, *a))
    job = tiny_job(tmp_path, tiny_model_dir, grpo={"report_to": "trackio"})
    one_line_error(capsys, ["train", str(job)], "trackio is not installed. Fix: pip install 'rl-reasoner[trackio]'")
    assert not (tmp_path / "runs" / "job").exists()  # no stub run directory left behind
    one_line_error(capsys, ["check", str(job), "--set", "grpo.report_to=tensorbord"], "Did you mean 'tensorboard'")


def test_report_out_on_an_unwritable_path(tmp_path, capsys):
    run = damaged_run(tmp_path)
    (tmp_path / "a_file").write_text("")
    one_line_error(capsys, ["report", str(run), "--out", str(tmp_path / "a_file" / "report")],
                   "a file is in the way", "Fix:")


def test_eval_of_a_path_that_does_not_exist(tmp_path, capsys):
    one_line_error(capsys, ["eval", str(tmp_path / "runs" / "nope")], "no such run directory or config file")


def test_eval_of_a_run_without_final_or_checkpoint_is_refused(tmp_path, tiny_model_dir, capsys, no_model_load):
    job = tiny_job(tmp_path, tiny_model_dir)
    run = RunDir(tmp_path / "runs" / "job").create()
    raw = yaml.safe_load(job.read_text())
    (run.path / "config.yaml").write_text(yaml.safe_dump({**raw, "meta": {"started": "x"}}))
    one_line_error(capsys, ["eval", str(run.path)], "neither final/ nor a complete checkpoint", "Fix: pass --checkpoint")


def test_a_run_dir_killed_during_its_first_evaluation_is_not_reused_without_resume(tmp_path, tiny_model_dir, capsys,
                                                                                    no_model_load):
    job = tiny_job(tmp_path, tiny_model_dir)
    run = RunDir(tmp_path / "runs" / "job").create()
    (run.path / "config.yaml").write_text("meta: {started: earlier}\n")
    run.append("eval", [{"step": 0, "task": "arithmetic", "metric": "accuracy", "value": 0.5}])  # no metrics.jsonl
    one_line_error(capsys, ["train", str(job)], "already holds a run (eval.jsonl)", "Fix: pass --resume")
    assert (run.path / "config.yaml").read_text() == "meta: {started: earlier}\n"  # untouched


def test_a_second_job_into_a_run_directory_in_use_is_refused_before_it_touches_it(tmp_path, tiny_model_dir, capsys,
                                                                                    no_model_load):
    """A ``--resume`` started while the first job still trains would rewind and interleave its records."""
    import os
    import subprocess
    import sys

    job = tiny_job(tmp_path, tiny_model_dir)
    run = RunDir(tmp_path / "runs" / "job").create()
    run.append("metrics", [{"step": 1, "loss": 0.5}])
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from rl_reasoner.rundir import RunDir; "
                               "run = RunDir(sys.argv[1]); run.lock(); print('held', flush=True); time.sleep(600)", str(run.path)],
                              stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    try:
        assert holder.stdout.readline().strip() == "held"
        one_line_error(capsys, ["train", str(job), "--resume"], "is in use by process", str(holder.pid),
                       "--set run.name=OTHER")
        assert run.read("metrics") == [{"step": 1, "loss": 0.5}]  # not rewound
    finally:
        holder.kill()
        holder.wait()
    free = RunDir(run.path)  # the holder is gone, and so is its lock
    free.lock()
    free.unlock()


def test_ctrl_c_says_how_to_continue(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setitem(__import__("rl_reasoner.cli").cli.COMMANDS, "train", interrupted)
    assert main(["train", "job.yaml"]) == 130
    assert "rl-reasoner train job.yaml --resume" in capsys.readouterr().err


def test_no_space_left_is_one_line_with_the_resume_hint(monkeypatch, capsys):
    import errno

    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setitem(__import__("rl_reasoner.cli").cli.COMMANDS, "train", __import__("rl_reasoner.cli").cli._wrap(full))
    one_line_error(capsys, ["train", "job.yaml"], "no space left on the device",
                   "then continue with `rl-reasoner train job.yaml --resume`")


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and re.fullmatch(r"rl-reasoner \S+.*\n", capsys.readouterr().out)


# -- smaller points ------------------------------------------------------------------------------------------------


def test_every_module_a_shipped_config_names_exists():
    import importlib.util

    for path in REPO.glob("configs/**/*.yaml"):
        for name in re.findall(r"\brl_reasoner(?:\.[a-z_]+)+", path.read_text()):
            assert importlib.util.find_spec(name) is not None, f"{path.relative_to(REPO)} names {name}"


def test_the_default_job_builds_its_grpo_arguments_without_a_deprecation_warning():
    from types import SimpleNamespace

    from rl_reasoner.config import load_config
    from rl_reasoner.job import grpo_args

    for overrides in ([], ["grpo.gradient_checkpointing=true"]):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            args = grpo_args(load_config(REPO / "configs" / "default.yaml", overrides), SimpleNamespace(reward_specs=[]))
        assert not [w for w in caught if "deprecated" in str(w.message)], [str(w.message) for w in caught]
        assert args.gradient_checkpointing is bool(overrides)


def test_check_prints_the_resolved_job_without_loading_the_model(tmp_path, tiny_model_dir, capsys, no_model_load):
    job = tiny_job(tmp_path, tiny_model_dir)
    assert main(["check", str(job)]) == 0
    out = capsys.readouterr().out
    assert "arithmetic: 16 train / 4 held-out rows" in out
    assert "2 optimiser steps x 4 completions (1 prompts x 4) = 8 completions" in out
    assert "learning_rate: 0.001  (TRL: 1e-06)" in out and "rewards:  math_accuracy x1" in out
    assert not (tmp_path / "runs").exists()  # check writes nothing


def test_tasks_name_lists_parameters_with_defaults(capsys):
    assert main(["tasks", "countdown"]) == 0
    out = capsys.readouterr().out
    assert "num_train: int [2000]" in out and "Training problems" in out
    one_line_error(capsys, ["tasks", "countdwn"], "unknown task 'countdwn'")


# -- trackers ------------------------------------------------------------------------------------------------------


def test_behaviour_metrics_reach_tensorboard_next_to_trls(tmp_path, tiny_model_dir):
    """`grpo.report_to: tensorboard` (offline, event files): behaviour/* is logged with TRL's own metrics."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from rl_reasoner.config import load_config
    from rl_reasoner.train import train

    run = train(load_config(tiny_job(tmp_path, tiny_model_dir, grpo={"report_to": "tensorboard"},
                                     eval={"at_start": False})))
    [events] = {p.parent for p in (run / "checkpoints" / "runs").rglob("events.out.tfevents.*")}
    tags = EventAccumulator(str(events)).Reload().Tags()["scalars"]
    assert "train/reward" in tags and "train/behaviour/length_mean" in tags, tags
    assert "train/behaviour/reflection_rate" in tags
    steps = [event.step for event in EventAccumulator(str(events)).Reload().Scalars("train/behaviour/length_mean")]
    assert steps == [1, 2]


def test_runs_table_tells_complete_running_interrupted_and_shows_the_interval(tmp_path, capsys):
    import os
    import time

    def make(name, steps_done, final=False, age_s=0.0, ci=False):
        run = RunDir(tmp_path / name).create()
        (run.path / "config.yaml").write_text(yaml.safe_dump({"task": {"name": "countdown"}, "run": {"steps": 10}}))
        if steps_done:
            run.append("metrics", [{"step": s} for s in range(1, steps_done + 1)])
            record = {"step": steps_done, "task": "countdown", "metric": "accuracy", "value": 0.5}
            run.append("eval", [{**record, **({"n": 100, "ci_low": 0.4, "ci_high": 0.6} if ci else {})}])
        if final:
            (run.path / "final").mkdir()
        for f in run.path.glob("*.jsonl"):
            os.utime(f, (time.time() - age_s, time.time() - age_s))

    make("done", 10, final=True, ci=True)
    make("going", 3)
    make("stopped", 4, age_s=3600)
    make("fresh", 0)
    assert main(["runs", str(tmp_path)]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["done"].split()[2:] == ["10/10", "0.500", "[0.400,", "0.600]", "n=100", "@", "step", "10", "complete"]
    assert rows["going"].endswith("running") and "3/10" in rows["going"]
    assert rows["stopped"].endswith("interrupted") and "0.500 @ step 4" in rows["stopped"]
    assert rows["fresh"].endswith("empty") and "0/10" in rows["fresh"]


def test_the_error_is_the_last_line_even_under_a_progress_bar(monkeypatch, capsys):
    import sys

    from tqdm import tqdm

    from rl_reasoner import cli
    from rl_reasoner.config import ConfigError

    def fails_mid_training(args):
        bar = tqdm(total=5, file=sys.stderr)
        bar.update(2)
        raise ConfigError("job.yaml: broken. Fix: mend it")

    monkeypatch.setitem(cli.COMMANDS, "train", cli._wrap(fails_mid_training))
    assert main(["train", "job.yaml"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines[-1] == "rl-reasoner train: error: job.yaml: broken. Fix: mend it"
