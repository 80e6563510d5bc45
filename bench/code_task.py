"""Held-out pass rates of a model on a code task: pass@1 greedy, and pass@1 / pass@k from n > k samples.

Used to measure what a short GRPO run on `configs/code.yaml` teaches the embedded model (docs/sandbox.md):

    python bench/code_task.py configs/code.yaml                      # the untrained model
    python bench/code_task.py configs/code.yaml --model runs/<run>/final

Each held-out problem gets one greedy completion and `--samples` completions at the config's eval
temperature; pass@k is the unbiased estimator (Chen et al., 2021) from those n samples. Also printed: how
the sandbox ended the sampled programs (`reason/code_tests`: timeouts, crashes, ...).
"""

import argparse
import json
import sys
from collections import Counter


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="a job file (its task, template, reward and eval settings)")
    parser.add_argument("--model", default=None, help="model path (default: the config's model.name)")
    parser.add_argument("--samples", type=int, default=8, help="n: sampled completions per problem")
    parser.add_argument("--k", type=int, nargs="+", default=[1, 4], help="pass@k reported from the n samples")
    parser.add_argument("--limit", type=int, default=None, help="only the first N held-out problems")
    args = parser.parse_args(argv)
    if any(k > args.samples for k in args.k):
        parser.error(f"every --k must be at most --samples ({args.samples})")

    from rewards import code_tests
    from rl_reasoner.config import load_config
    from rl_reasoner.evaluate import generate, pass_at_k
    from rl_reasoner.model import load_model
    from rl_reasoner.job import prepare

    config = load_config(args.config, [])
    job = prepare(config)
    rows = job.eval_rows[: args.limit or config.eval.num_examples or None]
    model = load_model(args.model or job.model_path, config.model)
    prompts = [row["prompt"] for row in rows]
    columns = lambda rs: {"tests": [r["tests"] for r in rs], "entry_point": [r["entry_point"] for r in rs]}  # noqa: E731

    print(f"[code_task] {args.model or job.model_path}: {len(rows)} held-out problems, greedy + {args.samples} samples")
    greedy = [g.text for g in generate(model, job.tokenizer, prompts, max_new_tokens=job.max_new_tokens,
                                       batch_size=config.eval.batch_size)]
    greedy_ok = [r == 1.0 for r in code_tests(greedy, **columns(rows))]
    sampled = [g.text for g in generate(model, job.tokenizer, prompts, max_new_tokens=job.max_new_tokens,
                                        do_sample=True, temperature=config.eval.temperature,
                                        num_return_sequences=args.samples,
                                        batch_size=max(1, config.eval.batch_size // args.samples))]
    sampled_rows = [row for row in rows for _ in range(args.samples)]
    reasons: dict[str, list] = {}
    scores = code_tests(sampled, **columns(sampled_rows), log_extra=lambda name, values: reasons.setdefault(name, values))
    correct = [sum(s == 1.0 for s in scores[i * args.samples:(i + 1) * args.samples]) for i in range(len(rows))]
    figures = {"problems": len(rows), "samples": args.samples, "pass@1 greedy": sum(greedy_ok) / len(rows)}
    for k in args.k:
        figures[f"pass@{k} (n={args.samples})"] = sum(pass_at_k(args.samples, c, k) for c in correct) / len(rows)
    counts = Counter(reasons.get("reason/code_tests", []))
    figures["reasons"] = dict(counts.most_common())
    figures["timeout rate"] = counts["timeout"] / len(sampled)
    figures["crash rate"] = counts["sandbox:crashed"] / len(sampled)
    print(json.dumps(figures, indent=1))
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
