"""The tester process (forked once per slot, under its own uid, not dumpable): runs each run's trusted tests
against proxies of the program's functions, and says whether the tests left state behind in it.

Its fd 3 is the socket to the server, which sends each job's tests, program, calls and answers fds."""

from __future__ import annotations

import builtins
import gc
import json
import marshal
import os
import signal
import socket
import sys

from .messages import REF, describe_exception, read_all, read_frame, write_frame


TESTER_MEMORY_BYTES = 1 << 30
"""Address space of the tester process (it holds the values the program returns)."""


def tester_main(socket_fd: int) -> int:
    """The tester process: for each job from the server (tests, program, calls pipe, answers pipe), run the
    tests against proxies of the program's functions and send back (job, kind, detail, clean). `clean` is
    False when the tests left state in this process (`_left_state`): the server then replaces it, so no
    timer, signal handler or builtin of one job's tests reaches the next job."""
    sock = socket.socket(fileno=socket_fd)
    baseline = _tester_state()
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, 1 << 16, 4)
        except OSError:
            return 0
        if not message or len(fds) != 4:
            return 0
        tests_fd, program_fd, calls_fd, answers_fd = fds
        try:
            job = json.loads(message)
            source = read_all(tests_fd)
            kind, detail = _run_tests(source, job["entry_point"], calls_fd, answers_fd, program_fd)
        except BaseException as error:  # noqa: BLE001 - e.g. MemoryError; this tester is then replaced
            kind, detail = "error", describe_exception(error)
        finally:
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass
        try:
            clean = not _left_state(baseline)
        except BaseException:  # noqa: BLE001
            clean = False
        sock.send(marshal.dumps((job["job"], kind, detail, clean)))
        if not clean:
            return 0
        gc.collect()


_TIMERS = (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF)


def _tester_state() -> dict:
    """What tests could leave behind in the tester process, to compare after each job."""
    handlers = {}
    for number in signal.valid_signals():
        try:
            handlers[number] = signal.getsignal(number)
        except (ValueError, OSError):
            pass
    return {
        "handlers": handlers,
        "builtins": dict(vars(builtins)),
        "mask": signal.pthread_sigmask(signal.SIG_BLOCK, []),
        "recursion": sys.getrecursionlimit(),
        "streams": (sys.stdin, sys.stdout, sys.stderr),
        "cwd": os.getcwd(),
    }


def _left_state(baseline: dict) -> bool:
    """Whether the last tests left state here (timers are disarmed in passing): a timer, a signal handler or
    mask, a pending signal, a changed builtin, a thread, a trace function, the recursion limit, stdio, cwd."""
    import _thread

    armed = [signal.setitimer(which, 0) for which in _TIMERS]
    return (
        any(delay or interval for delay, interval in armed)
        or any(signal.getsignal(number) is not handler for number, handler in baseline["handlers"].items())
        or vars(builtins) != baseline["builtins"]
        or signal.pthread_sigmask(signal.SIG_BLOCK, []) != baseline["mask"]
        or bool(signal.sigpending())
        or _thread._count() != 0
        or sys.gettrace() is not None
        or sys.getprofile() is not None
        or sys.getrecursionlimit() != baseline["recursion"]
        or (sys.stdin, sys.stdout, sys.stderr) != baseline["streams"]
        or os.getcwd() != baseline["cwd"]
    )


class _ProgramGone(BaseException):
    """The program process exited or sent garbage; BaseException so `except Exception` in tests ignores it."""


class _Unsupported(BaseException):
    """A test passed a value that cannot cross to the program."""


class ProgramError(Exception):
    """An exception raised by the program that is not a builtin exception (name and message kept)."""


class _Remote:
    """What the tests get for a value of the program that is not plain data (an instance of its class, a
    generator): attributes, calls, iteration, `len` and indexing are answered by the program; equality is
    identity and truth is an error, so such a value never passes for an expected one."""

    __slots__ = ("_handle", "_kind", "_request")

    def __init__(self, handle: int, kind: str, request):
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_kind", kind)
        object.__setattr__(self, "_request", request)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._request(("getattr", self._handle, name))

    def __call__(self, *args, **kwargs):
        return self._request(("call", self._handle, args, kwargs))

    def __iter__(self):
        return self._request(("iter", self._handle))

    def __next__(self):
        return self._request(("next", self._handle))

    def __len__(self) -> int:
        value = self._request(("len", self._handle))
        if type(value) is not int:
            raise TypeError("len() of the program's object is not an int")
        return value

    def __getitem__(self, key):
        return self._request(("getitem", self._handle, key))

    def __bool__(self) -> bool:
        raise TypeError(f"the program returned a {self._kind} object where the tests test a truth value")

    def __repr__(self) -> str:
        return f"<the program's {self._kind} object>"


_UNIMPORTED = frozenset({"antigravity", "this", "__hello__", "__phello__", "idlelib", "tkinter", "turtle"})
"""Standard modules the tests are not given even when the program imported them (side effects on import)."""


def _run_tests(source: str, entry_point: str | None, calls: int, answers: int, program_fd: int) -> tuple[str, str]:
    """Run `source` with proxies of the program's functions (calls written to `calls`, answers read from
    `answers`); then `check(<entry_point>)`. Returns (kind, detail), kind being a `STATUSES` key.

    The tests see the real builtins (a program's `abs` or `set` is not theirs), the program's other
    top-level functions and classes, and the standard modules the program imported under the same names."""
    state = {"calls": 0, "gone": None, "unsupported": None}
    try:
        code = compile(source, "tests.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as error:
        return "bad-tests", f"the tests do not compile: {describe_exception(error)}"
    ready = read_frame(answers)
    try:
        kind, names, modules = _plain(marshal.loads(ready)) if ready is not None else ("", [], {})
        if kind != "ready" or not all(isinstance(name, str) for name in [*names, *modules, *modules.values()]):
            raise ValueError
    except Exception:  # noqa: BLE001
        return "exited", "the program exited before the tests were done"

    def wrap(value):
        return _REF_ARG(value._handle) if type(value) is _Remote else value

    def request(message: tuple):
        if state["gone"] or state["unsupported"]:
            raise _ProgramGone(state["gone"] or state["unsupported"])
        state["calls"] += 1
        operation = message[0]
        if operation == "call":
            message = (*message[:2], tuple(wrap(arg) for arg in message[2]), {k: wrap(v) for k, v in message[3].items()})
        elif operation == "getitem":
            message = (*message[:2], wrap(message[2]))
        try:
            payload = marshal.dumps(message)
        except ValueError:
            state["unsupported"] = "the tests pass the program a value that is not plain data"
            raise _Unsupported(state["unsupported"]) from None
        try:
            write_frame(calls, payload)
            answer = read_frame(answers)
        except OSError:  # the program closed its end: it exited
            answer = None
        try:
            kind, *rest = _plain(marshal.loads(answer))  # type: ignore[arg-type]
        except (ValueError, TypeError, EOFError):  # no answer (it exited) or garbage
            kind, rest = None, []
        if kind == "ok" and len(rest) == 1:
            return rest[0]
        if kind == "ref" and len(rest) == 2 and type(rest[0]) is int and type(rest[1]) is str:
            return _Remote(rest[0], rest[1], request)
        if kind == "stop" and not rest and operation == "next":
            raise StopIteration
        if kind == "raise" and len(rest) == 2 and all(isinstance(part, str) for part in rest):
            raise _program_exception(*rest)
        state["gone"] = "the program exited during a call"
        raise _ProgramGone(state["gone"])

    def proxy_for(name: str):
        def proxy(*args, **kwargs):
            return request(("call", name, args, kwargs))

        proxy.__name__ = proxy.__qualname__ = name
        return proxy

    shadowed = set(vars(builtins))
    proxies = {name: proxy_for(name) for name in names if name.isidentifier()}
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    for name, module in modules.items():
        top = module.partition(".")[0]
        if name.isidentifier() and name not in shadowed and top in sys.stdlib_module_names and top not in _UNIMPORTED:
            try:
                __import__(module)
                namespace[name] = sys.modules[module]
            except Exception:  # noqa: BLE001 - a module the program imported from elsewhere (its own name)
                pass
    namespace.update({name: proxy for name, proxy in proxies.items() if name not in shadowed or name == entry_point})
    try:
        exec(code, namespace)
        if entry_point is not None:
            check = namespace.get("check")
            if not callable(check) or check is proxies.get("check"):
                return "no-tests", "the tests define no check function"
            if entry_point not in proxies:
                return "error", f"the program defines no function {entry_point}"
            check(proxies[entry_point])
        outcome = ("passed", "") if state["calls"] else ("no-tests", "the tests never called the program")
    except _Unsupported as error:
        return "unsupported", str(error)
    except _ProgramGone:
        pass
    except AssertionError as error:
        outcome = ("failed", describe_exception(error))
    except SystemExit as error:
        outcome = ("bad-tests", f"the tests exited ({describe_exception(error)})")
    except (NameError, ImportError) as error:
        outcome = ("error", describe_exception(error))
        missing = getattr(error, "name", None)
        if entry_point is not None and not getattr(error, "_from_program", False) and isinstance(missing, str):
            if not _mentions(read_all(program_fd), missing):  # not a name the program deleted or failed to import
                outcome = ("bad-tests", f"the tests use a name nobody defines: {describe_exception(error)}")
    except BaseException as error:  # noqa: BLE001 - any other exception out of the tests is a failure
        outcome = ("error", describe_exception(error))
    if state["unsupported"]:
        return "unsupported", state["unsupported"]
    if state["gone"]:
        return "exited", state["gone"]
    return outcome


def _REF_ARG(handle: int) -> tuple:
    return (REF, handle)


def _mentions(source: str, name: str) -> bool:
    """Whether `name` occurs as a word in `source` (the program's text, read but never run here)."""
    import re

    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", source) is not None


def _plain(value):
    """`value` itself if it is made only of exact builtin types (what `marshal` can carry), else ValueError."""
    atoms = (type(None), bool, int, float, complex, str, bytes, type(Ellipsis))
    stack, seen = [value], set()
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in atoms:
            continue
        if kind not in (list, tuple, set, frozenset, dict):
            raise ValueError(f"not a plain value: {kind.__name__}")
        if id(item) in seen:
            continue
        seen.add(id(item))
        stack.extend(item.items() if kind is dict else item)
    return value


def _program_exception(name: str, message: str) -> Exception:
    """The builtin exception the program raised (so tests expecting it work), else a `ProgramError`.
    A `StopIteration` becomes a `RuntimeError` (as in a generator, PEP 479): raised inside a loop of the
    tests it would end the loop and skip its assertions."""
    kind = getattr(builtins, name, None)
    error: Exception = ProgramError(f"{name}: {message}")
    if name in ("StopIteration", "StopAsyncIteration"):
        error = RuntimeError(f"the program raised {name}")
    elif isinstance(kind, type) and issubclass(kind, Exception):
        try:
            error = kind(message)
        except Exception:  # noqa: BLE001 - e.g. UnicodeDecodeError needs five arguments
            pass
    error._from_program = True  # type: ignore[attr-defined]
    return error
