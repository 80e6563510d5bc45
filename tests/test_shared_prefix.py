"""The shared-prompt pass equals TRL's pass: per-token log-probs, entropies, loss and gradients, within float tolerance.

Each test compares against TRL's own code on a tiny random Llama (tests/tiny.py), with prompts of different
lengths (left padding), several groups, temperature != 1, and checks that the shared pass really ran (the backbone saw
one row per distinct prompt), so a silent fallback to TRL's pass cannot make a test pass.
"""

from pathlib import Path

import pytest
import torch

TOL = dict(rtol=1e-4, atol=1e-5)


def reward_length(completions, **kwargs):
    """A reward with spread on random text: the completion length."""
    return [float(len(c)) for c in completions]


PROMPTS = ["What is 1+2?", "Compute the sum of 12 and 30, then say it.", "ab", "Say hello."]


def make_trainer(model_dir: Path, tmp_path: Path, *, shared: bool = True, lora: bool = False, **grpo):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig

    from rl_reasoner.trainer import ReasonerTrainer

    settings = dict(per_device_train_batch_size=8, num_generations=4, max_completion_length=8, max_steps=1,
                    learning_rate=0.1, optim="sgd", temperature=0.7, report_to="none", use_cpu=True, bf16=False,
                    gradient_checkpointing=False, save_strategy="no", logging_steps=1, seed=0, beta=0.0)
    settings.update(grpo)
    peft_config = None
    if lora:
        from peft import LoraConfig

        peft_config = LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, target_modules="all-linear")
    torch.manual_seed(0)
    return ReasonerTrainer(
        model=AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32),
        processing_class=AutoTokenizer.from_pretrained(model_dir), reward_funcs=[reward_length],
        args=GRPOConfig(output_dir=str(tmp_path / "out"), **settings),
        train_dataset=Dataset.from_list([{"prompt": p} for p in PROMPTS]), peft_config=peft_config,
        shared_prompt=shared)


def grouped_batch(tokenizer, groups: int = 3, size: int = 4, completion_length: int = 7, seed: int = 0):
    """Left-padded prompts (each repeated ``size`` times, groups interleaved as after TRL's shuffle) + completions
    with some rows ended early (mask 0 after their end)."""
    generator = torch.Generator().manual_seed(seed)
    prompts = [tokenizer(p)["input_ids"] for p in PROMPTS[:groups]]
    width = max(map(len, prompts))
    order = torch.randperm(groups * size, generator=generator)
    rows = [prompts[i // size] for i in order.tolist()]
    prompt_ids = torch.full((len(rows), width), tokenizer.pad_token_id)
    prompt_mask = torch.zeros(len(rows), width, dtype=torch.long)
    for r, ids in enumerate(rows):
        prompt_ids[r, width - len(ids):] = torch.tensor(ids)
        prompt_mask[r, width - len(ids):] = 1
    completion_ids = torch.randint(2, len(tokenizer), (len(rows), completion_length), generator=generator)
    completion_mask = torch.ones_like(completion_ids)
    for r in range(0, len(rows), 3):
        completion_mask[r, 2 + r % 4:] = 0
    return prompt_ids, prompt_mask, completion_ids, completion_mask


def backbone_batch_sizes(trainer) -> list[int]:
    """Records the batch size of every backbone forward of ``trainer``'s model."""
    model = trainer.model.get_base_model() if hasattr(trainer.model, "get_base_model") else trainer.model
    sizes = []
    model.base_model.register_forward_pre_hook(lambda m, a, k: sizes.append(k["input_ids"].size(0)), with_kwargs=True)
    return sizes


def logps_and_grads(trainer, method, batch, batch_size=None):
    prompt_ids, prompt_mask, completion_ids, completion_mask = batch
    trainer.model.zero_grad()
    logps, entropies, _ = method(trainer, trainer.model, torch.cat([prompt_ids, completion_ids], 1),
                                 torch.cat([prompt_mask, completion_mask], 1), completion_ids.size(1),
                                 batch_size=batch_size, compute_entropy=True)
    loss = (logps * completion_mask).sum() + 0.3 * (entropies * completion_mask).sum()
    loss.backward()
    grads = {n: p.grad.clone() for n, p in trainer.model.named_parameters() if p.grad is not None}
    return logps.detach(), entropies.detach(), grads


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
@pytest.mark.parametrize("batch_size", [None, 5], ids=["one-chunk", "chunks-of-5"])
def test_logps_entropies_and_gradients_equal_trls_pass(tiny_model_dir, tmp_path, lora, batch_size):
    from trl import GRPOTrainer

    from rl_reasoner.trainer import ReasonerTrainer

    trainer = make_trainer(tiny_model_dir, tmp_path, lora=lora)
    assert trainer.shared_prompt
    batch = grouped_batch(trainer.processing_class)
    expected = logps_and_grads(trainer, GRPOTrainer._get_per_token_logps_and_entropies, batch, batch_size)
    sizes = backbone_batch_sizes(trainer)
    got = logps_and_grads(trainer, ReasonerTrainer._get_per_token_logps_and_entropies, batch, batch_size)

    distinct = len({tuple(r) for r in batch[0][: batch_size or 12].tolist()})
    assert sizes[0] == distinct < (batch_size or 12), f"the prompts were not run once each: backbone batches {sizes}"
    torch.testing.assert_close(got[0], expected[0], **TOL)
    torch.testing.assert_close(got[1], expected[1], **TOL)
    assert got[2].keys() == expected[2].keys() and got[2]
    for name in expected[2]:
        torch.testing.assert_close(got[2][name], expected[2][name], **TOL, msg=name)
    masked = batch[3] == 0
    assert torch.all(got[0][masked] == 0) and torch.all(got[0][~masked] < 0)


def trained_weights(trainer) -> dict[str, torch.Tensor]:
    from transformers import set_seed

    set_seed(0)  # the sampling RNG is global: each run starts from the same state
    trainer.train()
    return {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_training_with_accumulation_and_two_iterations_matches_trls_pass(tiny_model_dir, tmp_path, lora):
    """2 optimiser steps of 2 accumulated micro-batches, num_iterations=2 (old log-probs computed), from one generation:
    the same completions, losses and updated weights with the shared pass as with TRL's."""
    grpo = dict(max_steps=2, gradient_accumulation_steps=2, num_iterations=2, per_device_train_batch_size=4)
    reference = make_trainer(tiny_model_dir, tmp_path / "trl", shared=False, lora=lora, **grpo)
    shared = make_trainer(tiny_model_dir, tmp_path / "shared", lora=lora, **grpo)
    prefill_rows = backbone_batch_sizes(shared)
    expected, got = trained_weights(reference), trained_weights(shared)

    assert shared.shared_prompt_passes >= 4 and reference.shared_prompt_passes == 0
    assert min(prefill_rows) < 4, "no forward ran on the distinct prompts only"
    logs = [[h.get(k, 0.0) for h in t.state.log_history if "loss" in h for k in ("loss", "completions/mean_length")]
            for t in (reference, shared)]
    assert len(logs[0]) == 4 and logs[0][1] > 0  # 2 steps: loss, and the completions' length at the first
    torch.testing.assert_close(torch.tensor(logs[1]), torch.tensor(logs[0]), **TOL)
    initial = make_trainer(tiny_model_dir, tmp_path / "initial", lora=lora).model
    before = dict(initial.named_parameters())
    assert any(not torch.equal(expected[n], before[n]) for n in expected), "training did not change the weights"
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], **TOL, msg=name)


def test_generation_prefills_each_prompt_once_and_samples_the_same_tokens(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    from rl_reasoner import shared_prefix

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.padding_side = "left"
    inputs = tokenizer([p for p in PROMPTS[:3] for _ in range(3)], return_tensors="pt", padding=True)
    plain = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    shared = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    shared_prefix.install_generate(shared)
    sizes = []
    shared.model.register_forward_pre_hook(lambda m, a, k: sizes.append(tuple(k["input_ids"].shape)),
                                           with_kwargs=True)
    for config in (GenerationConfig(max_new_tokens=10, do_sample=False),
                   GenerationConfig(max_new_tokens=10, do_sample=True, temperature=1.0)):
        config.pad_token_id = tokenizer.pad_token_id
        torch.manual_seed(1)
        expected = plain.generate(**inputs, generation_config=config)
        torch.manual_seed(1)
        got = shared.generate(**inputs, generation_config=config)
        assert torch.equal(got, expected)
    width = inputs["input_ids"].size(1)
    assert sizes[0] == (3, width - 1) and sizes[1] == (9, 1), sizes[:2]


def test_evaluation_samples_share_one_prefill_per_prompt_and_equal_generates_own(tiny_model_dir):
    """Held-out sampling (pass@k from n samples) prefills each prompt once, with the same samples as
    ``generate(num_return_sequences=n)`` gives under the same seed."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rl_reasoner.evaluate import generate

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    plain = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    sizes = []
    model.model.register_forward_pre_hook(lambda m, a, k: sizes.append(tuple(k["input_ids"].shape)), with_kwargs=True)
    tokenizer.padding_side = "left"
    inputs = tokenizer(PROMPTS[:3], return_tensors="pt", padding=True, add_special_tokens=False)
    torch.manual_seed(3)
    expected = plain.generate(**inputs, max_new_tokens=6, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                              num_return_sequences=4, pad_token_id=tokenizer.pad_token_id)
    expected = [row[inputs["input_ids"].size(1):].tolist() for row in expected]
    torch.manual_seed(3)
    got = generate(model, tokenizer, PROMPTS[:3], max_new_tokens=6, do_sample=True, temperature=1.0,
                   num_return_sequences=4, batch_size=3)
    eos = tokenizer.eos_token_id
    assert [g.ids for g in got] == [row[:row.index(eos)] if eos in row else row for row in expected]
    width = inputs["input_ids"].size(1)
    assert sizes[0] == (3, width - 1) and sizes[1] == (12, 1), sizes[:2]  # 3 prompts prefilled once, 12 rows decode


def test_generation_over_several_batches_shows_its_progress(tiny_model_dir, capsys):
    """Held-out evaluation of 200 prompts takes minutes on a CPU: each batch says how far it got; one batch says
    nothing."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rl_reasoner.evaluate import generate

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    got = generate(model, tokenizer, PROMPTS[:3], max_new_tokens=2, batch_size=2)
    assert len(got) == 3
    lines = [line for line in capsys.readouterr().out.splitlines() if "generated" in line]
    assert [line.split("generated ")[1].split(" ")[0] for line in lines] == ["2/3", "3/3"]
    generate(model, tokenizer, PROMPTS[:3], max_new_tokens=2, batch_size=3)
    assert "generated" not in capsys.readouterr().out


def test_the_cache_name_is_the_installed_transformers_own():
    """The cache goes in and comes out under one name (``cache`` from transformers 5.24, ``past_key_values`` before);
    a release that named them apart would send the prefilled cache into ``**kwargs`` unseen."""
    import inspect

    from transformers import LlamaForCausalLM, LlamaModel

    from rl_reasoner.shared_prefix import CACHE

    assert CACHE in inspect.signature(LlamaModel.forward).parameters
    assert CACHE in inspect.signature(LlamaForCausalLM.forward).parameters


def test_off_with_a_message_where_it_cannot_be_exact(tiny_model_dir, tmp_path, capsys):
    from transformers import AutoModelForCausalLM

    from rl_reasoner.shared_prefix import unsupported_reason

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert unsupported_reason(model) is None
    model.config._attn_implementation = "flash_attention_2"
    assert "flash_attention_2" in unsupported_reason(model)

    trainer = make_trainer(tiny_model_dir, tmp_path, gradient_checkpointing=True)
    assert "no-gradient passes only" in capsys.readouterr().out
    sizes = backbone_batch_sizes(trainer)
    from rl_reasoner.trainer import ReasonerTrainer

    logps_and_grads(trainer, ReasonerTrainer._get_per_token_logps_and_entropies, grouped_batch(trainer.processing_class))
    assert sizes == [12] and trainer.shared_prompt_passes == 0  # TRL's pass, full rows, under checkpointing

    off = make_trainer(tiny_model_dir, tmp_path / "off", shared=False)
    assert not off.shared_prompt


@pytest.mark.slow
def test_two_processes_train_the_same_weights_as_trls_pass(tmp_path, tiny_model_dir):
    """DDP over 2 CPU processes (gloo): the shared pass runs inside DDP's one forward, and the final weights equal
    those of the same job with TRL's pass."""
    from safetensors.torch import load_file
    from test_distributed import job_file, launch_two_ranks

    grpo = {"num_generations": 4, "per_device_train_batch_size": 4, "max_completion_length": 8,
            "learning_rate": 0.1, "optim": "sgd", "save_steps": 100, "beta": 0.0, "gradient_checkpointing": False,
            "gradient_accumulation_steps": 2, "num_iterations": 2}
    weights, passes = {}, {}
    for shared in (False, True):
        folder = tmp_path / str(shared)
        folder.mkdir()
        model = {"name": str(tiny_model_dir), "dtype": "float32", "shared_prompt": shared}
        ranks = launch_two_ranks(folder, job_file(folder, tiny_model_dir, grpo=grpo, model=model))
        assert [r["world_size"] for r in ranks] == [2, 2] and ranks[0]["weights"] == ranks[1]["weights"]
        passes[shared] = [r["shared_prompt_passes"] for r in ranks]
        weights[shared] = load_file(folder / "runs" / "dist" / "final" / "model.safetensors")
    assert passes[False] == [0, 0] and min(passes[True]) >= 4
    initial = load_file(tiny_model_dir / "model.safetensors")
    assert any(not torch.equal(weights[False][n], initial[n]) for n in initial)
    for name in weights[False]:
        torch.testing.assert_close(weights[True][name], weights[False][name], **TOL, msg=name)
