"""Memory options reach TRL as configured: LoRA (peft), gradient checkpointing, bf16, reference model only if beta > 0.

Each test builds the job's trainer with ``rl_reasoner.train.build_trainer``, as ``train()`` does, on the tiny model, and looks at what
TRL made of the config. Peak memory per option is measured by ``bench/memory_options.py`` (docs/scaling.md).
"""

import pytest
import torch
import yaml

from rl_reasoner.config import load_config
from rl_reasoner.job import prepare
from rl_reasoner.train import build_trainer as build_job_trainer, train


def build_trainer(config):
    """The trainer `train()` builds, without training."""
    return build_job_trainer(config, prepare(config))


def job(tmp_path, model_dir, *, model=None, grpo=None, steps=1):
    raw = {
        "model": {"name": str(model_dir), "dtype": "float32", **(model or {})},
        "task": {"name": "arithmetic", "params": {"max_value": 9, "num_train": 8, "num_eval": 2},
                 "template": "plain", "chat": False},
        "rewards": [{"name": "math_accuracy"}],
        "grpo": {"num_generations": 4, "per_device_train_batch_size": 4, "max_completion_length": 8,
                 "beta": 0.0, "gradient_checkpointing": False, **(grpo or {})},
        "run": {"name": "mem", "output_dir": str(tmp_path / "runs"), "steps": steps},
        "behaviour": {"num_probes": 0, "samples_per_step": 0},
        "eval": {"num_examples": 1, "at_start": False},
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_config(path)


def test_no_reference_model_when_beta_is_zero(tmp_path, tiny_model_dir):
    trainer = build_trainer(job(tmp_path, tiny_model_dir, grpo={"beta": 0.0}))
    assert trainer.ref_model is None


def test_beta_above_zero_adds_a_frozen_copy_of_the_initial_model(tmp_path, tiny_model_dir):
    trainer = build_trainer(job(tmp_path, tiny_model_dir, grpo={"beta": 0.04}))
    ref, policy = trainer.ref_model, trainer.accelerator.unwrap_model(trainer.model)
    assert ref is not None and ref is not policy
    policy_weights = dict(policy.named_parameters())
    for name, weight in ref.named_parameters():
        assert weight.data_ptr() != policy_weights[name].data_ptr(), "the reference shares memory with the policy"
        assert torch.equal(weight, policy_weights[name])


def test_lora_trains_an_adapter_and_needs_no_reference_copy_even_with_beta(tmp_path, tiny_model_dir):
    from peft import PeftModel

    lora = {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]}
    trainer = build_trainer(job(tmp_path, tiny_model_dir, model={"lora": lora}, grpo={"beta": 0.04}))
    assert isinstance(trainer.model, PeftModel)
    assert trainer.ref_model is None  # TRL computes the reference log-probs with the adapter disabled
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in trainer.model.parameters())
    assert 0 < trainable < 0.2 * total
    assert all("lora_" in name for name, p in trainer.model.named_parameters() if p.requires_grad)


@pytest.mark.parametrize("enabled", [True, False])
def test_gradient_checkpointing_follows_the_config(tmp_path, tiny_model_dir, enabled):
    trainer = build_trainer(job(tmp_path, tiny_model_dir, grpo={"gradient_checkpointing": enabled}))
    trainer.train()  # transformers turns checkpointing on when training starts
    assert trainer.accelerator.unwrap_model(trainer.model).is_gradient_checkpointing is enabled


def test_bf16_weights_and_mixed_precision_follow_the_config(tmp_path, tiny_model_dir):
    default = build_trainer(job(tmp_path, tiny_model_dir))
    if not torch.cuda.is_available():
        assert default.args.bf16 is False  # TRL's bf16 default needs a GPU; the job turns it off on CPU
    on_cpu = {} if torch.cuda.is_available() else {"use_cpu": True}  # transformers wants bf16 on CPU said so
    trainer = build_trainer(job(tmp_path, tiny_model_dir, model={"dtype": "bfloat16"}, grpo={"bf16": True, **on_cpu}))
    assert trainer.args.bf16 is True
    assert {p.dtype for p in trainer.model.parameters()} == {torch.bfloat16}


def test_lora_with_beta_and_checkpointing_trains_and_saves_only_the_adapter(tmp_path, tiny_model_dir):
    lora = {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]}
    config = job(tmp_path, tiny_model_dir, model={"lora": lora}, grpo={"beta": 0.04, "gradient_checkpointing": True})
    run = train(config)
    final = run / "final"
    assert (final / "adapter_model.safetensors").is_file() and (final / "adapter_config.json").is_file()
    assert not (final / "model.safetensors").exists()
    metrics = (run / "metrics.jsonl").read_text().splitlines()
    assert len(metrics) == 1 and '"kl"' in metrics[0]  # beta > 0: TRL logs the KL to the reference
