"""The distributed path: `accelerate launch` with 2 processes on CPU (gloo) runs the real CLI for 2 steps.

Checks that the two ranks formed one data-parallel job (world size 2, each step's groups come from both ranks),
that they end with the same weights as each other and as the saved model, that training changed the weights,
and that only the main process wrote the run directory.

Run as a script, this file is one rank of that job: it runs ``rl_reasoner.cli`` unchanged, with two observers
(a digest of the rank's final weights, and a log of the rank's calls that write the run directory).
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def digit_share(completions, **kwargs):
    """A reward with spread on random text, so the tiny model gets gradients: the share of digits."""
    return [sum(ch.isdigit() for ch in c) / max(1, len(c)) for c in completions]


def starts_with_digit(completions, **kwargs):
    """A reward whose groups are often flat on random text (all 0 or all 1), to exercise dynamic sampling."""
    return [float(c.strip()[:1].isdigit()) for c in completions]


def digest(tensor) -> str:
    return hashlib.sha256(tensor.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


def rank_main(argv: list[str]) -> int:
    """One rank: the CLI plus the observers, whose findings go to ``$DIST_TEST_OUT/rank<R>.json``."""
    from rl_reasoner import callback, cli
    from rl_reasoner.rundir import RunDir
    from rl_reasoner.trainer import ReasonerTrainer

    rank = int(os.environ["RANK"])
    found = {"rank": rank, "run_dir_writes": []}
    for method in ("create", "write_config", "append", "rewind"):
        def spy(self, *args, _method=method, _original=getattr(RunDir, method), **kwargs):
            found["run_dir_writes"].append(_method if _method != "append" else f"append:{args[0]}")
            return _original(self, *args, **kwargs)
        setattr(RunDir, method, spy)

    found["evaluated"] = []  # the held-out prompt ids this rank generated for, per evaluation
    original_score = callback.score_examples

    def score_and_record(generate_fn, rows, **kwargs):
        found["evaluated"].append([row["id"] for row in rows])
        return original_score(generate_fn, rows, **kwargs)

    callback.score_examples = score_and_record
    original_train = ReasonerTrainer.train

    def train_and_digest(self, *args, **kwargs):
        result = original_train(self, *args, **kwargs)
        model = self.accelerator.unwrap_model(self.model)
        found["world_size"] = self.args.world_size
        found["shared_prompt_passes"] = self.shared_prompt_passes
        found["weights"] = {name: digest(t) for name, t in model.state_dict().items()}
        return result

    ReasonerTrainer.train = train_and_digest
    code = cli.main(argv)
    Path(os.environ["DIST_TEST_OUT"], f"rank{rank}.json").write_text(json.dumps(found))
    return code


def job_file(tmp_path: Path, model_dir: Path, **sections) -> Path:
    job = {
        "model": {"name": str(model_dir), "dtype": "float32"},
        "task": {"name": "arithmetic", "params": {"max_value": 30, "num_train": 16, "num_eval": 4},
                 "template": "plain", "chat": False},
        "rewards": [{"name": "test_distributed:digit_share"}],
        "grpo": {"num_generations": 4, "per_device_train_batch_size": 4, "max_completion_length": 8,
                 "learning_rate": 1e-2, "save_steps": 2, "beta": 0.0, "gradient_checkpointing": False},
        "run": {"name": "dist", "output_dir": str(tmp_path / "runs"), "seed": 0, "steps": 2},
        "behaviour": {"samples_per_step": 8, "num_probes": 2, "probe_every": 1},
        "eval": {"num_examples": 4, "batch_size": 8},
        **sections,
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    return path


def launch_two_ranks(tmp_path: Path, job: Path) -> list[dict]:
    """Run the job under ``accelerate launch`` with 2 CPU processes; return what each rank observed."""
    out = tmp_path / "ranks"
    out.mkdir()
    env = {**os.environ, "DIST_TEST_OUT": str(out), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
           str(REPO / "configs" / "accelerate" / "cpu_2proc.yaml"), str(Path(__file__)), "train", str(job)]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]


@pytest.mark.slow
def test_two_cpu_processes_train_one_model_and_only_rank_0_writes_the_run_dir(tmp_path, tiny_model_dir):
    from safetensors.torch import load_file

    ranks = launch_two_ranks(tmp_path, job_file(tmp_path, tiny_model_dir))
    assert [r["world_size"] for r in ranks] == [2, 2], "the processes did not form one distributed job"

    # Same weights on both ranks, equal to the saved final model, and different from the initial ones.
    assert ranks[0]["weights"] == ranks[1]["weights"]
    run = tmp_path / "runs" / "dist"
    saved = {name: digest(t) for name, t in load_file(run / "final" / "model.safetensors").items()}
    initial = {name: digest(t) for name, t in load_file(tiny_model_dir / "model.safetensors").items()}
    assert saved and all(ranks[0]["weights"][name] == value for name, value in saved.items())
    assert any(initial[name] != value for name, value in saved.items()), "2 steps did not change the weights"

    # Only the main process wrote the run directory; it wrote each record once.
    assert ranks[1]["run_dir_writes"] == []
    assert {"create", "write_config", "append:metrics", "append:samples", "append:eval"} <= set(
        ranks[0]["run_dir_writes"])
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2]
    evals = [json.loads(line) for line in (run / "eval.jsonl").read_text().splitlines()]
    assert sorted({e["step"] for e in evals}) == [0, 2]
    assert len(evals) == len({(e["step"], e["metric"]) for e in evals})

    # Each step's 8 completions are the 2 ranks' groups gathered: 2 prompts, 4 completions each.
    samples = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    for step in (1, 2):
        prompts = [s["prompt_id"] for s in samples if s["step"] == step and not s["probe"]]
        assert len(prompts) == 8 and len(set(prompts)) == 2 and all(prompts.count(p) == 4 for p in set(prompts))
    assert sorted(p.name for p in (run / "checkpoints" / "checkpoint-2").glob("rng_state_*.pth")) == [
        "rng_state_0.pth", "rng_state_1.pth"]


@pytest.mark.slow
def test_two_cpu_processes_split_the_held_out_set_and_rank_0_gathers_it(tmp_path, tiny_model_dir):
    """Each rank evaluates every other example (5 examples: 3 and 2 + 1 repeat, so both run the same batches); the
    main process writes all 5 once, in held-out order, with intervals over the 5."""
    job = job_file(tmp_path, tiny_model_dir, task={"name": "arithmetic", "params": {
        "max_value": 30, "num_train": 16, "num_eval": 5}, "template": "plain", "chat": False},
        eval={"num_examples": 5, "batch_size": 8, "k": 1})
    ranks = launch_two_ranks(tmp_path, job)
    run = tmp_path / "runs" / "dist"
    records = [json.loads(line) for line in (run / "eval_samples.jsonl").read_text().splitlines()]
    ids = [r["prompt_id"] for r in records if r["step"] == 0]
    assert len(ids) == 5 == len(set(ids))
    assert ranks[0]["evaluated"][0] == ids[0::2]
    assert ranks[1]["evaluated"][0] == ids[1::2] + ids[-2:-1]  # padded with a repeat, dropped before writing
    assert len(ranks[0]["evaluated"]) == len(ranks[1]["evaluated"]) == 2  # steps 0 and 2, both ranks
    assert all(r["samples"] == 4 for r in records)
    evals = [json.loads(line) for line in (run / "eval.jsonl").read_text().splitlines()]
    assert all(e["n"] == 5 for e in evals if e["metric"] in ("accuracy", "pass@1"))


@pytest.mark.slow
def test_two_cpu_processes_with_dynamic_sampling_and_curriculum_stay_in_step(tmp_path, tiny_model_dir):
    """Both ranks take the same drop/refill decisions from the gathered rewards: same weights, no hang."""
    job = job_file(tmp_path, tiny_model_dir, rewards=[{"name": "test_distributed:starts_with_digit"}],
                   sampling={"dynamic": True, "curriculum": True, "max_extra_rounds": 2})
    ranks = launch_two_ranks(tmp_path, job)
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert ranks[0]["weights"] == ranks[1]["weights"]
    run = tmp_path / "runs" / "dist"
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2]
    assert all({"sampling/extra_rounds", "sampling/informative_share"} <= set(m) for m in metrics)
    state = json.loads((run / "checkpoints" / "checkpoint-2" / "sampling_state.json").read_text())
    assert state["pass_rates"]["scored"]


if __name__ == "__main__":
    sys.exit(rank_main(sys.argv[1:]))
