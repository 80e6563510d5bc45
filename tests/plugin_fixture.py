"""A tiny third-party reward plugin, installed as a real distribution on a temporary path.

`make_reward_plugin(tmp_path)` writes a package `rl_reasoner_demo_plugin` and its
`rl_reasoner_demo_plugin-0.1.0.dist-info` (METADATA + entry_points.txt, what `pip install` leaves
behind) into a directory and returns it. Put that directory on `sys.path` (e.g.
`monkeypatch.syspath_prepend(path)`) and `importlib.metadata` sees an installed distribution that
declares the reward `PLUGIN_REWARD_NAME` in the entry-point group `rl_reasoner.rewards`.

The reward: 1.0 if the completion is at most `max_chars` characters long (param, default 200), else 0.0.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

PLUGIN_DISTRIBUTION = "rl-reasoner-demo-plugin"
PLUGIN_MODULE = "rl_reasoner_demo_plugin"
PLUGIN_REWARD_NAME = "demo_short_completion"

_MODULE_SOURCE = '''\
"""A reward plugin for rl-reasoner, found through the entry point group `rl_reasoner.rewards`."""


def short_completion(completions, max_chars=200, log_extra=None, **kwargs):
    """1.0 for a completion of at most `max_chars` characters, else 0.0."""
    texts = [c if isinstance(c, str) else "".join(m["content"] for m in c) for c in completions]
    if log_extra is not None:
        log_extra("reason/short_completion", ["short" if len(t) <= max_chars else "long" for t in texts])
    return [1.0 if len(text) <= max_chars else 0.0 for text in texts]
'''


def make_reward_plugin(tmp_path: Path) -> Path:
    """Install the demo plugin under `tmp_path / "site"`; return the directory to add to `sys.path`."""
    site = Path(tmp_path) / "site"
    package = site / PLUGIN_MODULE
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(_MODULE_SOURCE)
    dist_info = site / f"{PLUGIN_MODULE}-0.1.0.dist-info"
    dist_info.mkdir(exist_ok=True)
    (dist_info / "METADATA").write_text(
        textwrap.dedent(
            f"""\
            Metadata-Version: 2.1
            Name: {PLUGIN_DISTRIBUTION}
            Version: 0.1.0
            Summary: A demo reward plugin for rl-reasoner
            """
        )
    )
    (dist_info / "entry_points.txt").write_text(
        f"[rl_reasoner.rewards]\n{PLUGIN_REWARD_NAME} = {PLUGIN_MODULE}:short_completion\n"
    )
    (dist_info / "top_level.txt").write_text(f"{PLUGIN_MODULE}\n")
    (dist_info / "RECORD").write_text("")
    return site
