import json

from rl_reasoner.rundir import RunDir, read_jsonl


def test_append_is_readable_after_each_write_and_skips_a_torn_line(tmp_path):
    run = RunDir(tmp_path / "r").create()
    run.append("metrics", [{"step": 1, "reward": 0.5}])
    assert run.read("metrics") == [{"step": 1, "reward": 0.5}]
    run.append("metrics", [{"step": 2, "reward": float("nan")}])
    with open(run.file("metrics"), "a") as f:
        f.write('{"step": 3, "rew')  # a job killed mid-write
    assert run.read("metrics") == [{"step": 1, "reward": 0.5}, {"step": 2, "reward": None}]


def test_rewind_drops_steps_after_the_checkpoint_in_every_file(tmp_path):
    run = RunDir(tmp_path / "r").create()
    for name in ("metrics", "samples", "eval"):
        run.append(name, [{"step": s} for s in range(6)])
    with open(run.file("samples"), "a") as f:
        f.write('{"step": 6, "torn')
    run.rewind(3)
    for name in ("metrics", "samples", "eval"):
        assert [r["step"] for r in read_jsonl(run.file(name))] == [0, 1, 2, 3]
    assert all(json.loads(line) for line in run.file("samples").read_text().splitlines())
