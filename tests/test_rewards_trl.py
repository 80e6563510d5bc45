"""The rewards work unchanged when handed to a bare `trl.GRPOTrainer`."""

import pytest

import rewards


@pytest.fixture
def trainer_for(tiny_model_dir, tmp_path):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    def make(reward_funcs):
        dataset = Dataset.from_list(
            [
                {"prompt": "1+1=", "answer": "2"},
                {"prompt": "half of 1 is ", "answer": r"\frac{1}{2}"},
            ]
        )
        args = GRPOConfig(
            output_dir=str(tmp_path / "out"),
            per_device_train_batch_size=4,
            num_generations=4,
            max_completion_length=8,
            max_steps=1,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            bf16=False,
            seed=0,
        )
        return GRPOTrainer(
            model=AutoModelForCausalLM.from_pretrained(tiny_model_dir),
            processing_class=AutoTokenizer.from_pretrained(tiny_model_dir),
            reward_funcs=reward_funcs,
            args=args,
            train_dataset=dataset,
        )

    return make


def test_bare_grpo_trainer_trains_one_step_with_our_rewards(trainer_for):
    trainer = trainer_for([rewards.math_accuracy, rewards.format_reward])
    logged_reasons = {}
    original = trainer._log_completion_extra

    def spy(column, values):
        logged_reasons.setdefault(column, []).extend(values)
        original(column, values)

    trainer._log_completion_extra = spy
    trainer.train()

    logs = {key for entry in trainer.state.log_history for key in entry}
    assert "rewards/math_accuracy/mean" in logs
    assert "rewards/format_reward/mean" in logs
    completions_scored = 4 * trainer.args.steps_per_generation
    assert len(logged_reasons["reason/math_accuracy"]) == completions_scored
    assert len(logged_reasons["reason/format_reward"]) == completions_scored
    assert set(logged_reasons["reason/format_reward"]) <= {
        "ok", "missing_think", "multiple_think", "missing_answer", "multiple_answer", "tags_out_of_order",
        "text_before_think", "empty_think", "text_between_blocks", "empty_answer", "text_after_answer",
    }


def test_bare_grpo_trainer_accepts_built_rewards(trainer_for):
    built = [
        rewards.build({"name": "math_accuracy", "params": {"fallback_last_number": True}}),
        rewards.build({"name": "soft_overlong_punishment", "params": {"max_completion_len": 8, "soft_punish_cache": 4}}),
    ]
    trainer = trainer_for(built)
    trainer.train()
    logs = {key for entry in trainer.state.log_history for key in entry}
    assert {"rewards/math_accuracy/mean", "rewards/soft_overlong_punishment/mean"} <= logs
