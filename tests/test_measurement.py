"""Measurement: one verdict of correct, the evaluation's metrics and intervals, vLLM generation, config checks."""

import json

import pytest
import yaml

import rewards
import rewards.answers
from rl_reasoner import stats
from rl_reasoner.config import ConfigError, load_config
from rl_reasoner.evaluate import Generation, generate_vllm, pass_at_k, score_examples, summarize


def scripted(greedy: dict[str, str], sampled: dict[str, list[str]]):
    """A generate_fn answering each prompt with fixed text (greedy) or a fixed list of samples."""
    calls = []

    def generate_fn(prompts, *, do_sample, temperature, num_return_sequences):
        calls.append((len(prompts), do_sample, num_return_sequences))
        if not do_sample:
            return [Generation(greedy[p], 3, False, [1, 2, 3]) for p in prompts]
        out = []
        for p in prompts:
            texts = sampled[p]
            assert len(texts) == num_return_sequences
            out += [Generation(t, 2, False, [1, 2]) for t in texts]
        return out

    return generate_fn, calls


def test_scores_right_requiring_format_lenient_and_undecided_apart():
    rows = [{"id": "a", "prompt": "pa", "answer": "9"}, {"id": "b", "prompt": "pb", "answer": "4"},
            {"id": "c", "prompt": "pc", "answer": "7"}, {"id": "d", "prompt": "pd", "answer": None}]
    greedy = {"pa": "<think>3+6</think><answer>9</answer>",  # right, well formed
              "pb": "<answer> 2 + 2 = 4",  # answer block never closed: wrong, but the lenient reading finds 4
              "pc": "so 7",  # no answer the reward reads; the lenient reading finds 7
              "pd": "<think>x</think><answer>1</answer>"}  # gold unscorable: undecided
    accuracy = rewards.build({"name": "math_accuracy"})
    form = rewards.build({"name": "format_reward"})
    generate_fn, calls = scripted(greedy, {})
    records = score_examples(generate_fn, rows, accuracy_reward=accuracy, format_reward=form)
    assert [r["correct"] for r in records] == [True, False, False, None]
    assert [r["lenient"] for r in records] == [True, True, True, None]
    assert [r["formatted"] for r in records] == [True, False, False, True]
    metrics = summarize(records)
    assert metrics["accuracy"]["value"] == 0.25 and metrics["undecided"]["value"] == 0.25
    assert metrics["accuracy_formatted"]["value"] == 0.25
    assert metrics["accuracy_lenient"]["value"] == 0.75
    assert metrics["format"]["value"] == 0.5
    for m in metrics.values():  # every accuracy with its Wilson interval on the 4 examples
        assert m["n"] == 4 and m["ci_low"] <= m["value"] <= m["ci_high"]
        assert (m["ci_low"], m["ci_high"]) == pytest.approx(
            (stats.wilson(m["value"], 4).low, stats.wilson(m["value"], 4).high))
    assert calls == [(4, False, 1)]


def test_pass_at_k_uses_4k_samples_and_maj_votes_on_the_canonical_answer():
    rows = [{"id": "a", "prompt": "pa", "answer": "0.5"}, {"id": "b", "prompt": "pb", "answer": "3"}]
    sampled = {
        # 8 = 4k samples for k = 2: 2 right. Majority within each group of 2 by canonical answer: 1/2 = 0.5 = 0.50.
        "pa": ["<answer>1/2</answer>", "<answer>0.50</answer>", "<answer>1</answer>", "<answer>2</answer>",
               "<answer>7</answer>", "<answer>7</answer>", "no answer", "<answer>7</answer>"],
        "pb": ["<answer>3</answer>"] * 8,
    }
    generate_fn, calls = scripted({"pa": "x", "pb": "x"}, sampled)
    accuracy = rewards.build({"name": "math_accuracy"})
    records = score_examples(generate_fn, rows, accuracy_reward=accuracy, k=2)
    assert calls == [(2, False, 1), (2, True, 8)]
    assert [r["samples"] for r in records] == [8, 8]
    assert [r["sampled_correct"] for r in records] == [2, 8]
    # maj@2 over the 4 disjoint pairs of "pa": (1/2, 0.50) votes "1/2" -> right; the other pairs wrong.
    assert [r["maj"] for r in records] == [0.25, 1.0]
    metrics = summarize(records, k=2)
    assert metrics["pass@1"]["value"] == pytest.approx((2 / 8 + 1) / 2)
    assert metrics["pass@2"]["value"] == pytest.approx((pass_at_k(8, 2, 2) + 1) / 2)
    assert metrics["maj@2"]["value"] == pytest.approx(0.625)
    assert set(metrics) >= {"pass@1", "pass@2", "maj@2", "accuracy", "undecided"}


def test_a_reward_without_answers_gets_pass_at_k_but_no_maj_at_k():
    """A program judged by its tests has no answer to vote on: maj@k would read 0 for any model (it did, 0.000 on
    the code task's held-out split while pass@1 was 0.27), so it is not reported; pass@k is."""

    def passes(completions, **_):  # right when the text says "ok", as a test run would judge a program
        return [1.0 if c == "ok" else 0.0 for c in completions]

    passes.canonical_answer = None
    rows = [{"id": "a", "prompt": "pa", "answer": None}, {"id": "b", "prompt": "pb", "answer": None}]
    generate_fn, _ = scripted({"pa": "ok", "pb": "no"}, {"pa": ["ok", "no", "ok", "ok"], "pb": ["no"] * 4})
    records = score_examples(generate_fn, rows, accuracy_reward=passes, k=2, samples=4)
    assert [r["sampled_correct"] for r in records] == [3, 0] and all("maj" not in r for r in records)
    metrics = summarize(records, k=2)
    assert metrics["pass@1"]["value"] == pytest.approx(3 / 8) and "pass@2" in metrics
    assert not any(name.startswith("maj@") for name in metrics)
    built = rewards.build({"name": "code_tests"})  # what a job's evaluation gets
    assert not rewards.answers.has_answers(built) and rewards.answers.has_answers(rewards.build({"name": "math_accuracy"}))


def test_samples_setting_changes_n_and_pass_at_powers_of_two_up_to_k():
    rows = [{"id": "a", "prompt": "pa", "answer": "1"}]
    generate_fn, calls = scripted({"pa": "x"}, {"pa": ["<answer>1</answer>"] * 3 + ["<answer>2</answer>"] * 17})
    records = score_examples(generate_fn, rows, accuracy_reward=rewards.build("math_accuracy"), k=16, samples=20)
    metrics = summarize(records, k=16)
    assert calls[-1] == (1, True, 20)
    assert {f"pass@{j}" for j in (1, 2, 4, 8, 16)} <= set(metrics)
    assert metrics["pass@16"]["value"] == pytest.approx(pass_at_k(20, 3, 16))


def test_canonical_answers_honour_the_reward_params():
    plain = rewards.build("math_accuracy")
    fallback = rewards.build({"name": "math_accuracy", "params": {"fallback_last_number": True}})
    assert plain.canonical_answer("so it is 12") is None
    assert fallback.canonical_answer("so it is 12") == "12"
    assert fallback.canonical_answer("<answer>\\frac{1}{2}</answer>") == fallback.canonical_answer("<answer>0.5</answer>")
    count = rewards.build("countdown")
    row = {"numbers": [2, 6, 6], "target": 24}
    assert count.canonical_answer("<answer>(6 - 2) * 6</answer>", **row) == "24"
    assert count.canonical_answer("<answer>6 * (6 - 2)</answer>", **row) == "24"
    assert count.canonical_answer("<answer>6 * 4</answer>", **row) is None  # uses other numbers: no vote
    assert not hasattr(rewards.build("format_reward"), "canonical_answer")


class StandInEngine:
    """Stands in for TRL's VLLMGeneration: records the sampling settings each call saw."""

    def __init__(self):
        self.temperature, self.top_p, self.top_k, self.min_p = 1.0, 0.9, 50, 0.1
        self.repetition_penalty, self.max_completion_length = 1.1, 99
        self.calls = []

    def generate(self, prompts, images, num_generations):
        self.calls.append({"prompts": prompts, "num_generations": num_generations, "temperature": self.temperature,
                           "top_k": self.top_k, "max_completion_length": self.max_completion_length})
        return prompts, [[7, 8, 0, 5] if i % 2 == 0 else [9] * self.max_completion_length
                         for i in range(len(prompts))], None, None


def test_vllm_generation_goes_through_the_engine_with_eval_settings_then_restores_them():
    from tests.tiny import make_tokenizer

    tokenizer = make_tokenizer()
    engine = StandInEngine()
    greedy = generate_vllm(engine, tokenizer, ["ab", "c"], max_new_tokens=4, eos_ids=[0])
    sampled = generate_vllm(engine, tokenizer, ["ab", "c"], max_new_tokens=4, do_sample=True, temperature=0.7,
                            num_return_sequences=3, eos_ids=[0])
    ids = [tokenizer("ab", add_special_tokens=False)["input_ids"], tokenizer("c", add_special_tokens=False)["input_ids"]]
    assert engine.calls[0] == {"prompts": ids, "num_generations": 1, "temperature": 0.0, "top_k": 0,
                               "max_completion_length": 4}
    assert engine.calls[1]["prompts"] == [ids[0]] * 3 + [ids[1]] * 3
    assert engine.calls[1]["num_generations"] == 3 and engine.calls[1]["temperature"] == 0.7
    assert (engine.temperature, engine.top_p, engine.top_k, engine.max_completion_length) == (1.0, 0.9, 50, 99)
    assert [g.ids for g in greedy] == [[7, 8], [9] * 4]  # cut at the eos id
    assert [g.truncated for g in greedy] == [False, True]
    assert len(sampled) == 6


def test_the_callback_evaluates_through_the_trainers_vllm_engine(tmp_path, monkeypatch):
    """With use_vllm the callback syncs the engine's weights once per step and generates through it."""
    from types import SimpleNamespace

    from rl_reasoner.callback import BehaviourCallback
    from rl_reasoner.config import JobConfig
    from rl_reasoner.rundir import RunDir
    from tests.tiny import make_tokenizer

    tokenizer = make_tokenizer()
    engine = StandInEngine()
    engine.sync_weights = lambda: engine.calls.append("sync")
    config = JobConfig()
    config.eval.k = 1
    config.eval.num_examples = 3
    config.behaviour.num_probes = 0
    rows = [{"id": str(i), "prompt": f"q{i}", "answer": "5", "question": f"q{i}"} for i in range(3)]
    job = SimpleNamespace(config=config, train_rows=[], eval_rows=rows, tokenizer=tokenizer,
                          accuracy_reward=rewards.build("math_accuracy"), format_reward=None, reward_funcs=[],
                          accuracy_reward_name="math_accuracy", max_new_tokens=4)
    accelerator = SimpleNamespace(process_index=0, num_processes=1, is_main_process=True)
    trainer = SimpleNamespace(use_vllm=True, vllm_generation=engine, state=SimpleNamespace(global_step=5),
                              _last_loaded_step=4, accelerator=accelerator, eos_token_ids=[0])
    run = RunDir(tmp_path / "run")
    run.create()
    callback = BehaviourCallback(run, job, trainer)
    summary = callback.evaluate(5)
    assert engine.calls[0] == "sync" and trainer._last_loaded_step == 5
    assert [c["num_generations"] for c in engine.calls[1:]] == [1, 4]  # greedy, then n = 4k samples
    assert summary["accuracy"]["n"] == 3
    evals = [json.loads(line) for line in (tmp_path / "run" / "eval.jsonl").read_text().splitlines()]
    assert {"ci_low", "ci_high", "n"} <= set(next(e for e in evals if e["metric"] == "accuracy"))
    callback.evaluate(5)
    assert engine.calls.count("sync") == 1  # same step: weights already there


def test_shards_are_equal_and_gathering_restores_the_held_out_order(tmp_path):
    from types import SimpleNamespace

    from rl_reasoner.callback import BehaviourCallback

    callback = BehaviourCallback.__new__(BehaviourCallback)
    rows = [{"id": i} for i in range(5)]
    shards = []
    for rank in (0, 1):
        callback.trainer = SimpleNamespace(accelerator=SimpleNamespace(process_index=rank, num_processes=2))
        shards.append(callback._shard(rows))
    assert [[r["id"] for r in shard] for shard, _ in shards] == [[0, 2, 4], [1, 3, 3]]
    assert [pad for _, pad in shards] == [0, 1]


# -- config checks, before any model is loaded ------------------------------------------------------------------


def write_job(tmp_path, **sections):
    job = {"task": {"name": "arithmetic"}, **sections}
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    return path


def test_duplicate_reward_names_are_refused_with_how_to_name_them_apart(tmp_path):
    path = write_job(tmp_path, rewards=[{"name": "math_accuracy"},
                                        {"name": "math_accuracy", "params": {"fallback_last_number": True}}])
    with pytest.raises(ConfigError, match=r"rewards\[1\].*already used by rewards\[0\].*label"):
        load_config(path)
    path = write_job(tmp_path, rewards=[{"name": "math_accuracy"},
                                        {"name": "math_accuracy", "label": "lenient_accuracy",
                                         "params": {"fallback_last_number": True}}],
                     run={"accuracy_reward": "lenient_accuracy"})
    assert load_config(path).rewards[1].key == "lenient_accuracy"


def test_accuracy_and_format_reward_must_name_a_reward_even_the_tasks_defaults(tmp_path):
    with pytest.raises(ConfigError, match="run.accuracy_reward.*default rewards"):
        load_config(write_job(tmp_path, run={"accuracy_reward": "math_acuracy"}))
    with pytest.raises(ConfigError, match="run.format_reward"):
        load_config(write_job(tmp_path, run={"format_reward": "fromat"}))
    load_config(write_job(tmp_path, run={"format_reward": None}))
    load_config(write_job(tmp_path, rewards=[{"name": "math_accuracy"}]))  # the default format_reward: optional


def test_whole_groups_and_samples_are_checked_when_loading(tmp_path):
    with pytest.raises(ConfigError, match="whole groups"):
        load_config(write_job(tmp_path, sampling={"dynamic": True},
                              grpo={"num_generations": 4, "per_device_train_batch_size": 6}))
    with pytest.raises(ConfigError, match="eval.samples"):
        load_config(write_job(tmp_path, eval={"k": 4, "samples": 2}))


def test_a_bad_pass_rate_file_fails_before_the_model_loads(tmp_path, tiny_model_dir, monkeypatch):
    import rl_reasoner.train as train_module

    monkeypatch.setattr(train_module, "load_model", lambda *a, **k: pytest.fail("the model was loaded"))
    rates = tmp_path / "rates.json"
    rates.write_text(json.dumps({"meta": {"samples": 4}, "pass_rates": {"not-an-id": 0.5}}))
    common = dict(model={"name": str(tiny_model_dir)}, task={"name": "arithmetic", "params": {"num_train": 8,
                                                                                              "num_eval": 4}},
                  run={"output_dir": str(tmp_path / "runs")})
    for content, match in ((None, "no pass-rate file"), ("{", "not a pass-rate file"), (rates, "none of this job")):
        target = tmp_path / "missing.json" if content is None else rates
        if isinstance(content, str):
            target = tmp_path / "torn.json"
            target.write_text(content)
        path = write_job(tmp_path, **common, sampling={"curriculum": True, "pass_rates": str(target)})
        with pytest.raises((ConfigError, FileNotFoundError), match=match):
            train_module.train(load_config(path))
