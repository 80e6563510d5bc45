import os
import textwrap
import threading
import time

import pytest

from rewards._worker_pool import Outcome, WorkerPool, default_workers

HELPERS = '''
import os
import signal
import time


def sleep(seconds):
    time.sleep(seconds)
    return seconds


def stuck(seconds):
    """Like a call stuck in C code: the worker's alarm cannot interrupt it."""
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])
    time.sleep(seconds)
    return "finished"


def crash():
    os._exit(3)


def meet(folder, parties):
    """Arrive at a rendezvous in `folder` and wait (up to 60 s) for `parties` calls to arrive: True when they all
    did, so the calls ran at the same time; one after another, the first waits in vain and says False."""
    open(os.path.join(folder, str(os.getpid())), "w").close()
    for _ in range(6000):
        if len(os.listdir(folder)) >= parties:
            return True
        time.sleep(0.01)
    return False


def fail():
    raise ValueError("boom")


def pid():
    time.sleep(0.05)
    return os.getpid()


WARMED = []


def slow_warm_up():
    time.sleep(2.0)  # like importing math-verify on a loaded machine
    WARMED.append(True)


def warmed():
    return bool(WARMED)


def hash_seed():
    return os.environ.get("PYTHONHASHSEED")
'''


@pytest.fixture
def helpers(tmp_path, monkeypatch):
    (tmp_path / "pool_helpers.py").write_text(textwrap.dedent(HELPERS))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    pools = []

    def make(function, workers=2, warm_up=None):
        pool = WorkerPool(f"pool_helpers:{function}", workers=workers, warm_up=warm_up and f"pool_helpers:{warm_up}")
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.close()


def test_calls_run_in_parallel(helpers, tmp_path):
    # a rendezvous, not a stopwatch: each call waits for the other, which only returns True when both run at once
    # (a busy machine makes them slower, never sequential)
    pool = helpers("meet", workers=2)
    (tmp_path / "meet").mkdir()
    outcomes = pool.map([(str(tmp_path / "meet"), 2)] * 2, timeout=120)
    assert outcomes == [Outcome("ok", True)] * 2
    assert len(os.listdir(tmp_path / "meet")) == 2  # two worker processes met


def test_a_call_stuck_beyond_the_alarm_is_killed_at_the_deadline(helpers):
    pool = helpers("stuck", workers=1)
    pool.map([(0,)], timeout=30)
    [stuck_worker] = pool._workers
    [outcome] = pool.map([(600,)], timeout=1.0)  # left to run, it would return "finished" after 10 minutes
    assert outcome.status == "timeout"
    assert stuck_worker.process.poll() is not None  # killed, not waited for
    # the killed worker was replaced
    assert pool.map([(0,)], timeout=30) == [Outcome("ok", "finished")]
    assert pool._workers[0] is not stuck_worker


def test_a_slow_call_is_interrupted_and_its_worker_kept(helpers):
    pool = helpers("sleep", workers=1)
    pool.map([(0,)], timeout=30)
    [before] = pool._workers
    [outcome] = pool.map([(600,)], timeout=1.0)  # left to run, it would return 600 after 10 minutes
    assert outcome == Outcome("timeout", "interrupted")  # the worker's alarm stopped the call at the deadline
    assert pool._workers == [before] and before.process.poll() is None


def test_errors_and_crashes_are_outcomes_and_the_pool_carries_on(helpers):
    assert helpers("fail").map([()], timeout=30) == [Outcome("error", "ValueError: boom")]
    crashing = helpers("crash", workers=1)
    [outcome] = crashing.map([()], timeout=30)
    assert outcome.status == "error" and "exit code 3" in outcome.value
    [outcome] = crashing.map([()], timeout=30)
    assert outcome.status == "error"


def test_usable_from_several_threads(helpers):
    pool = helpers("pid", workers=2)
    results = []
    threads = [threading.Thread(target=lambda: results.append(pool.map([()] * 3, timeout=30))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 3
    assert all(outcome.status == "ok" and outcome.value != os.getpid() for batch in results for outcome in batch)


def test_close_stops_the_workers(helpers):
    pool = helpers("pid", workers=2)
    pool.map([()] * 2, timeout=30)
    processes = [worker.process for worker in pool._workers]
    pool.close()
    assert all(process.poll() is not None for process in processes)


def test_a_worker_that_cannot_start_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    pool = WorkerPool("no_such_module_here:function", workers=1)
    with pytest.raises(RuntimeError, match="exited while starting"):
        pool.map([()], timeout=30)


def test_bad_arguments():
    with pytest.raises(ValueError, match="package.module:function"):
        WorkerPool("no_colon")
    with pytest.raises(ValueError, match="workers"):
        WorkerPool("a:b", workers=0)
    with pytest.raises(ValueError, match="timeout"):
        WorkerPool("a:b", workers=1).map([()], timeout=0)


def test_default_workers_respects_env(monkeypatch):
    monkeypatch.setenv("RL_REASONER_REWARD_WORKERS", "3")
    assert default_workers() == 3
    monkeypatch.delenv("RL_REASONER_REWARD_WORKERS")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "10000")
    assert default_workers() == 1


def test_the_warm_up_runs_before_the_first_deadline(helpers):
    """A cold worker (and a replaced one) warms up before it takes a call: start-up never eats a deadline."""
    pool = helpers("warmed", workers=1, warm_up="slow_warm_up")
    assert pool.map([()], timeout=0.5) == [Outcome("ok", True)]
    pool._workers[0].process.kill()  # the replacement warms up too
    assert pool.map([()], timeout=0.5) == [Outcome("ok", True)]


def test_workers_share_one_hash_seed(helpers):
    pool = helpers("hash_seed", workers=2)
    assert pool.map([()] * 2, timeout=30) == [Outcome("ok", "0")] * 2


def test_a_worker_killed_while_starting_is_replaced(helpers):
    pool = helpers("warmed", workers=1, warm_up="slow_warm_up")
    results = []
    batch = threading.Thread(target=lambda: results.extend(pool.map([()], timeout=30)))
    batch.start()
    while not pool._workers and batch.is_alive():
        time.sleep(0.01)
    pool._workers[0].process.kill()  # dies during its warm-up, before it is ready
    batch.join()
    assert results == [Outcome("ok", True)]
