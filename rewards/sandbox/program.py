"""The program process (forked by the server for each run, confined by `confine.py`): it runs the program,
then, in a tests run, answers the tester's requests about the program's functions and objects.

Its fds: 0 stdin, 1 stdout, 2 stderr, 3 the program (a memfd), 4 calls in, 5 answers out."""

from __future__ import annotations

import builtins
import marshal
import os
import sys
import traceback

from .messages import REF, read_all, read_frame, safe_str, write_frame


PROGRAM_NAME = "main.py"


def program_main(tests: bool) -> int:
    """Run the program (as `__main__` for stdio; HumanEval-like for tests, then answer calls).

    `sys.stdin`/`stdout`/`stderr` are the server's own, unused, objects on fds 0-2 (now the job's pipes)."""
    source = read_all(3)
    os.close(3)
    name = "__candidate__" if tests else "__main__"  # tests: `if __name__ == "__main__":` blocks do not run
    namespace = {"__name__": name, "__builtins__": builtins, "__file__": PROGRAM_NAME}
    try:
        exec(compile(source, PROGRAM_NAME, "exec", dont_inherit=True), namespace)  # not our __future__s
        if tests:
            _answer_calls(namespace)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        if not isinstance(exit_.code, (int, type(None))):
            print(exit_.code, file=sys.stderr)
    except BaseException as error:  # noqa: BLE001 - the program's own error, reported like Python does
        traceback.print_exception(type(error), error, error.__traceback__.tb_next)  # without this frame
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass
    return code & 0xFF


def _answer_calls(namespace: dict) -> None:
    """Tell the tester the program's functions and imported modules, then answer its requests until it
    hangs up. A value that is not plain data stays here: the tester gets a handle to it (`_Remote`)."""
    names = sorted(name for name, value in namespace.items() if callable(value) and not name.startswith("__"))
    module = type(sys)
    modules = {
        name: value.__name__
        for name, value in namespace.items()
        if type(value) is module and type(value.__dict__.get("__name__")) is str and not name.startswith("__")
    }
    write_frame(5, marshal.dumps(("ready", names, modules)))
    objects: list = []

    def resolve(value):
        if type(value) is tuple and len(value) == 2 and value[0] == REF and type(value[1]) is int:
            return objects[value[1]]
        return value

    while (request := read_frame(4)) is not None:
        operation, target, *rest = marshal.loads(request)
        try:
            subject = namespace[target] if type(target) is str else objects[target]
            if operation == "call":
                args, kwargs = rest
                value = subject(*[resolve(arg) for arg in args], **{k: resolve(v) for k, v in kwargs.items()})
            elif operation == "getattr":
                value = getattr(subject, rest[0])
            elif operation == "iter":
                value = iter(subject)
            elif operation == "next":
                try:
                    value = next(subject)
                except StopIteration:
                    write_frame(5, marshal.dumps(("stop",)))
                    continue
            elif operation == "len":
                value = len(subject)
            else:  # getitem
                value = subject[resolve(rest[0])]
            try:
                answer = marshal.dumps(("ok", value))
            except ValueError:  # not plain data (an object, a generator, a subclass): keep it, send a handle
                objects.append(value)
                kind = type(value).__name__
                answer = marshal.dumps(("ref", len(objects) - 1, kind if type(kind) is str else "object"))
        except Exception as error:  # noqa: BLE001 - sent to the tests, which may expect it
            kind = type(error).__name__
            answer = marshal.dumps(("raise", kind if type(kind) is str else "Exception", safe_str(error)))
        write_frame(5, answer)
