"""Crash-safe resume: a job killed at any moment and restarted with --resume ends as if nothing happened.

The slow tests run the real CLI in a subprocess on the tiny model, kill it (SIGKILL at a random moment, or
SIGTERM), resume it, and compare everything it recorded with an uninterrupted run of the same config: the steps,
the prompts and completions sampled at every step (data order + RNG), the probes, the evaluations and the final
weights. The fast tests check the pieces (checkpoint completeness, sampler catch-up, the preemption callback).
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml
from transformers import TrainerControl

from rl_reasoner.preemption import PREEMPTED_EXIT_CODE, PreemptionCallback, any_rank
from rl_reasoner.resume import (ResumeDataOrder, checkpoint_is_complete, find_shuffling_sampler,
                                last_complete_checkpoint, resume_misalignment)

REPO = Path(__file__).resolve().parents[1]
STEPS = 12
STEPS_PER_EPOCH = 4  # 4 training prompts, one prompt (4 completions) per step


def job_file(tmp_path: Path, model_dir: Path) -> Path:
    """A job whose epochs are 4 steps long, so a resume lands in a later epoch; checkpoints every 2 steps."""
    job = {
        "model": {"name": str(model_dir), "dtype": "float32"},
        "task": {"name": "arithmetic", "params": {"max_value": 30, "num_train": STEPS_PER_EPOCH, "num_eval": 4},
                 "template": "plain", "chat": False},
        "rewards": [{"name": "math_accuracy"}],
        "grpo": {"num_generations": 4, "per_device_train_batch_size": 4, "max_completion_length": 8,
                 "learning_rate": 1e-3, "save_steps": 2, "beta": 0.0, "bf16": False,
                 "gradient_checkpointing": False},
        "run": {"name": "job", "output_dir": str(tmp_path / "runs"), "seed": 0, "steps": STEPS},
        "behaviour": {"samples_per_step": 2, "num_probes": 2, "probe_every": 4},  # 2 of 4 completions: RNG picks
        "eval": {"num_examples": 4, "batch_size": 8, "every": 5},
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    return path


def start(config: Path, log: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "rl_reasoner.cli", "train", str(config), *extra]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def run_to_end(config: Path, log: Path, *extra: str) -> None:
    proc = start(config, log, *extra)
    assert proc.wait(timeout=1800) == 0, log.read_text()[-3000:]  # a hang guard, not a speed bound


def wait_for(path: Path, proc: subprocess.Popen, log: Path, timeout: float = 900) -> None:
    """Wait for `path` while the job runs; `timeout` only guards against a hang (a busy machine is slow, not stuck)."""
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, f"the job ended before {path} appeared:\n{log.read_text()[-3000:]}"
        assert time.time() < deadline, f"{path} did not appear within {timeout}s"
        time.sleep(0.02)


def lines(run: Path, name: str) -> list[dict]:
    """Every line of a JSONL file, parsed: a torn line fails the test here."""
    path = run / f"{name}.jsonl"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    assert text == "" or text.endswith("\n"), f"{path} ends in a torn line"
    return [json.loads(line) for line in text.splitlines()]


def record(run: Path) -> dict:
    """What an interrupted run must reproduce exactly."""
    samples = lines(run, "samples")
    return {
        "metric_steps": [m["step"] for m in lines(run, "metrics")],
        "metrics": [(m["step"], m["reward"], m.get("loss"), m["completions/mean_length"])
                    for m in lines(run, "metrics")],
        "samples": [(s["step"], s["prompt_id"], s["completion"]) for s in samples if not s["probe"]],
        "probes": [(s["step"], s["prompt_id"], s["completion"]) for s in samples if s["probe"]],
        "eval": [(e["step"], e["metric"], e["value"]) for e in lines(run, "eval")],
        "eval_samples": [(e["step"], e["prompt_id"], e["completion"]) for e in lines(run, "eval_samples")],
    }


def final_weights(run: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(run / "final" / "model.safetensors")


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_model_dir):
    """The uninterrupted run."""
    tmp = tmp_path_factory.mktemp("reference")
    config = job_file(tmp, tiny_model_dir)
    run_to_end(config, tmp / "train.log")
    return tmp / "runs" / "job"


def assert_same_as_reference(run: Path, reference: Path) -> None:
    got, want = record(run), record(reference)
    assert got["metric_steps"] == list(range(1, STEPS + 1))
    for key in want:
        assert got[key] == want[key], f"{key} differs from the uninterrupted run"
    for name, tensor in final_weights(reference).items():
        assert torch.equal(final_weights(run)[name], tensor), f"final weight {name} differs"


@pytest.mark.slow
def test_sigkill_at_a_random_moment_then_resume_matches_an_uninterrupted_run(tmp_path, tiny_model_dir, reference):
    seed = int(os.environ.get("RESUME_TEST_SEED", random.randrange(10**6)))
    config = job_file(tmp_path, tiny_model_dir)
    run = tmp_path / "runs" / "job"
    log = tmp_path / "killed.log"
    proc = start(config, log)
    # Wait until a checkpoint of the second epoch exists, so the resume must also restore the epoch's data order,
    # then kill at a random moment of the 6 remaining steps (timed from the 2 steps before, so on any machine).
    wait_for(run / "checkpoints" / f"checkpoint-{STEPS_PER_EPOCH}" / "trainer_state.json", proc, log)
    started = time.time()
    wait_for(run / "checkpoints" / f"checkpoint-{STEPS_PER_EPOCH + 2}" / "trainer_state.json", proc, log)
    delay = random.Random(seed).uniform(0.0, 2.5 * (time.time() - started))
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL, (
        f"the job finished before the kill (RESUME_TEST_SEED={seed}, delay {delay:.2f}s): make it longer")

    run_to_end(config, tmp_path / "resumed.log", "--resume")
    resumed_from = [line for line in (tmp_path / "resumed.log").read_text().splitlines() if "Resuming" in line]
    context = f"RESUME_TEST_SEED={seed}, killed {delay:.2f}s after checkpoint-6; {resumed_from}"
    try:
        assert_same_as_reference(run, reference)
    except AssertionError as e:
        raise AssertionError(f"{e} ({context})") from e


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_exits_and_resumes_exactly(tmp_path, tiny_model_dir, reference):
    config = job_file(tmp_path, tiny_model_dir)
    run = tmp_path / "runs" / "job"
    log = tmp_path / "terminated.log"
    proc = start(config, log)
    wait_for(run / "checkpoints" / f"checkpoint-{STEPS_PER_EPOCH + 2}" / "trainer_state.json", proc, log)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == PREEMPTED_EXIT_CODE, log.read_text()[-3000:]

    stopped_at = [m["step"] for m in lines(run, "metrics")][-1]
    assert stopped_at < STEPS
    assert last_complete_checkpoint(run / "checkpoints").name == f"checkpoint-{stopped_at}"
    assert not (run / "final").exists(), "a preempted job must not write the final model"
    assert f"checkpoint-{stopped_at} saved" in log.read_text()

    run_to_end(config, tmp_path / "resumed.log", "--resume")
    assert_same_as_reference(run, reference)


# -- the pieces ---------------------------------------------------------------------------------------------------


def make_checkpoint(root: Path, step: int, state: str | None = None, rng: bytes | None = None) -> Path:
    path = root / f"checkpoint-{step}"
    path.mkdir(parents=True)
    (path / "trainer_state.json").write_text(state if state is not None else json.dumps({"global_step": step}))
    if rng is not None:
        (path / "rng_state_0.pth").write_bytes(rng)
    return path


def whole_zip(tmp_path: Path) -> bytes:
    torch.save({"python": 1}, tmp_path / "rng.pth")
    return (tmp_path / "rng.pth").read_bytes()


def test_a_checkpoint_cut_off_while_being_written_is_not_resumed_from(tmp_path):
    rng = whole_zip(tmp_path)
    make_checkpoint(tmp_path / "c", 2, rng=rng)
    make_checkpoint(tmp_path / "c", 4, state='{"global_step": 4, "log_hist')  # torn trainer_state.json
    make_checkpoint(tmp_path / "c", 6, rng=rng[: len(rng) // 2])  # a rank's RNG file cut in half
    make_checkpoint(tmp_path / "c", 8, state=json.dumps({"global_step": 7}))  # not this directory's state
    (tmp_path / "c" / "checkpoint-10").mkdir()  # weights being written, no state yet
    assert last_complete_checkpoint(tmp_path / "c").name == "checkpoint-2"
    make_checkpoint(tmp_path / "c", 12, rng=rng)
    assert last_complete_checkpoint(tmp_path / "c").name == "checkpoint-12"
    assert last_complete_checkpoint(tmp_path / "missing") is None
    assert zipfile.is_zipfile(tmp_path / "c" / "checkpoint-12" / "rng_state_0.pth")


def test_checkpoint_names_other_than_checkpoint_step_are_ignored(tmp_path):
    make_checkpoint(tmp_path, 3)
    (tmp_path / "checkpoint-3-tmp").mkdir()
    (tmp_path / "checkpoint-3-tmp" / "trainer_state.json").write_text('{"global_step": 3}')
    assert not checkpoint_is_complete(tmp_path / "checkpoint-3-tmp")
    assert last_complete_checkpoint(tmp_path).name == "checkpoint-3"


def test_resume_misalignment_names_checkpoints_inside_a_reused_generation_batch():
    assert resume_misalignment(4, 4, 1, save_steps=1) is None  # TRL's default: steps_per_generation = grad accum
    assert resume_misalignment(2, 2, 2, save_steps=2) is None
    message = resume_misalignment(2, 4, 1, save_steps=3)
    assert message is not None and "multiple of 2" in message


def repeat_sampler_loader(num_samples: int = 8, batch: int = 2):
    from torch.utils.data import DataLoader
    from trl.trainer.utils import RepeatSampler

    sampler = RepeatSampler(list(range(num_samples)), mini_repeat_count=1, batch_size=batch, shuffle=True, seed=3)
    return DataLoader(list(range(num_samples)), batch_size=batch, sampler=sampler)


def epoch_order(loader) -> list[int]:
    return [int(i) for batch in loader for i in batch]


def test_resume_data_order_replays_the_epoch_the_uninterrupted_run_was_in():
    uninterrupted = repeat_sampler_loader()
    epochs = [epoch_order(uninterrupted) for _ in range(3)]
    assert epochs[0] != epochs[1] != epochs[2]  # one permutation per epoch

    resumed = repeat_sampler_loader()
    assert find_shuffling_sampler(resumed) is resumed.sampler
    callback = ResumeDataOrder()
    args = SimpleNamespace(gradient_accumulation_steps=1)
    # 4 batches per epoch; a checkpoint at step 9 is one step into the third epoch.
    callback.on_train_begin(args, SimpleNamespace(global_step=9, is_world_process_zero=True), TrainerControl(),
                            train_dataloader=resumed)
    assert callback.epochs_skipped == 2
    assert epoch_order(resumed) == epochs[2]

    fresh = repeat_sampler_loader()
    ResumeDataOrder().on_train_begin(args, SimpleNamespace(global_step=0, is_world_process_zero=True), TrainerControl(),
                                     train_dataloader=fresh)
    assert epoch_order(fresh) == epochs[0]


def test_a_config_that_cannot_resume_exactly_is_named_at_the_start(capsys):
    args = SimpleNamespace(gradient_accumulation_steps=1, steps_per_generation=1, num_iterations=2, save_steps=5)
    ResumeDataOrder().on_train_begin(args, SimpleNamespace(global_step=0, is_world_process_zero=True), TrainerControl())
    assert "multiple of 2" in capsys.readouterr().err
    args.save_steps = 4
    ResumeDataOrder().on_train_begin(args, SimpleNamespace(global_step=0, is_world_process_zero=True), TrainerControl())
    assert capsys.readouterr().err == ""


def test_preemption_callback_saves_then_exits_after_sigterm():
    previous = signal.getsignal(signal.SIGTERM)
    callback = PreemptionCallback()
    try:
        args, control = SimpleNamespace(device="cpu"), TrainerControl()
        state = SimpleNamespace(global_step=5, is_world_process_zero=True)
        callback.on_step_end(args, state, control)
        assert not control.should_save and not control.should_training_stop
        callback.on_save(args, state, control)  # a regular save does not exit

        os.kill(os.getpid(), signal.SIGTERM)  # handled: sets the flag instead of ending pytest
        os.kill(os.getpid(), signal.SIGTERM)  # a second one (scheduler + launcher) changes nothing
        assert callback.received == signal.SIGTERM
        callback.on_step_end(args, state, control)
        assert control.should_save and control.should_training_stop
        with pytest.raises(SystemExit) as exited:
            callback.on_save(args, state, control)
        assert exited.value.code == PREEMPTED_EXIT_CODE
    finally:
        callback.uninstall()
    assert signal.getsignal(signal.SIGTERM) is previous


def test_any_rank_without_a_process_group_is_the_local_flag():
    assert any_rank(True) is True and any_rank(False) is False
