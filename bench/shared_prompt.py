"""The shared-prompt pass against TRL's, on the default job's real batch shape, interleaved.

One batch as the default job trains on it (SmolLM2-135M, 2 R1-Zero prompts x 8 completions, ``--completion-length``
completion tokens), then, ``--repeats`` times in turns:

* the training pass: log-probs + entropies, the GRPO loss's backward (TRL's ``_get_per_token_logps_and_entropies``
  vs ``ReasonerTrainer``'s shared-prompt version of it; the loss formula itself is TRL's in both);
* the generation: HF ``generate`` of the 16 rows (plain vs each prompt prefilled once).

It is the part of a step that ``model.shared_prompt`` changes, timed without the rest (rewards, optimiser, logging),
so that a busy machine can still resolve it in minutes. ``bench/step_overhead.py`` times whole steps.

    python bench/shared_prompt.py                 # 3 repeats, 40 completion tokens
    python bench/shared_prompt.py --completion-length 20 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Batch:
    """One batch of the default job, as its trainer trains on it (left-padded prompts, random completions)."""

    trainer: object
    config: object
    job: object
    tokenizer: object
    groups: int
    size: int
    length: int
    width: int
    prompt_ids: object
    prompt_mask: object
    input_ids: object
    mask: object
    advantages: object

    def timed_pass(self, method, input_ids=None, mask=None, length=None) -> float:
        """Seconds of one training pass with ``method`` (a ``_get_per_token_logps_and_entropies``): log-probs and
        entropies, then the GRPO loss's backward, on this batch or on ``input_ids``/``mask``/``length`` instead."""
        import torch

        input_ids = self.input_ids if input_ids is None else input_ids
        mask = self.mask if mask is None else mask
        length = self.length if length is None else length
        model = self.trainer.model
        model.zero_grad()
        start = time.perf_counter()
        logps, _, _ = method(self.trainer, model, input_ids, mask, length, compute_entropy=True)
        ratio = torch.exp(logps - logps.detach())
        completion_mask = mask[:, -length:]
        (-(ratio * self.advantages * completion_mask).sum() / completion_mask.sum()).backward()
        return time.perf_counter() - start


def default_batch(completion_length: int, groups: int = 2) -> Batch:
    """The default job's trainer and a batch of ``groups`` prompts x its group size, ``completion_length`` tokens."""
    import torch

    from rl_reasoner.config import load_config
    from rl_reasoner.job import grpo_args, prepare
    from rl_reasoner.train import build_trainer

    config = load_config(str(REPO / "configs/default.yaml"), ["run.output_dir=/tmp/shared-prompt-bench"])
    job = prepare(config)
    trainer = build_trainer(config, job, args=grpo_args(config, job))
    assert trainer.shared_prompt, "the shared-prompt pass is off for this model"
    tokenizer = job.tokenizer
    size = trainer.num_generations
    prompts = [tokenizer(row["prompt"], add_special_tokens=False)["input_ids"] for row in job.train_rows[:groups]]
    width = max(map(len, prompts))
    prompt_ids = torch.full((groups * size, width), tokenizer.pad_token_id)
    prompt_mask = torch.zeros_like(prompt_ids)
    for r in range(groups * size):
        ids = prompts[r // size]
        prompt_ids[r, width - len(ids):], prompt_mask[r, width - len(ids):] = torch.tensor(ids), 1
    generator = torch.Generator().manual_seed(0)
    completion_ids = torch.randint(0, len(tokenizer), (groups * size, completion_length), generator=generator)
    mask = torch.cat([prompt_mask, torch.ones_like(completion_ids)], 1)
    return Batch(trainer, config, job, tokenizer, groups, size, completion_length, width, prompt_ids, prompt_mask,
                 torch.cat([prompt_ids, completion_ids], 1), mask, torch.randn(groups * size, 1, generator=generator))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--completion-length", type=int, default=40)
    opts = parser.parse_args()

    import torch
    from transformers import GenerationConfig
    from trl import GRPOTrainer

    from rl_reasoner import shared_prefix
    from rl_reasoner.model import load_model
    from rl_reasoner.trainer import ReasonerTrainer

    batch = default_batch(opts.completion_length)
    trainer, config, job, tokenizer = batch.trainer, batch.config, batch.job, batch.tokenizer
    groups, size, length, width = batch.groups, batch.size, batch.length, batch.width
    prompt_ids, prompt_mask = batch.prompt_ids, batch.prompt_mask

    plain_model = load_model(job.model_path, config.model)
    shared_model = trainer.model
    config_gen = GenerationConfig(max_new_tokens=length, min_new_tokens=length, do_sample=True, temperature=0.7,
                                  pad_token_id=tokenizer.pad_token_id)

    def generate(m):
        start = time.perf_counter()
        with torch.no_grad():
            m.generate(input_ids=prompt_ids, attention_mask=prompt_mask, generation_config=config_gen)
        return time.perf_counter() - start

    shared_prefix.install_generate(shared_model)
    times = {k: [] for k in ("pass: TRL", "pass: shared", "generate: plain", "generate: shared prefill")}
    for r in range(opts.repeats):
        order = ["TRL", "shared"] if r % 2 == 0 else ["shared", "TRL"]
        for side in order:
            method = (GRPOTrainer if side == "TRL" else ReasonerTrainer)._get_per_token_logps_and_entropies
            times[f"pass: {side}"].append(batch.timed_pass(method))
            gen_key, gen_model = (("generate: plain", plain_model) if side == "TRL"
                                  else ("generate: shared prefill", shared_model))
            times[gen_key].append(generate(gen_model))
        print(f"[shared_prompt] repeat {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()),
              flush=True)
    print(f"\n{groups} prompts x {size} completions, prompt {width} tokens, completion {length} tokens; "
          f"torch threads {torch.get_num_threads()}, 1-minute load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for key, values in times.items():
        print(f"  {key:26s} median {statistics.median(values):6.2f} s   min {min(values):6.2f}   "
              f"max {max(values):6.2f}   n={len(values)}")
    for what, a, b in (("pass", "pass: shared", "pass: TRL"), ("generate", "generate: shared prefill",
                                                                  "generate: plain")):
        print(f"  {what}: shared / plain = {statistics.median(times[a]) / statistics.median(times[b]):.2f}")


if __name__ == "__main__":
    main()
