"""Dynamic sampling and the pass-rate curriculum: the group filter, the tracker, the sampler, their checkpoints, and
their wiring into ``ReasonerTrainer`` on the tiny model."""

import doctest
import json
import random
from collections import Counter

import pytest
import torch

from rl_reasoner import curriculum, sampling
from rl_reasoner.config import SamplingConfig
from rl_reasoner.curriculum import PassRateTracker, PromptSampler, prompt_weight
from rl_reasoner.sampling import (
    batch_stats,
    concat_batches,
    informative_groups,
    merge_groups,
    plan_batch,
    select_groups,
    shortfall,
    total_rewards,
)


def test_docstring_examples_hold():
    assert doctest.testmod(sampling).failed == 0
    assert doctest.testmod(curriculum).failed == 0


# -- the group filter -------------------------------------------------------------------------------------------


def grpo_batch(rewards: list[float], group_size: int, prompt_width: int, completion_width: int, seed: int) -> dict:
    """A generation batch shaped like TRL's, with group-normalised advantages computed from known rewards."""
    gen = torch.Generator().manual_seed(seed)
    n = len(rewards)
    r = torch.tensor(rewards, dtype=torch.float)
    grouped = r.view(-1, group_size)
    advantages = ((grouped - grouped.mean(1, keepdim=True)) / (grouped.std(1, keepdim=True) + 1e-4)).view(-1)
    completion_mask = torch.ones(n, completion_width, dtype=torch.long)
    completion_mask[:, -1] = 0  # some right padding
    prompt_mask = torch.ones(n, prompt_width, dtype=torch.long)
    prompt_mask[:, 0] = 0  # some left padding
    return {
        "prompt_ids": torch.randint(2, 90, (n, prompt_width), generator=gen) * prompt_mask,
        "prompt_mask": prompt_mask,
        "completion_ids": torch.randint(2, 90, (n, completion_width), generator=gen) * completion_mask,
        "completion_mask": completion_mask,
        "old_per_token_logps": -torch.rand(n, completion_width, generator=gen),
        "advantages": advantages,
        "num_items_in_batch": completion_mask.sum(),
    }


def test_filter_keeps_exactly_the_informative_groups_in_order_with_advantages_unchanged():
    size = 3
    first_rewards = [1, 1, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0]  # groups: all right, mixed, all wrong, mixed
    second_rewards = [0, 0, 0, 0.5, 1, 0.5]  # groups: all wrong, mixed
    rounds = [grpo_batch(first_rewards, size, prompt_width=5, completion_width=7, seed=0),
              grpo_batch(second_rewards, size, prompt_width=8, completion_width=4, seed=1)]
    flags = [informative_groups(torch.tensor(first_rewards, dtype=torch.float), size),
             informative_groups(torch.tensor(second_rewards, dtype=torch.float), size)]
    assert flags == [[False, True, False, True], [False, True]]

    plan = plan_batch(flags, target=3)
    assert plan == [(0, 1), (0, 3), (1, 1)]
    merged = merge_groups(rounds, plan, size, pad_token_id=0)

    assert merged["advantages"].shape == (9,)
    assert "num_items_in_batch" not in merged  # recomputed by the trainer over all processes
    for position, (k, g) in enumerate(plan):
        rows = slice(g * size, (g + 1) * size)
        out = slice(position * size, (position + 1) * size)
        source = rounds[k]
        assert torch.equal(merged["advantages"][out], source["advantages"][rows])  # unchanged, bit for bit
        # prompts were left-padded to the widest round, completions right-padded: the content is untouched
        assert torch.equal(merged["prompt_ids"][out, -source["prompt_ids"].shape[1]:], source["prompt_ids"][rows])
        assert torch.equal(merged["completion_ids"][out, :source["completion_ids"].shape[1]],
                           source["completion_ids"][rows])
        assert merged["completion_mask"][out].sum() == source["completion_mask"][rows].sum()
        assert torch.equal(merged["old_per_token_logps"][out, :source["old_per_token_logps"].shape[1]],
                           source["old_per_token_logps"][rows])
    # every kept group has a reward spread, so a non-zero advantage
    assert all(merged["advantages"][i * size:(i + 1) * size].abs().sum() > 0 for i in range(3))
    assert merged["prompt_ids"].shape == (9, 8) and merged["completion_ids"].shape == (9, 7)


def test_equal_rewards_within_float_noise_and_unscorable_groups_are_not_informative():
    noisy = torch.tensor([0.1 + 0.2, 0.3, 1.0, 0.0, float("nan"), 1.0, float("nan"), float("nan")])
    assert informative_groups(noisy, 2) == [False, True, False, False]
    weighted = total_rewards(torch.tensor([[1.0, 0.0], [0.0, 1.0], [float("nan"), 1.0]]), torch.tensor([1.0, 1.0]))
    assert weighted.tolist() == [1.0, 1.0, 1.0]  # same total: format and accuracy traded off, no signal
    with pytest.raises(ValueError, match="groups of 3"):
        informative_groups(torch.zeros(4), 3)


def test_at_the_cap_the_batch_is_filled_with_the_earliest_zero_variance_groups():
    assert plan_batch([[False, False], [True, False]], target=2) == [(1, 0), (0, 0)]
    assert plan_batch([[True, True], [True, True]], target=2) == [(0, 0), (0, 1)]  # surplus left out
    with pytest.raises(ValueError, match="only 1 groups"):
        plan_batch([[True]], target=2)


def test_every_process_generates_for_the_largest_shortfall_and_stats_sum_over_processes():
    # 2 processes, 2 groups each: process 0 has 1 informative group, process 1 none
    first = [True, False, False, False]
    assert shortfall([first], num_processes=2, target=2) == 2
    second = [True, False, True, True]  # 2 groups per process again
    assert shortfall([first, second], num_processes=2, target=2) == 0
    stats = batch_stats([first, second], num_processes=2, target=2)
    assert stats == {"extra_rounds": 1.0, "groups_dropped": 4.0, "groups_surplus": 0.0, "informative_share": 1.0}
    capped = batch_stats([first], num_processes=2, target=2)
    assert capped["informative_share"] == 0.25 and capped["groups_dropped"] == 0.0


def test_concat_pads_like_trl_and_select_refuses_entries_it_cannot_cut():
    a = {"prompt_ids": torch.tensor([[7, 8]]), "prompt_mask": torch.tensor([[1, 1]]),
         "completion_ids": torch.tensor([[5]]), "advantages": torch.tensor([0.5])}
    b = {"prompt_ids": torch.tensor([[9, 9, 9]]), "prompt_mask": torch.tensor([[1, 1, 1]]),
         "completion_ids": torch.tensor([[6, 6]]), "advantages": torch.tensor([-0.5])}
    out = concat_batches([a, b], pad_token_id=1)
    assert out["prompt_ids"].tolist() == [[1, 7, 8], [9, 9, 9]]
    assert out["prompt_mask"].tolist() == [[0, 1, 1], [1, 1, 1]]
    assert out["completion_ids"].tolist() == [[5, 1], [6, 6]]
    assert out["advantages"].tolist() == [0.5, -0.5]
    with pytest.raises(ValueError, match="pixel_values"):
        select_groups({"advantages": torch.zeros(2), "pixel_values": torch.zeros(2, 3)}, [0], 2)


# -- the pass-rate tracker and the sampler ----------------------------------------------------------------------


def test_tracker_keeps_a_decayed_pass_rate_and_its_state_round_trips():
    tracker = PassRateTracker(decay=0.5)
    assert tracker.rate("a") is None and tracker.mean_rate() is None
    tracker.update("a", passed=2, scored=8)
    tracker.update("a", passed=6, scored=8)
    assert tracker.rate("a") == pytest.approx((0.5 * 2 + 6) / (0.5 * 8 + 8))
    tracker.update("b", passed=0, scored=0)  # nothing scorable: no estimate
    assert tracker.rate("b") is None and len(tracker) == 1
    tracker.seed({"c": 1.0}, samples=4)
    assert tracker.mean_rate() == pytest.approx((tracker.rate("a") + 1.0) / 2)
    restored = PassRateTracker()
    restored.load_state_dict(json.loads(json.dumps(tracker.state_dict())))
    assert restored == tracker
    with pytest.raises(ValueError):
        tracker.update("a", passed=9, scored=8)


def test_uniform_sampler_visits_every_prompt_once_per_epoch_seeded():
    keys = [f"q{i}" for i in range(10)]
    sampler = PromptSampler(keys, seed=3)
    first_epoch, second_epoch = sampler.draw(10), sampler.draw(10)
    assert sorted(first_epoch) == sorted(second_epoch) == list(range(10))
    assert first_epoch != second_epoch
    assert PromptSampler(keys, seed=3).draw(10) == first_epoch
    assert PromptSampler(keys, seed=4).draw(10) != first_epoch


def test_curriculum_draws_prompts_in_proportion_to_their_weights():
    tracker = PassRateTracker()
    tracker.seed({"never": 0.0, "sometimes": 0.5, "always": 1.0, "often": 0.875}, samples=8)
    keys = ["never", "sometimes", "always", "often"]
    sampler = PromptSampler(keys, seed=0, tracker=tracker, group_size=8, min_weight=0.1)
    weights = sampler.weights()
    assert weights[0] == weights[2] == 0.1 and weights[1] == 1.0
    assert weights[3] == pytest.approx(prompt_weight(0.875, 8, 0.1))
    draws = 20_000
    counts = Counter(sampler.draw(1)[0] for _ in range(draws))
    for i, w in enumerate(weights):
        expected = w / sum(weights)
        assert counts[i] / draws == pytest.approx(expected, abs=4 * (expected * (1 - expected) / draws) ** 0.5 + 1e-3)
    # within one draw prompts are distinct; past the dataset size it starts over
    assert sorted(sampler.draw(4)) == [0, 1, 2, 3]
    assert len(sampler.draw(6)) == 6


def test_unseen_prompts_are_weighted_at_the_mean_pass_rate_so_far():
    tracker = PassRateTracker()
    sampler = PromptSampler(["a", "b", "c"], seed=0, tracker=tracker, group_size=4, min_weight=0.05)
    assert sampler.weights() == [1.0, 1.0, 1.0]  # nothing known: uniform
    tracker.update("a", passed=0, scored=4)
    tracker.update("b", passed=2, scored=4)
    assert sampler.weights() == [0.05, 1.0, pytest.approx(prompt_weight(0.25, 4, 0.05))]


@pytest.mark.parametrize("curriculum", [False, True])
def test_sampler_resumes_exactly_where_it_stopped(curriculum):
    keys = [f"q{i}" for i in range(7)]
    tracker = PassRateTracker()
    rng = random.Random(0)
    for k in keys:
        tracker.update(k, passed=rng.randint(0, 8), scored=8)
    sampler = PromptSampler(keys, seed=1, tracker=tracker if curriculum else None, group_size=8)
    sampler.draw(5)
    saved = json.loads(json.dumps({"sampler": sampler.state_dict(), "tracker": tracker.state_dict()}))
    uninterrupted = [sampler.draw(3) for _ in range(4)]

    tracker2 = PassRateTracker()
    tracker2.load_state_dict(saved["tracker"])
    resumed = PromptSampler(keys, seed=1, tracker=tracker2 if curriculum else None, group_size=8)
    resumed.load_state_dict(saved["sampler"])
    assert [resumed.draw(3) for _ in range(4)] == uninterrupted


# -- in the trainer (tiny model) --------------------------------------------------------------------------------


def alternating_or_flat(completions, kind, **kwargs):
    """A reward whose groups are informative by construction: "flat" prompts always get 0.5, "mixed" prompts get
    1, 0, 1, 0, ... across their group (groups are consecutive completions)."""
    return [0.5 if k == "flat" else float(i % 2 == 0) for i, k in enumerate(kind)]


def make_trainer(model_dir, tmp_path, sampling_config=None, rows=None, **grpo):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig

    from rl_reasoner.trainer import ReasonerTrainer

    rows = rows or [{"id": f"q{i}", "prompt": f"Q{i}:", "kind": "flat" if i % 2 else "mixed"} for i in range(16)]
    settings = {"per_device_train_batch_size": 8, "num_generations": 4, "max_completion_length": 6,
                "max_steps": 2, "logging_steps": 1, "save_steps": 100, "report_to": "none", "bf16": False,
                "learning_rate": 1e-3, "seed": 0, "beta": 0.0, "disable_tqdm": True, **grpo}
    return ReasonerTrainer(model=AutoModelForCausalLM.from_pretrained(model_dir),
                           processing_class=AutoTokenizer.from_pretrained(model_dir),
                           reward_funcs=[alternating_or_flat], args=GRPOConfig(output_dir=str(tmp_path), **settings),
                           train_dataset=Dataset.from_list(rows), sampling=sampling_config)


def test_dynamic_sampling_replaces_flat_groups_with_fresh_informative_ones(tiny_model_dir, tmp_path):
    trainer = make_trainer(tiny_model_dir, tmp_path, SamplingConfig(dynamic=True, max_extra_rounds=4))
    trainer.model.train()
    inputs = [{"id": "q1", "prompt": "Q1:", "kind": "flat"}] * 4 + [{"id": "q2", "prompt": "Q2:", "kind": "mixed"}] * 4
    batch = trainer._generate_and_score_completions(inputs)
    advantages = batch["advantages"].view(2, 4)
    assert batch["completion_ids"].shape[0] == 8
    assert (advantages.abs().sum(dim=1) > 0).all()  # both groups carry signal
    assert torch.equal(advantages[0], advantages[1])  # 1,0,1,0 in each group: the same normalised advantages
    assert batch["num_items_in_batch"] == batch["completion_mask"].sum()
    metrics = trainer._metrics["train"]
    assert metrics["sampling/informative_share"] == [1.0]
    assert metrics["sampling/extra_rounds"][0] >= 1 and metrics["sampling/groups_dropped"][0] >= 1
    assert trainer.pass_rates.rate("q1") == 0.0  # 0.5 is below the pass threshold
    assert trainer.pass_rates.rate("q2") == 0.5


def test_dynamic_sampling_is_a_no_op_when_every_group_is_informative(tiny_model_dir, tmp_path):
    inputs = [{"id": f"q{i}", "prompt": f"Q{i}:", "kind": "mixed"} for i in (0, 2) for _ in range(4)]
    outputs = []
    for config in (None, SamplingConfig(dynamic=True)):
        trainer = make_trainer(tiny_model_dir, tmp_path / str(config is None), config)
        trainer.model.train()
        torch.manual_seed(0)
        outputs.append(trainer._generate_and_score_completions([dict(row) for row in inputs]))
    plain, dynamic = outputs
    assert plain.keys() == dynamic.keys()
    for key, value in plain.items():
        assert torch.equal(value, dynamic[key]), key


def test_training_with_dynamic_sampling_and_curriculum_logs_what_it_did(tiny_model_dir, tmp_path):
    trainer = make_trainer(tiny_model_dir, tmp_path, SamplingConfig(dynamic=True, curriculum=True), max_steps=3,
                           gradient_accumulation_steps=2, per_device_train_batch_size=4)
    trainer.train()
    logged = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logged) == 3
    for h in logged:
        assert h["sampling/informative_share"] == 1.0  # half the prompts are flat, the cap is never hit here
        assert h["sampling/completion_tokens"] > 0
    tokens = [h["sampling/completion_tokens"] for h in logged]
    assert tokens == sorted(tokens) and len(set(tokens)) == 3
    assert len(trainer.pass_rates) >= 4


def test_sampling_state_is_checkpointed_and_a_resumed_run_samples_as_an_uninterrupted_one(tiny_model_dir, tmp_path):
    config = SamplingConfig(dynamic=True, curriculum=True)
    full = make_trainer(tiny_model_dir, tmp_path / "full", config, max_steps=4, save_steps=2)
    full.train()
    saved = json.loads((tmp_path / "full" / "checkpoint-2" / "sampling_state.json").read_text())
    assert saved["prompt_sampler"]["rng"] and saved["pass_rates"]["scored"]

    first = make_trainer(tiny_model_dir, tmp_path / "split", config, max_steps=2, save_steps=2)
    first.train()
    assert json.loads((tmp_path / "split" / "checkpoint-2" / "sampling_state.json").read_text()) == saved
    resumed = make_trainer(tiny_model_dir, tmp_path / "split", config, max_steps=4, save_steps=2)
    resumed.train(resume_from_checkpoint=str(tmp_path / "split" / "checkpoint-2"))
    assert json.loads(json.dumps(resumed.sampling_state())) == json.loads(json.dumps(full.sampling_state()))

