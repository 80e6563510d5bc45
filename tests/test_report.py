"""The report, `aha` and `inspect` on synthetic-but-realistic run directories (complete, damaged, empty, two runs)."""

import json
import random
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from rl_reasoner.behaviour import batch_metrics, marker_flags
from rl_reasoner.report import FIGURES, aha_examples, build_figure, format_aha, format_step, load_run, write_report

STEPS = 6
PROMPTS = {f"add-{i}": (f"What is {i} + {i + 3}?", str(2 * i + 3)) for i in range(4)}
PROBES = {f"probe-{i}": (f"What is {i} + 10?", str(i + 10)) for i in range(2)}


def _completion(step: int, prompt_id: str, answer: str) -> tuple[str, bool]:
    """A scripted completion: add-1 is wrong until it is solved with a re-check at step 4; add-2 is always right
    and reflects from step 2 on; add-0 and add-3 are right from step 3 on, without reflecting."""
    if prompt_id == "add-1":
        if step < 4:
            return f"<think>I guess.</think><answer>{int(answer) + 1}</answer>", False
        return f"<think>It is {answer}. Wait, let me recheck: yes, {answer}.</think><answer>{answer}</answer>", True
    if prompt_id == "add-2" and step >= 2:
        return f"<think>Alternatively, count up: {answer}.</think><answer>{answer}</answer>", True
    if prompt_id == "add-3" and step == 3:
        return "<think>" + f"{answer} is {answer}. " * 30, False  # a truncated loop
    return f"<think>Sum is {answer}.</think><answer>{answer}</answer>", step > 2 or prompt_id == "add-2"


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def make_run(root: Path, name: str, *, seed: int = 0) -> Path:
    """A run directory as the callback writes it: config, per-step metrics, samples with probes, evaluation."""
    rng = random.Random(seed)
    run = root / name
    run.mkdir(parents=True)
    config = {
        "model": {"name": "embedded:smollm2-135m"},
        "task": {"name": "arithmetic"},
        "run": {"name": name, "seed": seed},
        "behaviour": {"markers": {}},
        "meta": {"git_revision": "abc1234", "trl": "1.16", "seed": seed},
    }
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    metrics, samples, evals, eval_samples = [], [], [], []
    for step in range(STEPS + 1):
        if step % 3 == 0:  # probes and held-out evaluation at 0, 3, 6
            for prompt_id, (question, answer) in PROBES.items():
                text = f"<answer>{answer if step else '0'}</answer>" + (" Wait, check again." if step == 6 else "")
                samples.append(_sample(step, prompt_id, question, answer, text, step > 0, probe=True))
            for prompt_id, (question, answer) in PROMPTS.items():
                text, correct = _completion(step, prompt_id, answer)
                eval_samples.append(
                    {
                        "step": step,
                        "prompt_id": "eval-" + prompt_id,
                        "question": question,
                        "completion": text,
                        "correct": correct,
                        "answer": answer,
                    }
                )
            accuracy = sum(r["correct"] for r in eval_samples if r["step"] == step) / len(PROMPTS)
            evals += [
                {"step": step, "task": "arithmetic", "metric": "accuracy", "value": accuracy},
                {"step": step, "task": "arithmetic", "metric": "pass@4", "value": min(1.0, accuracy + 0.25)},
            ]
        if step == 0:
            continue
        batch = [
            (prompt_id, question, answer, *_completion(step, prompt_id, answer))
            for prompt_id, (question, answer) in PROMPTS.items()
        ]
        texts = [text for *_, text, _ in batch]
        correct = [ok for *_, ok in batch]
        lengths = [len(text.split()) * 2 for text in texts]
        truncated = [not text.endswith("</answer>") for text in texts]
        for (prompt_id, question, answer, text, ok), n, cut in zip(batch, lengths, truncated):
            samples.append(_sample(step, prompt_id, question, answer, text, ok, num_tokens=n, truncated=cut))
        reward = sum(correct) / len(correct) + rng.uniform(0, 0.1)
        metrics.append(
            {
                "step": step,
                "time": 17.0 * step,
                "reward": reward,
                "reward_std": 0.3,
                "rewards/math_accuracy/mean": sum(correct) / len(correct),
                "rewards/format_reward/mean": 0.5 + step / 20,
                "completions/mean_length": sum(lengths) / len(lengths),
                "completions/clipped_ratio": sum(truncated) / 4,
                "kl": 0.001 * step,
                "entropy": 1.5 - 0.1 * step,
                "learning_rate": 3e-5,
                **batch_metrics(
                    texts,
                    num_tokens=lengths,
                    truncated=truncated,
                    correct=correct,
                    formatted=[not cut for cut in truncated],
                    prompts=[q for _, q, *_ in batch],
                ),
            }
        )
    _write_jsonl(run / "metrics.jsonl", metrics)
    _write_jsonl(run / "samples.jsonl", samples)
    _write_jsonl(run / "eval.jsonl", evals)
    _write_jsonl(run / "eval_samples.jsonl", eval_samples)
    return run


def _sample(step, prompt_id, question, answer, text, correct, *, probe=False, num_tokens=12, truncated=False):
    return {
        "step": step,
        "prompt_id": prompt_id,
        "prompt": f"<|user|>{question}<|assistant|><think>",
        "completion": text,
        "answer": answer,
        "rewards": {"math_accuracy": float(correct), "format_reward": 0.5},
        "reasons": {"math_accuracy": "matches gold" if correct else "no match"},
        "flags": marker_flags(text),
        "num_tokens": num_tokens,
        "truncated": truncated,
        "correct": correct,
        "probe": probe,
    }


class _References(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "a" and "href" in attrs:
            self.links.append(attrs["href"])


def _references(index: Path) -> _References:
    parser = _References()
    parser.feed(index.read_text(encoding="utf-8"))
    return parser


def _assert_references_exist(index: Path) -> _References:
    refs = _references(index)
    for target in refs.images + refs.links:
        assert (index.parent / target).is_file(), f"{index} references {target}, which does not exist"
    for image in refs.images:
        assert (index.parent / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", image
    return refs


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("runs"), "r1-zero-add")


@pytest.fixture(scope="module")
def full_report(full_run) -> Path:
    return write_report([full_run])


def test_report_of_a_complete_run_draws_every_plot_and_references_only_existing_files(full_run, full_report):
    assert full_report == full_run / "report" / "index.html"
    refs = _assert_references_exist(full_report)
    assert sorted(refs.images) == sorted(spec.file_name for spec in FIGURES)
    assert {"../metrics.jsonl", "../samples.jsonl", "../eval.jsonl", "../config.yaml"} <= set(refs.links)
    page = full_report.read_text(encoding="utf-8")
    assert "no data yet" not in page
    assert "embedded:smollm2-135m" in page and "abc1234" in page


def test_before_after_table_shows_first_and_last_values(full_report):
    page = full_report.read_text(encoding="utf-8")
    row = next(line for line in page.splitlines() if line.startswith("<tr><td>held-out arithmetic accuracy</td>"))
    assert "@0" in row and "@6" in row
    first = sum(_completion(0, p, a)[1] for p, (_, a) in PROMPTS.items()) / 4
    last = sum(_completion(6, p, a)[1] for p, (_, a) in PROMPTS.items()) / 4
    assert (first, last) == (0.25, 1.0)
    assert f"{first:.3g} <small>@0" in row and f"{last:.3g} <small>@6" in row
    assert f"{last - first:+.3g}" in row


def test_probe_answers_are_shown_at_start_middle_and_end(full_report):
    page = full_report.read_text(encoding="utf-8")
    probes = page[page.index("Probe prompts") : page.index("Aha examples")]
    assert "<th>step 0</th><th>step 3</th><th>step 6</th>" in probes
    assert "probe-0" in probes and "probe-1" in probes


def test_model_text_is_escaped(tmp_path):
    run = make_run(tmp_path, "escape")
    with open(run / "samples.jsonl", "a", encoding="utf-8") as handle:
        handle.write(
            json.dumps(
                _sample(
                    6,
                    "probe-0",
                    "<script>alert(1)</script>",
                    "10",
                    "Wait, <script>alert(2)</script> 10",
                    True,
                    probe=True,
                )
            )
            + "\n"
        )
    page = write_report([run]).read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page


def test_damaged_run_torn_lines_and_missing_eval_give_notes_not_a_traceback(tmp_path):
    run = make_run(tmp_path, "killed")
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["behaviour"]["markers"] = {"Not A Category": ["hmm"]}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    (run / "eval.jsonl").unlink()
    (run / "eval_samples.jsonl").write_text("")
    with open(run / "metrics.jsonl", "a") as handle:
        handle.write('{"step": 7, "reward": 0.9, "kl"')  # the job was killed mid-write
    with open(run / "samples.jsonl", "a") as handle:
        handle.write('{"step": 7, "prompt_id": "add-0", "compl')
    index = write_report([run])
    refs = _assert_references_exist(index)
    page = index.read_text(encoding="utf-8")
    assert "no data yet: eval.jsonl missing" in page
    assert "no data yet: eval_samples.jsonl empty" in page
    assert "no data yet: Held-out accuracy: eval.jsonl" in page
    assert "heldout.png" not in refs.images and "reward.png" in refs.images
    assert "../eval.jsonl" not in refs.links
    assert "last step 6" in page  # the torn step 7 is skipped
    assert "behaviour.markers ignored, the defaults are used instead" in page
    assert "<mark>Wait</mark>, let me <mark>recheck</mark>" in page  # aha still found with the default markers


def test_empty_and_config_less_run_dirs_are_reported_as_missing(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "metrics.jsonl").write_text("")
    index = write_report([empty])
    _assert_references_exist(index)
    page = index.read_text(encoding="utf-8")
    for note in ("config.yaml missing", "metrics.jsonl empty", "samples.jsonl missing", "eval.jsonl missing"):
        assert "no data yet: " + note in page
    assert _references(index).images == []
    assert "no correct completion with a reflection marker yet" in page


def test_a_missing_run_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_report([tmp_path / "nope"])


def test_two_runs_are_drawn_on_the_same_axes(tmp_path):
    first, second = make_run(tmp_path, "lr-1e-5", seed=1), make_run(tmp_path, "lr-3e-5", seed=2)
    out = tmp_path / "comparison"
    index = write_report([first, second], out)
    assert index == out / "index.html"
    refs = _assert_references_exist(index)
    assert "../lr-1e-5/metrics.jsonl" in refs.links and "../lr-3e-5/metrics.jsonl" in refs.links
    figure = build_figure(FIGURES[0], [load_run(first), load_run(second)])
    total_reward = figure.axes[0]
    labels = [line.get_label() for line in total_reward.get_lines()]
    assert labels == ["lr-1e-5: reward", "lr-3e-5: reward"]
    colours = {line.get_color() for line in total_reward.get_lines()}
    assert len(colours) == 2


def test_aha_picks_the_earliest_correct_reflective_completion_on_a_prompt_wrong_earlier(full_run):
    examples = aha_examples(full_run)
    first = examples[0]
    # add-1 is answered wrongly at steps 1-3 in training, and by eval-add-1 at steps 0 and 3 in evaluation.
    assert (first["prompt_id"], first["step"], first["source"], first["wrong_at"]) == ("add-1", 4, "train", 1)
    assert first["markers"] == ["Wait", "recheck"]
    by_prompt = {e["prompt_id"]: e for e in examples}
    assert by_prompt["eval-add-1"]["step"] == 6 and by_prompt["eval-add-1"]["wrong_at"] == 0
    assert by_prompt["probe-0"]["wrong_at"] == 0  # probes were wrong at step 0, reflect and are right at 6
    # add-2 reflects ("Alternatively") from step 2 but was never wrong before: ranked after the recoveries.
    assert by_prompt["add-2"]["wrong_at"] is None and by_prompt["add-2"]["step"] == 2
    assert examples.index(by_prompt["add-2"]) > examples.index(by_prompt["probe-0"])
    assert all(e["prompt_id"] != "add-0" for e in examples)  # correct, but never reflects
    assert len(aha_examples(full_run, limit=2)) == 2


def test_format_aha_is_readable_in_a_terminal(full_run):
    text = format_aha(aha_examples(full_run, limit=1))
    assert "aha 1/1 · step 4 · train · prompt add-1 · wrong at step 1" in text
    assert "markers:  Wait, recheck" in text
    assert "Wait, let me recheck" in text


def test_inspect_shows_a_recorded_step(full_run):
    text = format_step(full_run, 3)
    assert text.count("── sample") == 4 and text.count("── probe") == 2 and text.count("── held-out") == 4
    assert "prompt add-1 · wrong" in text
    assert "rewards:  math_accuracy 0 (no match), format_reward 0.5" in text
    assert "metrics: reward" in text
    assert "What is 1 + 4?" in text


def test_inspect_of_an_unrecorded_step_lists_the_recorded_ones(full_run):
    text = format_step(full_run, 42)
    assert "step 42 was not recorded" in text
    assert "steps with samples: 0-6" in text
    assert "steps with held-out completions: 0, 3, 6" in text
