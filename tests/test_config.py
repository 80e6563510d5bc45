import pytest

from rl_reasoner.config import ConfigError, load_config

DEFAULT = "configs/default.yaml"


def write(tmp_path, text, name="job.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_default_config_loads_with_documented_sections():
    cfg = load_config(DEFAULT)
    assert cfg.model.name == "embedded:smollm2-135m"
    assert cfg.task.name == "arithmetic"
    assert [r.name for r in cfg.rewards][:2] == ["math_accuracy", "format_reward"]
    assert cfg.run.name == "default"  # from the file name
    assert cfg.grpo["num_generations"] == 8


def test_overrides_set_nested_values_and_list_items():
    cfg = load_config(DEFAULT, ["run.steps=7", "grpo.learning_rate=1e-6", "rewards.1.weight=0.25",
                                "task.params.max_value=9", "model.lora={r: 8}"])
    assert cfg.run.steps == 7
    assert cfg.grpo["learning_rate"] == 1e-6
    assert cfg.rewards[1].weight == 0.25
    assert cfg.task.params["max_value"] == 9
    assert cfg.model.lora == {"r": 8}


def test_unknown_key_names_file_key_and_suggestion(tmp_path):
    path = write(tmp_path, "run:\n  stesp: 3\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(path) in str(e.value) and "run.stesp" in str(e.value) and "'steps'" in str(e.value)


def test_unknown_grpo_field_suggests_the_nearest(tmp_path):
    path = write(tmp_path, "grpo:\n  learning_rat: 0.1\n")
    with pytest.raises(ConfigError,
                       match=r"grpo\.learning_rat: not a trl\.GRPOConfig field\. Did you mean 'learning_rate'\?"):
        load_config(path)


def test_any_grpo_field_passes_through(tmp_path):
    path = write(tmp_path, "grpo:\n  loss_type: dr_grpo\n  epsilon_high: 0.28\n  mask_truncated_completions: true\n")
    assert load_config(path).grpo == {"loss_type": "dr_grpo", "epsilon_high": 0.28, "mask_truncated_completions": True}


@pytest.mark.parametrize("text, key, expected", [
    ("run:\n  steps: ten\n", "run.steps", "expected int"),
    ("run:\n  steps: true\n", "run.steps", "expected int"),
    ("grpo:\n  learning_rate: fast\n", "grpo.learning_rate", "expected float"),
    ("grpo:\n  num_generations: 2.5\n", "grpo.num_generations", "expected int"),
    ("model:\n  dtype: float8\n", "model.dtype", "expected one of"),
    ("rewards:\n  - weight: 1.0\n", "rewards[0].name", "required value is missing"),
    ("rewards: math_accuracy\n", "rewards", "expected a list"),
    ("task:\n  name: arithmetc\n", "task.name", "mean 'arithmetic'"),
    ("grpo:\n  max_steps: 3\n", "grpo.max_steps", "use run.steps"),
])
def test_bad_values_name_the_key_and_what_was_expected(tmp_path, text, key, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    message = str(e.value)
    assert message.startswith(f"{path}: {key}"), message
    assert expected in message


def test_malformed_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "run: [unclosed\n"))
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="expected key.path=value"):
        load_config(DEFAULT, ["run.steps"])


def test_float_strings_in_yaml_1_1_are_accepted(tmp_path):
    # PyYAML reads 3e-5 (no dot) as a string; a researcher writes it anyway.
    assert load_config(write(tmp_path, "grpo:\n  learning_rate: 3e-5\n")).grpo["learning_rate"] == 3e-5
