"""``ReasonerTrainer``: TRL's ``GRPOTrainer`` plus only what it lacks.

TRL does the rollouts, advantages, loss, optimiser and distribution. This subclass adds:

* a record of each generation's per-completion token counts and truncation flags (TRL keeps the texts and rewards
  in ``_logs`` but not the lengths), read by the behaviour callback, and a running count of generated tokens;
* **dynamic sampling** (``sampling.dynamic``, DAPO): groups whose completions all got the same reward are dropped
  and groups for fresh prompts are generated until every group of the batch is informative, at most
  ``sampling.max_extra_rounds`` extra rounds; at the cap the batch is filled up with zero-variance groups;
* **a pass-rate curriculum** (``sampling.curriculum``): a running pass rate per prompt, and prompts drawn by it, so
  that prompts solved sometimes but not always come more often;
* **the shared-prompt pass** (``model.shared_prompt``, on by default): the log-prob passes (loss, old and reference
  log-probs) and HF generation's prefill run each distinct prompt of the batch once and expand its key/value cache
  to the group's completions (:mod:`rl_reasoner.shared_prefix`); off, with a one-line message, where not exact.

How it sits in TRL's loop: ``_prepare_inputs`` calls ``_generate_and_score_completions`` once per generation batch
and splits the result into ``steps_per_generation`` micro-batches. The override below calls TRL's version once per
round and merges the kept groups into one batch of the usual size, so everything downstream (loss types, gradient
accumulation, ``num_iterations``, multiple processes) sees a normal batch. What changes and what does not:

* a kept group keeps exactly the advantages TRL gave it. With ``scale_rewards`` "group" or "none" those depend on
  the group alone; with "batch" (or ``multi_objective_aggregation="normalize_then_sum"``) they were scaled by the
  statistics of the round the group was generated in, not of the final batch;
* ``num_items_in_batch`` (the token normaliser of the "dapo"/"cispo" losses) is recomputed for the merged batch;
* TRL's logged reward and completion statistics, and ``frac_reward_zero_std``, cover every generated group,
  dropped ones included; ``sampling/*`` says what was trained on (see :func:`rl_reasoner.sampling.batch_stats`);
* every process runs the same rounds: the decisions are computed from the rewards TRL gathers from all processes,
  and each round generates the same number of groups on every process. Each process needs whole groups
  (``per_device_train_batch_size * steps_per_generation`` a multiple of ``num_generations``);
* with the curriculum on, the dataloader's batch only sets the pace: the prompts come from the pass-rate sampler.
  Fresh prompts for extra rounds come from the same sampler (uniform epochs when the curriculum is off).

The pass rates and the sampler's RNG are saved in each checkpoint (``sampling_state.json``) and restored on resume.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from accelerate.utils import gather_object
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from trl import GRPOTrainer

from rl_reasoner import shared_prefix
from rl_reasoner.config import SamplingConfig
from rl_reasoner.correct import tally
from rl_reasoner.curriculum import PassRateTracker, PromptSampler, prompt_key
from rl_reasoner.sampling import (
    batch_stats,
    informative_groups,
    merge_groups,
    plan_batch,
    shortfall,
    split_by_process,
    total_rewards,
)

SAMPLING_STATE = "sampling_state.json"
"""File in each checkpoint folder holding the pass rates, the prompt sampler's state and the token count."""


class ReasonerTrainer(GRPOTrainer):
    def __init__(self, *args, sampling: SamplingConfig | None = None, accuracy_reward_name: str | None = None,
                 shared_prompt: bool = True, **kwargs):
        """TRL's arguments, plus ``sampling`` (the job's ``sampling`` section; ``None``: all off),
        ``accuracy_reward_name`` (the name of the accuracy reward, whose 1.0 means "correct", for the pass rates;
        ``None``: the first reward) and
        ``shared_prompt`` (run each prompt once per group in the training pass and the generation prefill, where
        exact: :mod:`rl_reasoner.shared_prefix`)."""
        super().__init__(*args, **kwargs)
        self.shared_prompt = False
        """Whether the shared-prompt training pass is on (asked for, and exact for this model and setup)."""
        self.shared_prompt_passes = 0
        """Log-prob passes (loss, old or reference log-probs) run with the shared-prompt pass so far."""
        if shared_prompt:
            reason = shared_prefix.unsupported_reason(self.model, self.accelerator)
            if reason:
                print(f"[rl-reasoner] shared-prompt pass off: {reason}; using TRL's pass", flush=True)
            else:
                self.shared_prompt = True
                if self.args.gradient_checkpointing:
                    print("[rl-reasoner] shared-prompt pass: used for the no-gradient passes only (old/reference "
                          "log-probs); a checkpointed layer would write the prompt cache twice", flush=True)
                for model in (self.model, self.ref_model):
                    if model is not None:
                        shared_prefix.install(model)
                if not self.use_vllm and not self.use_transformers_continuous_batching:
                    shared_prefix.install_generate(self.model)
        self.sampling = sampling or SamplingConfig()
        self.last_completion_lengths: list[int] = []
        """Token count of each completion of the latest generations (the last ``generation_batch_size``, all
        processes), aligned with TRL's ``_logs``."""
        self.last_truncated: list[bool] = []
        """Whether each of those completions hit ``max_completion_length`` without EOS."""
        self.completion_tokens = 0
        """Completion tokens generated in training so far, all processes and rounds (dropped groups included)."""
        self.pass_rates = PassRateTracker(decay=self.sampling.pass_rate_decay)
        """Running pass rate per prompt key (kept while dynamic sampling or the curriculum is on)."""
        self.prompt_sampler: PromptSampler | None = None
        """Source of the prompts of extra rounds and of curriculum draws; ``None`` when both are off."""
        self._last_rewards: torch.Tensor | None = None
        if self.sampling.dynamic or self.sampling.curriculum:
            self._init_sampling(accuracy_reward_name)

    def _init_sampling(self, accuracy_reward_name: str | None) -> None:
        dataset = self.train_dataset
        if dataset is None or not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise ValueError("sampling.dynamic and sampling.curriculum need a map-style train dataset (with len and "
                             "indexing), not an iterable one")
        local_batch = self.args.per_device_train_batch_size * self.args.steps_per_generation
        if local_batch % self.num_generations:
            raise ValueError(
                f"sampling.dynamic and sampling.curriculum need whole groups on each process: "
                f"per_device_train_batch_size x steps_per_generation ({local_batch}) must be a multiple of "
                f"num_generations ({self.num_generations})")
        names = list(self.reward_func_names)
        accuracy_reward_name = accuracy_reward_name or names[0]
        if accuracy_reward_name not in names:
            raise ValueError(f"accuracy reward {accuracy_reward_name!r} is not among the rewards {names}")
        self._accuracy_index = names.index(accuracy_reward_name)
        if "id" in (getattr(dataset, "column_names", None) or ()):
            keys = [str(i) for i in dataset["id"]]  # one column read instead of a pass over the rows
        else:
            keys = [prompt_key(dataset[i]) for i in range(len(dataset))]
        if self.sampling.pass_rates:
            from rl_reasoner.curriculum import read_pass_rates

            rates, samples = read_pass_rates(self.sampling.pass_rates)
            known = set(keys) & set(rates)
            if not known:
                raise ValueError(f"{self.sampling.pass_rates}: none of its prompt ids is in this training set; was "
                                 f"it written for another task, seed or config?")
            self.pass_rates.seed({k: rates[k] for k in known}, samples)
        tracker = self.pass_rates if self.sampling.curriculum else None
        self.prompt_sampler = PromptSampler(keys, seed=self.args.seed, tracker=tracker,
                                            group_size=self.num_generations, min_weight=self.sampling.min_weight)

    # -- generation ---------------------------------------------------------------------------------------------

    def _generate_and_score_completions(self, inputs):
        if self.prompt_sampler is None or not self.model.training:
            return self._generate_round(inputs)
        size, processes = self.num_generations, self.accelerator.num_processes
        target = len(inputs) // size  # groups per process in a batch
        if self.sampling.curriculum:
            inputs = self._draw_inputs(target)
        outputs, rounds = [], []
        while True:
            outputs.append(self._generate_round(inputs))
            rounds.append(self._observe(inputs))
            missing = shortfall(rounds, processes, target) if self.sampling.dynamic else 0
            if missing == 0 or len(rounds) > self.sampling.max_extra_rounds:
                break
            inputs = self._draw_inputs(missing)
        for name, value in batch_stats(rounds, processes, target).items():
            self._metrics["train"][f"sampling/{name}"].append(value)
        # Every process computes every process's plan (all see all flags), so they agree on whether to merge: the
        # token count below is a collective, and a process that skipped it would leave the others waiting forever.
        plans = [plan_batch([split_by_process(flags, processes)[p] for flags in rounds], target)
                 for p in range(processes)]
        if all(plan == [(0, g) for g in range(target)] for plan in plans):
            return outputs[0]  # the first round as TRL made it, on every process
        plan = plans[self.accelerator.process_index]
        batch = merge_groups(outputs, plan, size, pad_token_id=self._tokenizer.pad_token_id)
        loss_mask = batch["completion_mask"] * batch["tool_mask"] if "tool_mask" in batch else batch["completion_mask"]
        batch["num_items_in_batch"] = self.accelerator.gather(loss_mask.sum()).sum()
        return batch

    def _generate_round(self, inputs):
        """TRL's generation and scoring of one batch, plus the record of completion lengths and token counts."""
        output = super()._generate_and_score_completions(inputs)
        mask = output["completion_mask"]
        ids = output["completion_ids"]
        eos = torch.tensor(self.eos_token_ids, device=ids.device)
        lengths = mask.sum(dim=1)
        truncated = ~(torch.isin(ids, eos) & mask.bool()).any(dim=1)
        gathered = self.accelerator.gather(torch.stack([lengths, truncated.long()], dim=1))
        keep = self.args.generation_batch_size
        self.last_completion_lengths = (self.last_completion_lengths + gathered[:, 0].tolist())[-keep:]
        self.last_truncated = (self.last_truncated + gathered[:, 1].bool().tolist())[-keep:]
        if self.model.training:
            self.completion_tokens += int(gathered[:, 0].sum())
            self._metrics["train"]["sampling/completion_tokens"] = [self.completion_tokens]
        return output

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._last_rewards = rewards  # all processes' rewards, process order: what the group decisions read
        return rewards

    def _observe(self, inputs) -> list[bool]:
        """Update the pass rates from the round just scored; return its informative flags (all processes' groups)."""
        size = self.num_generations
        rewards = self._last_rewards
        keys = gather_object([prompt_key(row) for row in inputs[::size]])
        passing = rewards[:, self._accuracy_index]
        for g, key in enumerate(keys):
            counts = tally(passing[g * size:(g + 1) * size].tolist())  # undecided (NaN) answers are left out
            self.pass_rates.update(key, passed=counts.correct, scored=counts.decided)
        return informative_groups(total_rewards(rewards, self.reward_weights), size)

    def _draw_inputs(self, groups: int) -> list[dict]:
        """The rows for ``groups`` fresh groups on this process (drawn identically on every process)."""
        processes, rank = self.accelerator.num_processes, self.accelerator.process_index
        drawn = self.prompt_sampler.draw(groups * processes)
        if self.sampling.curriculum:
            rates = [r for r in (self.pass_rates.rate(self.prompt_sampler.keys[i]) for i in drawn) if r is not None]
            if rates:
                self._metrics["train"]["sampling/drawn_pass_rate"].append(sum(rates) / len(rates))
            self._metrics["train"]["sampling/prompts_tracked"] = [float(len(self.pass_rates))]
        rows = []
        for index in drawn[rank * groups:(rank + 1) * groups]:
            row = self.train_dataset[index]
            rows += [dict(row) for _ in range(self.num_generations)]
        return rows

    # -- the training pass --------------------------------------------------------------------------------------

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None,
                                           compute_entropy=False, compute_aux_loss=False, **extra):
        """TRL's per-token log-probs and entropies; with the shared-prompt pass, each distinct prompt runs once."""
        checkpointing = self.args.gradient_checkpointing and torch.is_grad_enabled()
        if (not self.shared_prompt or compute_aux_loss or checkpointing
                or any(value is not None for value in extra.values())):
            return super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, batch_size=batch_size,
                compute_entropy=compute_entropy, compute_aux_loss=compute_aux_loss, **extra)
        self.shared_prompt_passes += 1
        batch_size = batch_size or input_ids.size(0)
        prompt_length = input_ids.size(1) - logits_to_keep
        logps, entropies = [], []
        for start in range(0, input_ids.size(0), batch_size):  # TRL's chunks, to keep its memory peak
            ids, mask = input_ids[start:start + batch_size], attention_mask[start:start + batch_size]
            labels = ids.masked_fill(mask == 0, -100)  # only the completion tokens are scored, as in TRL
            labels[:, :-logits_to_keep] = -100
            with self.accelerator.autocast():
                outputs = model(input_ids=ids, attention_mask=mask, labels=labels, shared_prompt_length=prompt_length)
            logps.append(outputs.log_probs[:, -logits_to_keep:])
            if compute_entropy:
                entropies.append(outputs.entropy[:, -logits_to_keep:])
        return torch.cat(logps), torch.cat(entropies) if compute_entropy else None, None

    # -- checkpoints --------------------------------------------------------------------------------------------

    def sampling_state(self) -> dict:
        """What a resumed run needs to sample as an uninterrupted one would."""
        return {"completion_tokens": self.completion_tokens, "pass_rates": self.pass_rates.state_dict(),
                "prompt_sampler": self.prompt_sampler.state_dict() if self.prompt_sampler else None}

    def load_sampling_state(self, state: dict) -> None:
        self.completion_tokens = state["completion_tokens"]
        self.pass_rates.load_state_dict(state["pass_rates"])
        if self.prompt_sampler is not None and state["prompt_sampler"] is not None:
            self.prompt_sampler.load_state_dict(state["prompt_sampler"])

    base_model_name: str | None = None
    """The job's ``model.name``, named as the base model in the checkpoints' model card."""

    def create_model_card(self, *args, **kwargs):
        """TRL's card, naming the base model: TRL writes "fine-tuned version of None" for a local directory."""
        super().create_model_card(*args, **kwargs)
        card = Path(self.args.output_dir) / "README.md"
        if self.base_model_name and self.is_world_process_zero() and card.is_file():
            text = card.read_text(encoding="utf-8")
            card.write_text(text.replace("[None](https://huggingface.co/None)", f"`{self.base_model_name}`"),
                            encoding="utf-8")

    def _save_checkpoint(self, model, trial):
        # Written before TRL writes trainer_state.json, the file that marks a checkpoint complete: a job killed
        # in between leaves an incomplete checkpoint, never a "complete" one without its sampling state.
        if self.args.should_save:
            folder = Path(self._get_output_dir(trial=trial)) / f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
            folder.mkdir(parents=True, exist_ok=True)
            partial = folder / f"{SAMPLING_STATE}.tmp"
            partial.write_text(json.dumps(self.sampling_state()))
            os.replace(partial, folder / SAMPLING_STATE)
        super()._save_checkpoint(model, trial)

    def _load_optimizer_and_scheduler(self, checkpoint):
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is not None and os.path.isfile(os.path.join(checkpoint, SAMPLING_STATE)):
            self.load_sampling_state(json.loads(Path(checkpoint, SAMPLING_STATE).read_text()))
