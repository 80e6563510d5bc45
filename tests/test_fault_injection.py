"""Fault injection on the run directory: a job killed or starved of disk at the worst moments, then read and resumed.

After every fault, ``report``, ``inspect``, ``aha`` and ``runs`` work (or refuse with one line), and when the job is
finally resumed to the end every step is recorded exactly once: none lost, none duplicated.

The chain test runs the real CLI in subprocesses on the tiny model (``tests/fault_runner.py`` injects the fault at
a deterministic point): killed during the first evaluation, in the middle of a JSONL line (cut inside a UTF-8
character), during a checkpoint save, and out of disk space during a metrics append; resumed after each. The
read-only test uses a real read-only mount where the machine allows one (root in a container), else file modes.
"""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from rl_reasoner.cli import main
from rl_reasoner.rundir import read_jsonl

REPO = Path(__file__).resolve().parents[1]
STEPS = 5
SAMPLES_PER_STEP = 2
EVAL_EXAMPLES = 2


def job_file(tmp_path: Path, model_dir: Path) -> Path:
    job = {
        "model": {"name": str(model_dir), "dtype": "float32"},
        "task": {"name": "arithmetic", "params": {"max_value": 30, "num_train": 8, "num_eval": 4},
                 "template": "plain", "chat": False},
        "rewards": [{"name": "math_accuracy"}],
        "grpo": {"num_generations": 4, "per_device_train_batch_size": 4, "max_completion_length": 8,
                 "learning_rate": 1e-3, "save_steps": 1, "beta": 0.0},
        "run": {"name": "job", "output_dir": str(tmp_path / "runs"), "seed": 0, "steps": STEPS},
        "behaviour": {"samples_per_step": SAMPLES_PER_STEP, "num_probes": 0},
        "eval": {"num_examples": EVAL_EXAMPLES, "batch_size": 4, "every": 2},
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    return path


def cli(log: Path, *args: str, fault: str = "", step: int = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "FAULT": fault, "FAULT_STEP": str(step), "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, str(REPO / "tests" / "fault_runner.py"), *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=600)
    log.write_text(result.stdout + result.stderr)
    return result


def readers_work(run: Path, capsys) -> None:
    """report, inspect, aha and runs on the damaged directory: each works (exit 0)."""
    assert main(["report", str(run)]) == 0
    assert main(["inspect", str(run), "--step", "0"]) == 0
    assert main(["aha", str(run)]) == 0
    assert main(["runs", str(run.parent)]) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.err


def assert_each_step_once(run: Path) -> None:
    metrics = [m["step"] for m in read_jsonl(run / "metrics.jsonl")]
    assert metrics == list(range(1, STEPS + 1)), metrics
    samples = Counter(s["step"] for s in read_jsonl(run / "samples.jsonl"))
    assert samples == {step: SAMPLES_PER_STEP for step in range(1, STEPS + 1)}, samples
    evals = Counter((e["step"], e["metric"]) for e in read_jsonl(run / "eval.jsonl"))
    assert set(evals.values()) == {1} and {step for step, _ in evals} == {0, 2, 4, 5}, evals
    eval_samples = Counter(e["step"] for e in read_jsonl(run / "eval_samples.jsonl"))
    assert eval_samples == {step: EVAL_EXAMPLES for step in (0, 2, 4, 5)}, eval_samples
    for name in ("metrics", "samples", "eval", "eval_samples"):  # the resume rewrote away every torn line
        text = (run / f"{name}.jsonl").read_text(encoding="utf-8")
        assert all(json.loads(line) for line in text.splitlines()) and text.endswith("\n")


@pytest.mark.slow
def test_killed_and_starved_at_the_worst_moments_then_resumed_records_every_step_once(tmp_path, tiny_model_dir,
                                                                                      capsys):
    job = job_file(tmp_path, tiny_model_dir)
    run = tmp_path / "runs" / "job"

    # 1. Killed during the first evaluation: eval.jsonl holds step 0, no metrics.jsonl yet.
    assert cli(tmp_path / "1.log", "train", str(job), fault="kill_first_eval").returncode == -9
    assert (run / "eval.jsonl").is_file() and not (run / "metrics.jsonl").exists()
    readers_work(run, capsys)
    refused = cli(tmp_path / "1b.log", "train", str(job))  # not reused without --resume: one line, exit 2
    assert refused.returncode == 2 and refused.stderr.strip().splitlines()[-1].startswith("rl-reasoner train: error:")
    assert "already holds a run (eval.jsonl)" in refused.stderr

    # 2. Resumed (from scratch: no checkpoint), killed in the middle of a samples line at step 2.
    assert cli(tmp_path / "2.log", "train", str(job), "--resume", fault="kill_append", step=2).returncode == -9
    assert (run / "samples.jsonl").read_bytes().endswith("d\xc3".encode("latin-1"))  # cut inside "é"
    readers_work(run, capsys)
    assert main(["inspect", str(run), "--step", "1"]) == 0
    assert "samples.jsonl: skipped 1 unreadable line" in capsys.readouterr().err

    # 3. Resumed from checkpoint-1, killed while checkpoint-3 is being saved.
    assert cli(tmp_path / "3.log", "train", str(job), "--resume", fault="kill_checkpoint", step=3).returncode == -9
    assert "continuing from" in (tmp_path / "3.log").read_text() and (run / "checkpoints" / "checkpoint-3").is_dir()
    readers_work(run, capsys)
    # eval of an unfinished run takes its last complete checkpoint (not the cut-off checkpoint-3) and says so
    evaluated = cli(tmp_path / "3b.log", "eval", str(run), "--set", "eval.num_examples=1")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert "evaluating its last complete checkpoint, checkpoint-2" in evaluated.stdout
    assert [e["label"] for e in read_jsonl(run / "eval_posthoc.jsonl") if e["metric"] == "accuracy"] == ["checkpoint-2"]

    # 4. Resumed from checkpoint-2; the disk fills while step 4's metrics line is written: one line, exit 2.
    full = cli(tmp_path / "4.log", "train", str(job), "--resume", fault="enospc", step=4)
    assert "continuing from" in full.stdout and "checkpoint-2" in full.stdout
    assert full.returncode == 2, full.stderr[-2000:]
    last = [line for line in full.stderr.splitlines() if line.strip()][-1]
    assert last.startswith("rl-reasoner train: error: no space left on the device") and "--resume" in last, last
    assert "Traceback" not in full.stderr
    readers_work(run, capsys)

    # 5. Resumed to the end: every step once, in order; then --resume again has nothing to do.
    done = cli(tmp_path / "5.log", "train", str(job), "--resume")
    assert done.returncode == 0, done.stderr[-3000:]
    assert_each_step_once(run)
    again = cli(tmp_path / "6.log", "train", str(job), "--resume")
    assert again.returncode == 0 and "is complete (5 of run.steps=5 steps" in again.stdout
    assert_each_step_once(run)
    meta = yaml.safe_load((run / "config.yaml").read_text())["meta"]
    assert [r["checkpoint"] for r in meta["resumes"]] == [None, "checkpoint-1", "checkpoint-2", "checkpoint-3"]


# -- a read-only output directory -----------------------------------------------------------------------------------


@pytest.fixture
def read_only_dir(tmp_path):
    """A read-only directory: a read-only tmpfs mount where allowed, else a directory without write permission."""
    path = tmp_path / "ro"
    path.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(path)],
                                                   capture_output=True).returncode == 0
    if not mounted:
        if os.geteuid() == 0:
            pytest.skip("root without mount: file modes do not stop root, and no read-only mount can be made")
        path.chmod(0o555)
    yield path
    if mounted:
        subprocess.run(["umount", str(path)], check=False)
    else:
        path.chmod(0o755)


def test_a_read_only_output_dir_is_refused_in_one_line_before_the_model_loads(tmp_path, tiny_model_dir,
                                                                              read_only_dir, capsys, monkeypatch):
    monkeypatch.setattr("rl_reasoner.train.load_model", lambda *a, **k: pytest.fail("the model was loaded"))
    job = job_file(tmp_path, tiny_model_dir)
    assert main(["train", str(job), "--set", f"run.output_dir={read_only_dir}/runs"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("rl-reasoner train: error: run directory") and "not writable" in line and "Fix:" in line
    # the report of a run it cannot write into: one line naming the fix (--out elsewhere)
    assert main(["report", str(read_only_dir)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("rl-reasoner report: error: ") and "Fix:" in line
