"""A pass-rate curriculum for GRPO: which prompts to draw next.

A prompt that the policy always or never solves gives a group with zero advantage (see :mod:`rl_reasoner.sampling`
for filtering such groups after generation). This module avoids drawing them in the first place, as plain pieces
that know nothing about the trainer (``rl_reasoner.trainer.ReasonerTrainer`` wires them into TRL's loop):

* **the pass-rate tracker**: :class:`PassRateTracker` keeps a running pass rate per prompt from the rewards the
  trainer already computes (seeded, optionally, by the offline pass of ``rl-reasoner difficulty``, whose file
  :func:`write_pass_rates` and :func:`read_pass_rates` write and read);
* **the prompt sampler**: :class:`PromptSampler` draws the prompts of the next groups, uniformly (epochs of a seeded
  permutation) or weighted towards prompts whose pass rate is neither 0 nor 1 (:func:`prompt_weight`).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rl_reasoner.config import ConfigError

# -- the pass-rate tracker --------------------------------------------------------------------------------------


@dataclass
class PassRateTracker:
    """A running pass rate per prompt: decayed counts of passing and of scored completions, so that recent groups
    weigh more than old ones while the policy changes."""

    decay: float = 0.5
    """Share of a prompt's old counts kept at each new observation (0: only the latest group counts)."""
    passes: dict[str, float] = field(default_factory=dict)
    """Decayed count of passing completions, by prompt key."""
    scored: dict[str, float] = field(default_factory=dict)
    """Decayed count of scored completions, by prompt key."""

    def update(self, key: str, passed: int, scored: int) -> None:
        """Add one group's outcome: ``passed`` of ``scored`` completions passed.

        >>> t = PassRateTracker(decay=0.5); t.update("q1", 8, 8); t.update("q1", 0, 8); t.rate("q1")
        0.3333333333333333
        """
        if scored <= 0:
            return
        if not 0 <= passed <= scored:
            raise ValueError(f"passed must be between 0 and scored ({scored}), got {passed}")
        self.passes[key] = self.decay * self.passes.get(key, 0.0) + passed
        self.scored[key] = self.decay * self.scored.get(key, 0.0) + scored

    def rate(self, key: str) -> float | None:
        """The prompt's running pass rate, or None when it was never scored."""
        scored = self.scored.get(key)
        return None if not scored else self.passes[key] / scored

    def mean_rate(self) -> float | None:
        """The mean pass rate over the prompts seen so far (the best guess for an unseen prompt), or None."""
        if not self.scored:
            return None
        return sum(self.passes[k] / self.scored[k] for k in self.scored) / len(self.scored)

    def seed(self, rates: dict[str, float], samples: int) -> None:
        """Start from offline estimates: each rate counts as ``samples`` scored completions.

        >>> t = PassRateTracker(); t.seed({"q1": 0.25}, samples=8); t.rate("q1"), t.scored["q1"]
        (0.25, 8.0)
        """
        for key, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"pass rate of {key!r} must be within [0, 1], got {rate}")
            self.passes[key] = rate * samples
            self.scored[key] = float(samples)

    def __len__(self) -> int:
        return len(self.scored)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "passes": dict(self.passes), "scored": dict(self.scored)}

    def load_state_dict(self, state: dict) -> None:
        self.decay = state["decay"]
        self.passes = dict(state["passes"])
        self.scored = dict(state["scored"])


# -- the prompt sampler -----------------------------------------------------------------------------------------


def informative_probability(pass_rate: float, group_size: int) -> float:
    """The chance that ``group_size`` completions of a prompt with this pass rate are neither all right nor all
    wrong, i.e. that its group has a non-zero advantage.

    >>> informative_probability(0.0, 8), informative_probability(1.0, 8), round(informative_probability(0.5, 8), 4)
    (0.0, 0.0, 0.9922)
    """
    return 1.0 - pass_rate ** group_size - (1.0 - pass_rate) ** group_size


def prompt_weight(pass_rate: float | None, group_size: int, min_weight: float, prior: float | None = None) -> float:
    """The curriculum's sampling weight of a prompt: the chance that its group is informative, relative to the most
    informative prompt (pass rate 0.5), never below ``min_weight`` (so that pass rates of 0 and 1 keep being
    re-measured). An unseen prompt (``pass_rate`` None) is weighted at ``prior``, the mean pass rate so far; with no
    prior at all, every prompt weighs 1.

    >>> prompt_weight(0.5, 8, 0.05), prompt_weight(0.0, 8, 0.05), prompt_weight(1.0, 8, 0.05)
    (1.0, 0.05, 0.05)
    >>> round(prompt_weight(None, 8, 0.05, prior=0.1), 3)
    0.574
    """
    rate = prior if pass_rate is None else pass_rate
    if rate is None:
        return 1.0
    if group_size < 2:
        return 1.0
    return max(min_weight, informative_probability(rate, group_size) / informative_probability(0.5, group_size))


class PromptSampler:
    """Draws the dataset indices of the prompts for the next groups, distinct within one draw; seeded, so every
    process draws the same (each then takes its own slice).

    * without a tracker: epochs of a seeded permutation of the dataset, every prompt once per epoch (like TRL's
      ``RepeatSampler``);
    * with a :class:`PassRateTracker`: weighted by :func:`prompt_weight` of each prompt's running pass rate,
      without replacement within a draw (Efraimidis–Spirakis keys).

    Its state (RNG and epoch position) goes into checkpoints, so a resumed run draws what an uninterrupted one would.
    """

    def __init__(self, keys: Sequence[str], seed: int, tracker: PassRateTracker | None = None, group_size: int = 8,
                 min_weight: float = 0.05):
        if not keys:
            raise ValueError("cannot sample prompts from an empty dataset")
        self.keys = list(keys)
        """Prompt key of each dataset row (the row's ``id``), for the tracker."""
        self.seed = seed
        self.tracker = tracker
        self.group_size = group_size
        self.min_weight = min_weight
        self.rng = random.Random(seed)
        self.epoch = 0
        self.position = 0
        self._order = self._permutation(0)

    def draw(self, n: int) -> list[int]:
        """``n`` dataset indices (distinct when ``n`` does not exceed the dataset size)."""
        if n < 0:
            raise ValueError(f"cannot draw {n} prompts")
        if self.tracker is None:
            return [self._next_in_epoch() for _ in range(n)]
        drawn: list[int] = []
        while len(drawn) < n:
            drawn += self._weighted(min(n - len(drawn), len(self.keys)))
        return drawn

    def weights(self) -> list[float]:
        """The current sampling weight of every dataset row (all 1 without a tracker)."""
        if self.tracker is None:
            return [1.0] * len(self.keys)
        prior = self.tracker.mean_rate()
        return [prompt_weight(self.tracker.rate(k), self.group_size, self.min_weight, prior) for k in self.keys]

    def state_dict(self) -> dict:
        version, internal, gauss = self.rng.getstate()
        return {"rng": [version, list(internal), gauss], "epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        self.epoch = state["epoch"]
        self.position = state["position"]
        self._order = self._permutation(self.epoch)

    def _permutation(self, epoch: int) -> list[int]:
        order = list(range(len(self.keys)))
        random.Random(f"{self.seed}/{epoch}").shuffle(order)
        return order

    def _next_in_epoch(self) -> int:
        if self.position == len(self._order):
            self.epoch, self.position = self.epoch + 1, 0
            self._order = self._permutation(self.epoch)
        self.position += 1
        return self._order[self.position - 1]

    def _weighted(self, n: int) -> list[int]:
        # Efraimidis–Spirakis: key log(u) / w, the n largest keys are a weighted draw without replacement.
        scored = [(math.log(1.0 - self.rng.random()) / w, i) for i, w in enumerate(self.weights())]
        scored.sort(reverse=True)
        return [i for _, i in scored[:n]]


def prompt_key(row: dict) -> str:
    """The key a prompt's pass rate is kept under: the row's ``id``, else its prompt.

    >>> prompt_key({"id": 7, "prompt": "What is 1 + 1?"}), prompt_key({"prompt": "What is 1 + 1?"})
    ('7', '"What is 1 + 1?"')
    """
    if "id" in row and row["id"] is not None:
        return str(row["id"])
    return json.dumps(row["prompt"], sort_keys=True)


# The pass-rate file (``rl-reasoner difficulty`` writes it, ``sampling.pass_rates`` seeds the running pass rates)

def write_pass_rates(path: Path, rates: dict[str, float], meta: dict) -> None:
    """Write the pass-rate file (parents created); ``meta["samples"]`` is the number of answers behind each rate."""
    if "samples" not in meta:
        raise ValueError("meta must say how many samples each pass rate is based on ('samples')")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, "pass_rates": rates}, indent=1) + "\n")


def read_pass_rates(path: str | Path) -> tuple[dict[str, float], int]:
    """The pass rates by prompt id and the number of samples behind each, from a file of :func:`write_pass_rates`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no pass-rate file; write it with `rl-reasoner difficulty CONFIG`")
    try:
        data = json.loads(path.read_text())
        rates = {str(k): float(v) for k, v in data["pass_rates"].items()}
        samples = int(data["meta"]["samples"])
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ConfigError(f"{path}: not a pass-rate file written by `rl-reasoner difficulty` ({e})") from None
    bad = {k: v for k, v in rates.items() if not 0.0 <= v <= 1.0}
    if bad or samples < 1:
        raise ConfigError(f"{path}: pass rates must be within [0, 1] and samples positive; got {bad or samples}")
    return rates, samples
