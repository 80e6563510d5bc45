"""Shaping rewards, reused from TRL (`trl/rewards/*.py`) and made available by name.

Each entry is a thin factory: it takes the params from the config and returns TRL's own reward
function, unchanged. TRL is imported only when one of them is built.

| name                      | TRL function                       | params                                            | reads |
|---------------------------|------------------------------------|---------------------------------------------------|-------|
| `soft_overlong_punishment`| `get_soft_overlong_punishment`     | `max_completion_len`, `soft_punish_cache`         | `completion_ids` |
| `repetition_penalty`      | `get_repetition_penalty_reward`    | `ngram_size=3`, `max_penalty=-1.0`                | `completion_ids` |
| `cosine_scaled`           | `get_cosine_scaled_reward`         | `max_len`, `min/max_value_wrong/correct`          | `completion_ids`, `solution` (or `answer`) |
| `think_format`            | `think_format_reward`              | none                                              | completions |

Not in TRL, so not here: open-r1's `len_reward` (Kimi 1.5 length penalty), `reasoning_steps_reward`
and `tag_count_reward` (our `format_reward(partial=True)` covers the last).

`cosine_scaled` scores correctness with TRL's `accuracy_reward` (math-verify over the whole text,
`\\boxed{}` answers; it does not read `<answer>` blocks), not with `math_accuracy`; TRL offers no way to
plug another correctness function in.
"""

from __future__ import annotations

from collections.abc import Callable

from rewards.extract import completion_text
from rewards.registry import register


@register("soft_overlong_punishment", factory=True)
def soft_overlong_punishment(max_completion_len: int, soft_punish_cache: int) -> Callable:
    """DAPO's soft overlong punishment: 0 up to `max_completion_len - soft_punish_cache` tokens, then down to -1.

    >>> soft_overlong_punishment(100, 20)(completion_ids=[[1] * 80, [1] * 90, [1] * 120])
    [0.0, -0.5, -1.0]
    """
    from trl.rewards import get_soft_overlong_punishment

    if max_completion_len < 1 or not 0 < soft_punish_cache <= max_completion_len:
        raise ValueError(
            f"need max_completion_len >= 1 and 0 < soft_punish_cache <= max_completion_len, "
            f"got {max_completion_len} and {soft_punish_cache}"
        )
    return get_soft_overlong_punishment(max_completion_len, soft_punish_cache)


@register("repetition_penalty", factory=True)
def repetition_penalty(ngram_size: int = 3, max_penalty: float = -1.0) -> Callable:
    """Penalty proportional to the share of repeated token n-grams (0 for none, `max_penalty` at worst).

    >>> repetition_penalty(ngram_size=2)(completion_ids=[[1, 2, 3, 4], [5, 5, 5, 5, 5]])
    [0.0, -0.75]
    """
    from trl.rewards import get_repetition_penalty_reward

    if ngram_size < 1:
        raise ValueError(f"ngram_size must be >= 1, got {ngram_size}")
    return get_repetition_penalty_reward(ngram_size=ngram_size, max_penalty=max_penalty)


@register("cosine_scaled", factory=True)
def cosine_scaled(
    max_len: int,
    min_value_wrong: float = -1.0,
    max_value_wrong: float = -0.5,
    min_value_correct: float = 0.5,
    max_value_correct: float = 1.0,
) -> Callable:
    """Correctness scaled by length on a cosine schedule (shorter correct answers earn more).

    Uses TRL's reward as is; a dataset with an `answer` column and no `solution` column is passed
    `solution=answer`.
    """
    from trl.rewards import get_cosine_scaled_reward

    return _SolutionFromAnswer(
        get_cosine_scaled_reward(max_len, min_value_wrong, max_value_wrong, min_value_correct, max_value_correct)
    )


class _SolutionFromAnswer:
    """Adapts TRL's correctness rewards to our columns (picklable).

    TRL's expect chat messages and a `solution` column: strings are wrapped as messages, and the
    `answer` column is passed as `solution` when there is no `solution` column.
    """

    def __init__(self, reward: Callable):
        self.reward = reward
        self.__name__ = getattr(reward, "__name__", "cosine_scaled_reward")

    def __call__(self, completions: list, **kwargs) -> list[float | None]:
        if "solution" not in kwargs and "answer" in kwargs:
            kwargs["solution"] = [str(gold) for gold in kwargs["answer"]]
        return self.reward(_as_messages(completions), **kwargs)


def _as_messages(completions: list) -> list[list[dict[str, str]]]:
    return [[{"role": "assistant", "content": completion_text(completion)}] for completion in completions]


@register("think_format")
def think_format(completions: list, **kwargs) -> list[float]:
    """TRL's `think_format_reward`: 1.0 if the completion starts with one `<think>…</think>` block.

    Takes strings as well as chat messages (TRL's expects messages).

    >>> think_format(["<think>a</think> 4", "4"])
    [1.0, 0.0]
    """
    from trl.rewards import think_format_reward

    return think_format_reward(_as_messages(completions), **kwargs)
