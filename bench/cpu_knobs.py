"""CPU settings that could make the default job's step cheaper, each measured on the step's two large parts.

The two parts (``bench/step_profile.py``: with the shared-prompt pass, generation's decode and the training pass's
forward + backward are ~90% of a default step) on the default job's real batch (SmolLM2-135M, 2 R1-Zero prompts x 8
completions of ``--completion-length`` tokens, ``bench/shared_prompt.py``'s batch):

* **torch threads** (``torch.set_num_threads``): each count in ``--threads``, in turns;
* **torch.compile** of the model (inductor, ``dynamic=True``: completion lengths change every step) for the training
  pass: the first call (compilation), the next calls (steady state), and a call at another completion length
  (a recompilation, as every step of a real job would risk), against eager on the same batch.

    python bench/cpu_knobs.py                         # threads 1 and 2, then compile; 3 repeats
    python bench/cpu_knobs.py --threads 1 2 --repeats 5 --no-compile

Measure alone on the machine: anything else running changes what thread counts win.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from shared_prompt import default_batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--completion-length", type=int, default=40)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile measurement")
    opts = parser.parse_args()

    import torch
    from transformers import GenerationConfig

    from rl_reasoner.trainer import ReasonerTrainer

    batch = default_batch(opts.completion_length)
    model = batch.trainer.model
    generation = GenerationConfig(max_new_tokens=batch.length, min_new_tokens=batch.length, do_sample=True,
                                  temperature=0.7, pad_token_id=batch.tokenizer.pad_token_id)

    def train_pass(input_ids=None, mask=None, length=None):
        return batch.timed_pass(ReasonerTrainer._get_per_token_logps_and_entropies, input_ids, mask, length)

    def generate():
        start = time.perf_counter()
        with torch.no_grad():
            model.generate(input_ids=batch.prompt_ids, attention_mask=batch.prompt_mask, generation_config=generation)
        return time.perf_counter() - start

    print(f"[cpu_knobs] {batch.groups} prompts x {batch.size} completions, prompt {batch.width} tokens, completion "
          f"{batch.length} tokens; {os.cpu_count()} cores, torch {torch.__version__}, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}", flush=True)
    times: dict[str, list[float]] = {}
    for repeat in range(opts.repeats):
        for threads in opts.threads if repeat % 2 == 0 else opts.threads[::-1]:
            torch.set_num_threads(threads)
            times.setdefault(f"pass, {threads} threads", []).append(train_pass())
            times.setdefault(f"generate, {threads} threads", []).append(generate())
        print(f"[cpu_knobs] threads, repeat {repeat + 1}: "
              + ", ".join(f"{key} {values[-1]:.2f} s" for key, values in times.items()), flush=True)
    torch.set_num_threads(min(opts.threads, key=lambda t: statistics.median(times[f"pass, {t} threads"])))

    if not opts.no_compile:
        eager = [train_pass() for _ in range(opts.repeats)]
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        eager_decoder = base.base_model.forward
        base.base_model.forward = torch.compile(eager_decoder, dynamic=True)
        first = train_pass()
        print(f"[cpu_knobs] compile: first call {first:.1f} s", flush=True)
        compiled = [train_pass() for _ in range(opts.repeats)]
        other = batch.length + 7
        ids = torch.cat([batch.input_ids, batch.input_ids[:, -7:]], 1)
        mask = torch.cat([batch.mask, batch.mask[:, -7:]], 1)
        other_first = train_pass(ids, mask, other)
        other_next = train_pass(ids, mask, other)
        base.base_model.forward = eager_decoder
        times["pass, eager"] = eager
        times["pass, compiled (steady)"] = compiled
        print(f"[cpu_knobs] compile: {other} completion tokens, first call {other_first:.1f} s, "
              f"next {other_next:.2f} s (threads {torch.get_num_threads()})", flush=True)

    print(f"\n1-minute load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for key, values in times.items():
        print(f"  {key:26s} median {statistics.median(values):6.2f} s   min {min(values):6.2f}   "
              f"max {max(values):6.2f}   n={len(values)}")


if __name__ == "__main__":
    main()
