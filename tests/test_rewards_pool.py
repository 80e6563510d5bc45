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


def test_calls_run_in_parallel(helpers):
    pool = helpers("sleep", workers=2)
    pool.map([(0,), (0,)], timeout=30)  # start the workers
    start = time.perf_counter()
    outcomes = pool.map([(0.5,)] * 4, timeout=5)
    elapsed = time.perf_counter() - start
    assert outcomes == [Outcome("ok", 0.5)] * 4
    assert elapsed < 1.7  # one after another would take 2 s


def test_a_call_stuck_beyond_the_alarm_is_killed_at_the_deadline(helpers):
    pool = helpers("stuck", workers=1)
    pool.map([(0,)], timeout=30)
    start = time.perf_counter()
    [outcome] = pool.map([(60,)], timeout=1.0)
    assert outcome.status == "timeout"
    assert time.perf_counter() - start < 1.5
    # the killed worker was replaced
    assert pool.map([(0,)], timeout=30) == [Outcome("ok", "finished")]


def test_a_slow_call_is_interrupted_and_its_worker_kept(helpers):
    pool = helpers("sleep", workers=1)
    pool.map([(0,)], timeout=30)
    [before] = pool._workers
    start = time.perf_counter()
    [outcome] = pool.map([(60,)], timeout=1.0)
    assert outcome == Outcome("timeout", "interrupted")
    assert time.perf_counter() - start < 1.2
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
