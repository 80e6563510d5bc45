"""Starts a sandbox server: `python -I -S -B start_server.py --serve CONFIG` (what `slot.py` runs).

Run by path with the standard library only: the server's modules (`server.py` and what it imports, never
the client's side) are loaded from this directory as the package `_rl_reasoner_sandbox`, without running
the package's `__init__` and without putting the directory on `sys.path` (the private root binds every
`sys.path` entry, and the project's files must not be visible to programs)."""

import json
import os
import sys
import types

if __name__ == "__main__" and sys.argv[1:2] == ["--serve"]:
    package = types.ModuleType("_rl_reasoner_sandbox")
    package.__path__ = [os.path.dirname(os.path.abspath(__file__))]
    sys.modules[package.__name__] = package
    from _rl_reasoner_sandbox.server import serve

    serve(json.loads(sys.argv[2]))
