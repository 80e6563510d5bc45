"""Peak memory of a short training job for each memory option of the config.

Each option is the same job (``--config``, by default the embedded default on 1 step of 8 completions of 64
tokens) with a few ``--set`` overrides, run by ``rl_reasoner.train.train`` in its own process, because peak memory
is a per-process high-water mark. A process reports

* on a GPU: ``torch.cuda.max_memory_allocated()`` (what the options change) and its peak RSS;
* on CPU: its peak resident set size (``getrusage``), and that peak minus the RSS after importing torch,
  transformers and TRL (the part the job itself adds: weights, optimiser, activations, reference model).

Usage::

    python bench/memory_options.py                                   # CPU, embedded SmolLM2-135M
    python bench/memory_options.py --model Qwen/Qwen2.5-0.5B --completion-length 512   # on a GPU

The figures are quoted in docs/scaling.md with the command that produced them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

LORA = "model.lora={r: 16, lora_alpha: 32, target_modules: all-linear}"

OPTIONS: dict[str, list[str]] = {
    "full fine-tune, fp32 weights": ["model.dtype=float32"],
    "+ gradient checkpointing": ["model.dtype=float32", "grpo.gradient_checkpointing=true"],
    "bf16 weights + bf16 autocast": ["model.dtype=bfloat16", "grpo.bf16=true"],
    "LoRA r=16 (all linear layers)": ["model.dtype=float32", LORA],
    "beta=0.04 (adds the reference model)": ["model.dtype=float32", "grpo.beta=0.04"],
    "beta=0.04 + LoRA (reference = adapter off)": ["model.dtype=float32", "grpo.beta=0.04", LORA],
    "LoRA + checkpointing + bf16": ["model.dtype=bfloat16", "grpo.bf16=true", "grpo.gradient_checkpointing=true", LORA],
}
"""Option name → config overrides on top of the common ones (gradient checkpointing off and beta 0 unless named)."""


MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_ARENA_MAX": "2"}
"""glibc settings for the measured processes: blocks of 64 KiB and more (every tensor that matters) are mapped and
unmapped on their own, so freed memory leaves the resident set at once and the peak RSS follows the peak of live
memory. With glibc's defaults the peak also depends on heap fragmentation: the same job measured 3.4 to 5.7 GiB."""


def common_overrides(args, output_dir: str) -> list[str]:
    """The job every option shares: short, no probes, a 4-example evaluation at the end only."""
    return [
        f"run.output_dir={output_dir}", f"run.steps={args.steps}", "grpo.beta=0.0",
        "grpo.gradient_checkpointing=false", "grpo.save_steps=1000", "grpo.logging_steps=1",
        f"grpo.num_generations={args.generations}", f"grpo.per_device_train_batch_size={args.generations}",
        f"grpo.max_completion_length={args.completion_length}",
        "eval.at_start=false", "eval.num_examples=4", "behaviour.num_probes=0",
        *([f"model.name={args.model}"] if args.model else []),
    ]


def rss_kb() -> int:
    """Current resident set size in KiB (Linux /proc; 0 where unavailable)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def child(config: str, overrides: list[str]) -> None:
    """Run one job in this process and print its memory figures as one JSON line."""
    import torch
    import transformers  # noqa: F401
    import trl  # noqa: F401

    from rl_reasoner.config import load_config
    from rl_reasoner.train import train

    after_imports = rss_kb()
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    if not cuda and any(o.startswith("grpo.bf16=true") for o in overrides):
        overrides = [*overrides, "grpo.use_cpu=true"]  # transformers asks for it before bf16 on CPU
    started = time.time()
    train(load_config(config, overrides))
    print("RESULT " + json.dumps({
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "after_imports_mb": after_imports / 1024,
        "cuda_peak_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "seconds": time.time() - started,
    }), flush=True)


def measure(args, name: str, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as out:
        overrides = [*common_overrides(args, out), *extra, "run.name=memory"]
        sets = [arg for override in overrides for arg in ("--set", override)]
        cmd = [sys.executable, __file__, "--child", "--config", args.config, *sets]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               **MALLOC_ENV}
        done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    results = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not results:
        raise SystemExit(f"{name}: the job failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(results[-1].removeprefix("RESULT "))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(REPO / "configs" / "default.yaml"))
    parser.add_argument("--model", help="model.name override (hub id, local dir or embedded:<name>)")
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--generations", type=int, default=8, help="completions per step (one prompt)")
    parser.add_argument("--completion-length", type=int, default=64)
    parser.add_argument("--only", action="append", help="run only the options whose name contains this text")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--set", dest="overrides", action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.config, args.overrides)

    options = {n: o for n, o in OPTIONS.items() if not args.only or any(s in n for s in args.only)}
    print(f"# config {Path(args.config).name}, model {args.model or '(from the config)'}, {args.steps} step(s) of "
          f"{args.generations} completions x {args.completion_length} tokens\n")
    print("| option | peak GPU memory (MiB) | peak RSS (MiB) | RSS above imports (MiB) | time (s) |")
    print("|---|---:|---:|---:|---:|")
    device = None
    for name, extra in options.items():
        r = measure(args, name, extra)
        device = r["device"]
        gpu = f"{r['cuda_peak_mb']:.0f}" if r["cuda_peak_mb"] is not None else "-"
        print(f"| {name} | {gpu} | {r['peak_rss_mb']:.0f} | {r['peak_rss_mb'] - r['after_imports_mb']:.0f} | "
              f"{r['seconds']:.0f} |", flush=True)
    print(f"\ndevice: {device}; {time.strftime('%Y-%m-%d')}")


if __name__ == "__main__":
    main()
