"""GRPO throughput on a GPU: rollout tokens/s, training tokens/s, step time, peak memory and MFU.

The model is randomly initialised from the architecture of a real one (Qwen2.5-0.5B / 1.5B / 3B), so nothing is
downloaded: the arithmetic per token is the real model's, the answers are noise. Every prompt has the same length
and every completion is forced to the same length (EOS is suppressed until ``--completion-length``), so runs are
comparable across machines and versions. The trainer is TRL's ``GRPOTrainer``, with the same generation path
(``transformers`` generate, or vLLM with ``--use-vllm``) and loss as a real job; the reward is random noise so
that the advantages are not zero.

Figures, averaged over the steps after the first (warm-up) step:

* rollout tokens/s: completion tokens / time in ``GRPOTrainer._generate`` (generation, and vLLM weight sync);
* training tokens/s: (prompt + completion) tokens / (step time - time generating and scoring);
* step time: one optimiser step, generation included;
* peak memory: ``torch.cuda.max_memory_allocated`` (peak RSS on CPU);
* MFU: model FLOPs per step / step time / the device's peak dense bf16 FLOP/s. Model FLOPs count 2N per generated
  token, 2N per token for each extra forward pass (old log-probs, reference model) and 6N per trained token, with N
  the parameter count (the tied embedding counted once, as the output projection); attention is not counted, so
  MFU is a slight underestimate at long lengths.

Usage::

    python bench/gpu_throughput.py --model qwen2.5-0.5b                  # one GPU, transformers generate
    python bench/gpu_throughput.py --model qwen2.5-1.5b --use-vllm       # vLLM colocated
    python bench/gpu_throughput.py --device cpu --smoke                  # tiny sizes on CPU (a test runs this)

Results go to docs/benchmarks.md with the device and date.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

QWEN25_COMMON = {"vocab_size": 151936, "tie_word_embeddings": True, "max_position_embeddings": 32768,
                 "rope_theta": 1_000_000.0, "rms_norm_eps": 1e-6, "hidden_act": "silu"}
"""Qwen2.5 settings shared by the sizes below (from the models' config.json)."""

ARCHITECTURES: dict[str, dict] = {
    "qwen2.5-0.5b": {**QWEN25_COMMON, "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
                     "num_attention_heads": 14, "num_key_value_heads": 2},
    "qwen2.5-1.5b": {**QWEN25_COMMON, "hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
                     "num_attention_heads": 12, "num_key_value_heads": 2},
    "qwen2.5-3b": {**QWEN25_COMMON, "hidden_size": 2048, "intermediate_size": 11008, "num_hidden_layers": 36,
                   "num_attention_heads": 16, "num_key_value_heads": 2},
    "smoke": {**QWEN25_COMMON, "vocab_size": 512, "hidden_size": 64, "intermediate_size": 128,
              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2},
}
"""Architecture name → ``transformers.Qwen2Config`` fields (Qwen2.5-Math-1.5B has the 1.5B architecture)."""

PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 125.0, "L4": 121.0}
"""Dense bf16 peak by device-name fragment (SXM parts; an H100 PCIe is 756). ``--peak-tflops`` overrides it."""


@dataclass
class Timings:
    """Seconds per optimiser step and per phase, one entry per step."""

    step: list[float] = field(default_factory=list)
    generate: list[float] = field(default_factory=list)
    generate_and_score: list[float] = field(default_factory=list)


def peak_tflops(device_name: str) -> float | None:
    """The dense bf16 peak of a device, from its name.

    >>> peak_tflops("NVIDIA H100 80GB HBM3"), peak_tflops("cpu")
    (989.0, None)
    """
    return next((tf for key, tf in PEAK_BF16_TFLOPS.items() if key in device_name), None)


def model_flops(params: int, prompt_tokens: int, completion_tokens: int, extra_forwards: int) -> float:
    """Model FLOPs of one GRPO step (see the module docstring).

    >>> model_flops(10, prompt_tokens=2, completion_tokens=3, extra_forwards=1)  # 2*10*3 + 2*10*5 + 6*10*5
    460.0
    """
    tokens = prompt_tokens + completion_tokens
    return float(2 * params * completion_tokens + 2 * params * tokens * extra_forwards + 6 * params * tokens)


def word_tokenizer(vocab_size: int, eos_id: int):
    """A tokenizer with one word per id (``t0 t1 ...``), so any sampled id decodes and prompts have exact lengths."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {f"t{i}": i for i in range(vocab_size)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="t0"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token=f"t{eos_id}", pad_token=f"t{eos_id}",
                                   unk_token="t0")


def random_model_dir(arch: str, dtype, path: Path) -> Path:
    """Save a randomly initialised model of architecture ``arch`` and its word tokenizer to ``path``.

    Load the tokenizer back with :func:`word_tokenizer`, not ``AutoTokenizer``: for a Qwen2 config the latter
    builds Qwen's byte-level tokenizer around the word vocabulary, which splits prompts into nothing.
    """
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    fields = ARCHITECTURES[arch]
    eos_id = fields["vocab_size"] - 1
    config = Qwen2Config(**fields, bos_token_id=None, eos_token_id=eos_id, pad_token_id=eos_id)
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = Qwen2ForCausalLM(config).to(dtype)
    model.save_pretrained(path)
    word_tokenizer(fields["vocab_size"], eos_id).save_pretrained(path)
    return path


def noise_reward(completions, **kwargs):
    """A random reward in [0, 1): the advantages are non-zero, so the backward pass does real work."""
    return [random.random() for _ in completions]


def run(args) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no GPU visible (use --device cpu --smoke for a CPU check)")
    dtype = torch.bfloat16 if cuda else torch.float32
    timings = Timings()

    class TimedTrainer(GRPOTrainer):
        def _generate(self, *a, **k):
            return _timed(timings.generate, super()._generate, *a, **k)

        def _generate_and_score_completions(self, *a, **k):
            return _timed(timings.generate_and_score, super()._generate_and_score_completions, *a, **k)

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *a, **k):
            _sync()
            self.started = time.perf_counter()

        def on_step_end(self, *a, **k):
            _sync()
            timings.step.append(time.perf_counter() - self.started)

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = random_model_dir(args.model, dtype, Path(tmp) / "model")
        vocab = ARCHITECTURES[args.model]["vocab_size"] - 1  # the last id is EOS
        tokenizer = word_tokenizer(vocab + 1, eos_id=vocab)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
        rng = random.Random(0)
        prompts = [" ".join(f"t{rng.randrange(1, vocab)}" for _ in range(args.prompt_length))
                   for _ in range(args.prompts * (args.steps + 1))]
        min_tokens = {"min_tokens" if args.use_vllm else "min_new_tokens": args.completion_length}
        config = GRPOConfig(
            output_dir=str(Path(tmp) / "out"), max_steps=args.steps, report_to="none", save_strategy="no",
            logging_strategy="no", disable_tqdm=True, seed=0, learning_rate=1e-6, beta=args.beta,
            num_generations=args.generations, per_device_train_batch_size=args.prompts * args.generations,
            max_completion_length=args.completion_length, generation_kwargs=min_tokens, temperature=1.0,
            gradient_checkpointing=args.gradient_checkpointing, bf16=cuda, use_cpu=not cuda,
            use_vllm=args.use_vllm, vllm_mode="colocate", vllm_gpu_memory_utilization=args.vllm_memory,
            vllm_max_model_length=args.prompt_length + args.completion_length,
        )
        trainer = TimedTrainer(model=model, processing_class=tokenizer, reward_funcs=noise_reward, args=config,
                               train_dataset=Dataset.from_dict({"prompt": prompts}), callbacks=[StepTimer()])
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        trainer.train()
        params = sum(p.numel() for p in trainer.accelerator.unwrap_model(trainer.model).parameters())
        extra_forwards = int(args.beta > 0) + int(trainer.args.num_iterations > 1 or args.use_vllm)
        device_name = torch.cuda.get_device_name() if cuda else "cpu"
        peak_memory = (torch.cuda.max_memory_allocated() if cuda
                       else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return summarise(args, timings, params, extra_forwards, device_name, peak_memory)


def summarise(args, timings: Timings, params: int, extra_forwards: int, device_name: str, peak_memory: int) -> dict:
    """Averages over the steps after the warm-up step (all steps when there is only one)."""
    def mean(values: list[float]) -> float:
        kept = values[1:] if len(values) > 1 else values
        return sum(kept) / len(kept)

    sequences = args.prompts * args.generations
    completion_tokens = sequences * args.completion_length
    prompt_tokens = sequences * args.prompt_length
    step, generate, scored = mean(timings.step), mean(timings.generate), mean(timings.generate_and_score)
    flops = model_flops(params, prompt_tokens, completion_tokens, extra_forwards)
    peak = args.peak_tflops or peak_tflops(device_name)
    return {
        "model": args.model, "device": device_name, "date": time.strftime("%Y-%m-%d"), "parameters": params,
        "generation": "vllm colocate" if args.use_vllm else "transformers",
        "sequences_per_step": sequences, "prompt_length": args.prompt_length,
        "completion_length": args.completion_length, "gradient_checkpointing": args.gradient_checkpointing,
        "beta": args.beta, "steps_timed": max(1, len(timings.step) - 1),
        "step_time_s": step,
        "rollout_tokens_per_s": completion_tokens / generate,
        "training_tokens_per_s": (prompt_tokens + completion_tokens) / max(step - scored, 1e-9),
        "peak_memory_gib": peak_memory / 2**30,
        "model_tflops_per_s": flops / step / 1e12,
        "mfu": flops / step / (peak * 1e12) if peak else None,
    }


def _timed(bucket: list[float], fn, *args, **kwargs):
    _sync()
    started = time.perf_counter()
    try:
        return fn(*args, **kwargs)
    finally:
        _sync()
        bucket.append(time.perf_counter() - started)


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(ARCHITECTURES), default="qwen2.5-0.5b")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--prompts", type=int, default=8, help="prompts per step")
    parser.add_argument("--generations", type=int, default=8, help="completions per prompt")
    parser.add_argument("--prompt-length", type=int, default=256)
    parser.add_argument("--completion-length", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=4, help="optimiser steps (the first is warm-up)")
    parser.add_argument("--beta", type=float, default=0.0, help="KL coefficient (> 0 adds a reference model)")
    parser.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--use-vllm", action="store_true", help="generate with vLLM, colocated")
    parser.add_argument("--vllm-memory", type=float, default=0.3, help="vllm_gpu_memory_utilization")
    parser.add_argument("--peak-tflops", type=float, help="device peak dense bf16 TFLOP/s, for MFU")
    parser.add_argument("--smoke", action="store_true", help="tiny model and sizes: checks that the bench runs")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.smoke:
        args.model, args.prompts, args.generations = "smoke", 2, 4
        args.prompt_length, args.completion_length, args.steps = 8, 8, 2
    result = run(args)
    for key, value in result.items():
        print(f"{key:>24}: {value:.4g}" if isinstance(value, float) else f"{key:>24}: {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
