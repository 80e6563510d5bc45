"""Dynamic sampling for GRPO (DAPO's group filter): which generated groups to train on.

In GRPO a group whose completions all got the same reward has zero advantage: it costs a generation and teaches
nothing (TRL logs its share as ``frac_reward_zero_std``). This module holds the group filter, as plain functions
that know nothing about the trainer (``rl_reasoner.trainer.ReasonerTrainer`` wires them into TRL's loop):
:func:`informative_groups` finds the groups whose rewards are not all equal, :func:`plan_batch` chooses which
generated groups fill the batch, :func:`merge_groups` assembles them from the batches of several generation rounds,
advantages untouched. Its companion :mod:`rl_reasoner.curriculum` chooses which prompts to draw next.

Group layout: a batch holds ``group_size`` consecutive completions per prompt, as TRL lays it out. In a
multi-process run every process holds whole groups and sees every process's rewards (TRL gathers them), so each
process computes the same decisions for everyone without talking to the others.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

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
