"""Rule-based rewards for pure-RL reasoning training, with TRL's reward signature.

Every reward is a plain function `fn(completions, **columns) -> list[float | None]` that a bare
`trl.GRPOTrainer` accepts unchanged: `completions` are strings or chat messages, `columns` are the
dataset's columns plus TRL's extras (`log_extra`, `completion_ids`, ...). `None` means "cannot score
this row" (e.g. the gold answer does not parse), never "wrong". Each reward reports why it gave each
score through TRL's `log_extra`, under `reason/<reward name>`.

>>> import rewards
>>> rewards.math_accuracy(["<think>2+2</think><answer>4</answer>"], answer=["4"])
[1.0]
>>> reward = rewards.build({"name": "format_reward", "params": {"prefilled_think": True}})
>>> reward(["2+2 is 4</think><answer>4</answer>"])
[1.0]
"""

from rewards.countdown import countdown
from rewards.format import format_reward
from rewards.math_reward import math_accuracy
from rewards.registry import BoundReward, UnknownRewardError, available, build, get, register
from rewards import shaping  # noqa: F401  (registers TRL's shaping rewards by name)
from rewards import answers  # noqa: F401  (canonical answers and lenient readings for evaluation)

__all__ = [
    "BoundReward",
    "UnknownRewardError",
    "available",
    "build",
    "countdown",
    "format_reward",
    "get",
    "math_accuracy",
    "register",
]

try:
    from rewards.code import code_tests
except ModuleNotFoundError as _error:  # the code sandbox is a separate part; the package works without it
    if _error.name != "rewards.code":
        raise
    del _error
else:
    __all__.append("code_tests")
