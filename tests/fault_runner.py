"""`rl-reasoner ARGS...` with one fault injected at a chosen point (for tests/test_fault_injection.py).

``FAULT`` (environment) picks the fault; each one acts once, at a deterministic point, as the real event would:

* ``kill_first_eval``: SIGKILL while the step-0 evaluation is recorded (eval.jsonl written, eval_samples.jsonl not);
* ``kill_append``: SIGKILL in the middle of writing a samples.jsonl line at step ``FAULT_STEP``, the line cut
  inside a two-byte UTF-8 character;
* ``kill_checkpoint``: SIGKILL while checkpoint-``FAULT_STEP`` is saved (weights written, trainer_state.json not);
* ``enospc``: the disk fills while metrics.jsonl's line of step ``FAULT_STEP`` is written: half of it reaches the
  file, then ``OSError(ENOSPC)``.
"""

import errno
import json
import os
import signal
import sys

FAULT = os.environ.get("FAULT", "")
STEP = int(os.environ.get("FAULT_STEP", "0"))


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def write_part(path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, data)
    os.fsync(fd)
    os.close(fd)


def install():
    from rl_reasoner import rundir

    original_append = rundir.RunDir.append

    def append(self, name, records):
        records = list(records)
        first = records[0] if records else {}
        if FAULT == "kill_first_eval" and name == "eval_samples" and first.get("step") == 0:
            die()
        if FAULT == "kill_append" and name == "samples" and first.get("step") == STEP and not first.get("probe"):
            line = (json.dumps({**first, "completion": "déjà vu"}, ensure_ascii=False) + "\n").encode()
            write_part(self.file(name), line[: line.index("é".encode()) + 1])
            die()
        if FAULT == "enospc" and name == "metrics" and first.get("step") == STEP:
            line = (json.dumps(first) + "\n").encode()
            write_part(self.file(name), line[: len(line) // 2])
            raise OSError(errno.ENOSPC, "No space left on device", str(self.file(name)))
        original_append(self, name, records)

    rundir.RunDir.append = append

    if FAULT == "kill_checkpoint":
        from transformers import TrainerState

        original_save = TrainerState.save_to_json

        def save_to_json(self, path):
            if f"checkpoint-{STEP}" in str(path):
                die()
            original_save(self, path)

        TrainerState.save_to_json = save_to_json


if __name__ == "__main__":
    install()
    from rl_reasoner.cli import main

    sys.exit(main(sys.argv[1:]))
