"""Dynamic sampling and a pass-rate curriculum for GRPO: which groups to train on, which prompts to draw next.

In GRPO a group whose completions all got the same reward has zero advantage: it costs a generation and teaches
nothing (TRL logs its share as ``frac_reward_zero_std``). This module holds the three pieces that avoid paying for
such groups, as plain functions and small classes that know nothing about the trainer
(``rl_reasoner.trainer.ReasonerTrainer`` wires them into TRL's loop):

* **the group filter** (DAPO's dynamic sampling): :func:`informative_groups` finds the groups whose rewards are not
  all equal, :func:`plan_batch` chooses which generated groups fill the batch, :func:`merge_groups` assembles them
  from the batches of several generation rounds, advantages untouched;
* **the pass-rate tracker**: :class:`PassRateTracker` keeps a running pass rate per prompt from the rewards the
  trainer already computes (seeded, optionally, by the offline pass of ``rl-reasoner difficulty``);
* **the prompt sampler**: :class:`PromptSampler` draws the prompts of the next groups, uniformly (epochs of a seeded
  permutation) or weighted towards prompts whose pass rate is neither 0 nor 1 (:func:`prompt_weight`).

Group layout: a batch holds ``group_size`` consecutive completions per prompt, as TRL lays it out. In a
multi-process run every process holds whole groups and sees every process's rewards (TRL gathers them), so each
process computes the same decisions for everyone without talking to the others.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from rl_reasoner.config import ConfigError

ZERO_SPREAD = 1e-6
"""Rewards of a group closer together than this count as equal (float noise must not make a group "informative")."""

# A completion passes when rl_reasoner.correct.verdict says so (the one definition of "correct").

# Per-row tensors of a TRL generation batch that can be cut into groups and merged across rounds. Anything else
# (images, pixel values, per-image lists) has no row-per-completion layout that could be merged safely.
PROMPT_SIDE = ("prompt_ids", "prompt_mask")
"""Left-padded by TRL."""
COMPLETION_SIDE = ("completion_ids", "completion_mask", "tool_mask", "advantages", "old_per_token_logps",
                   "ref_per_token_logps", "sampling_per_token_logps", "importance_sampling_ratio")
"""Right-padded by TRL (or one value per row)."""
PADDED_WITH_TOKEN = ("prompt_ids", "completion_ids")
"""Padded with the pad token; every other tensor is padded with 0 (masked out)."""


# -- the group filter -------------------------------------------------------------------------------------------


def total_rewards(rewards_per_func: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The weighted sum of the reward functions per completion, as GRPO ranks completions; NaN where every reward
    function returned None (unscorable).

    >>> total_rewards(torch.tensor([[1.0, 0.5], [float("nan"), float("nan")]]), torch.tensor([1.0, 2.0]))
    tensor([2., nan])
    """
    if rewards_per_func.dim() != 2 or rewards_per_func.shape[1] != weights.numel():
        raise ValueError(f"expected rewards of shape (completions, {weights.numel()}), got "
                         f"{tuple(rewards_per_func.shape)}")
    total = (rewards_per_func * weights.to(rewards_per_func.device).unsqueeze(0)).nansum(dim=1)
    total[torch.isnan(rewards_per_func).all(dim=1)] = float("nan")
    return total


def informative_groups(rewards: torch.Tensor, group_size: int, spread: float = ZERO_SPREAD) -> list[bool]:
    """For each group of ``group_size`` consecutive completions: whether its rewards differ (its advantages are not
    all zero). Unscorable completions (NaN) are left out; fewer than two scorable ones make a group uninformative.

    >>> informative_groups(torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0, float("nan")]), group_size=2)
    [False, True, False]
    """
    if group_size < 1 or rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards do not split into groups of {group_size}")
    flags = []
    for group in rewards.detach().float().cpu().view(-1, group_size):
        scored = group[~torch.isnan(group)]
        flags.append(scored.numel() >= 2 and float(scored.max() - scored.min()) > spread)
    return flags


def split_by_process(values: Sequence, num_processes: int) -> list[list]:
    """Cut a gathered, process-ordered sequence into each process's share.

    >>> split_by_process([True, False, True, True], 2)
    [[True, False], [True, True]]
    """
    if len(values) % num_processes:
        raise ValueError(f"{len(values)} values do not split evenly over {num_processes} processes")
    size = len(values) // num_processes
    return [list(values[p * size:(p + 1) * size]) for p in range(num_processes)]


def plan_batch(rounds: Sequence[Sequence[bool]], target: int) -> list[tuple[int, int]]:
    """The groups one process trains on, as ``(round, group)`` pairs: the first ``target`` informative groups in the
    order they were generated; when fewer were found, the batch is filled up with zero-variance groups, earliest first
    (their advantage is 0, so they add nothing to the policy gradient: the batch is what plain GRPO would train on).

    ``rounds[k][g]`` says whether group ``g`` of this process's generation round ``k`` is informative.

    >>> plan_batch([[False, True], [True, True]], target=2)
    [(0, 1), (1, 0)]
    >>> plan_batch([[False, True], [False, False]], target=2)
    [(0, 1), (0, 0)]
    """
    informative = [(k, g) for k, flags in enumerate(rounds) for g, ok in enumerate(flags) if ok]
    if len(informative) >= target:
        return informative[:target]
    filler = [(k, g) for k, flags in enumerate(rounds) for g, ok in enumerate(flags) if not ok]
    if len(informative) + len(filler) < target:
        raise ValueError(f"only {len(informative) + len(filler)} groups were generated for a batch of {target}")
    return informative + filler[:target - len(informative)]


def shortfall(rounds: Sequence[Sequence[bool]], num_processes: int, target: int) -> int:
    """How many more groups every process must generate: the largest number of informative groups any process still
    lacks (all processes generate the same number, so that their batches keep the same shape).

    ``rounds[k]`` is round ``k``'s informative flags for all processes' groups, in process order.

    >>> shortfall([[True, False, True, True]], num_processes=2, target=2)
    1
    >>> shortfall([[True, False, True, True], [True, False]], num_processes=2, target=2)
    0
    """
    found = [0] * num_processes
    for flags in rounds:
        for p, share in enumerate(split_by_process(flags, num_processes)):
            found[p] += sum(share)
    return max(0, max(target - n for n in found))


def batch_stats(rounds: Sequence[Sequence[bool]], num_processes: int, target: int) -> dict[str, float]:
    """What dynamic sampling did for one batch, summed over processes: extra generation rounds, zero-variance
    groups dropped, informative groups generated beyond the batch (surplus) and the share of informative groups in
    the batch trained on.

    >>> batch_stats([[False, True], [True, True]], num_processes=1, target=2)
    {'extra_rounds': 1.0, 'groups_dropped': 1.0, 'groups_surplus': 1.0, 'informative_share': 1.0}
    """
    per_process = [split_by_process(flags, num_processes) for flags in rounds]
    dropped = surplus = trained_informative = 0
    for p in range(num_processes):
        mine = [shares[p] for shares in per_process]
        informative = sum(sum(flags) for flags in mine)
        zero_variance = sum(len(flags) for flags in mine) - informative
        kept = min(target, informative)
        trained_informative += kept
        surplus += informative - kept
        dropped += zero_variance - (target - kept)
    return {"extra_rounds": float(len(rounds) - 1), "groups_dropped": float(dropped),
            "groups_surplus": float(surplus), "informative_share": trained_informative / (target * num_processes)}


def select_groups(batch: dict, groups: Sequence[int], group_size: int) -> dict:
    """The rows of the given groups, in the given order, from every per-row tensor of a TRL generation batch.
    0-dim tensors (``num_items_in_batch``) are left out: they describe the whole batch and must be recomputed.

    >>> select_groups({"advantages": torch.tensor([0., 0., 1., -1.])}, [1], group_size=2)
    {'advantages': tensor([ 1., -1.])}
    """
    rows = torch.tensor([g * group_size + i for g in groups for i in range(group_size)], dtype=torch.long)
    out = {}
    for key, value in batch.items():
        if value is None or (isinstance(value, torch.Tensor) and value.dim() == 0):
            continue
        if key not in PROMPT_SIDE + COMPLETION_SIDE or not isinstance(value, torch.Tensor) or value.dim() > 2:
            raise ValueError(f"dynamic sampling cannot cut {key!r} into groups (multimodal and custom batch "
                             f"entries are not supported); turn sampling.dynamic off for this job")
        out[key] = value[rows.to(value.device)]
    return out


def concat_batches(batches: Sequence[dict], pad_token_id: int) -> dict:
    """Concatenate batches generated in different rounds: 2-D tensors are padded to a common width the way TRL pads
    them (prompt side on the left, completion side on the right; token ids with the pad token, the rest with 0).

    >>> concat_batches([{"completion_ids": torch.tensor([[5]])}, {"completion_ids": torch.tensor([[6, 7]])}], 0)
    {'completion_ids': tensor([[5, 0],
            [6, 7]])}
    """
    keys = list(batches[0])
    if any(list(b) != keys for b in batches):
        raise ValueError("batches of different rounds hold different entries")
    out = {}
    for key in keys:
        parts = [b[key] for b in batches]
        if parts[0].dim() == 2:
            width = max(p.shape[1] for p in parts)
            value = pad_token_id if key in PADDED_WITH_TOKEN else 0
            left = key in PROMPT_SIDE
            parts = [torch.nn.functional.pad(p, (width - p.shape[1], 0) if left else (0, width - p.shape[1]),
                                             value=value) for p in parts]
        out[key] = torch.cat(parts, dim=0)
    return out


def merge_groups(batches: Sequence[dict], plan: Sequence[tuple[int, int]], group_size: int,
                 pad_token_id: int) -> dict:
    """The batch to train on: the planned ``(round, group)`` groups taken from each round's TRL batch, in plan order,
    every tensor of a kept row unchanged (advantages included; only padding may widen). ``num_items_in_batch`` is
    left for the caller to recompute over all processes.
    """
    return concat_batches([select_groups(batches[k], [g], group_size) for k, g in plan], pad_token_id)


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
