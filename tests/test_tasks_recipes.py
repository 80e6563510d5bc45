"""Every task recipe in configs/ is a valid job: its config loads, its task params parse, its template and
rewards resolve; the offline recipes also load their data and render a prompt."""

from pathlib import Path

import pytest

import rewards
from rl_reasoner.config import load_config
from rl_reasoner.tasks import get
from rl_reasoner.tasks.base import parse_params
from rl_reasoner.tasks.sources import looks_local
from rl_reasoner.templates import get_template, render

CONFIGS = Path(__file__).parents[1] / "configs"
RECIPES = sorted(p for p in [*CONFIGS.glob("*.yaml"), *CONFIGS.glob("gpu/*.yaml")] if p.name != "default.yaml")
OFFLINE = ("arithmetic", "countdown", "reasoning_gym:", "humaneval", "code_functions")


def test_there_is_a_recipe_for_every_task():
    named = {load_config(path).task.name.split(":")[0] for path in RECIPES}
    assert named >= {"countdown", "reasoning_gym", "humaneval", "code_functions", "gsm8k", "math", "math500", "mbpp", "custom"}


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_recipe_is_a_valid_job(path):
    config = load_config(path)
    spec = get(config.task.name)
    raw = dict(config.task.params)
    if spec.params_preprocessor is not None:
        raw = spec.params_preprocessor(raw)
    params = parse_params(spec.name, spec.params_type, raw)
    template = get_template(config.task.template or spec.default_template)
    for reward in config.rewards or spec.default_rewards:
        reward = reward if isinstance(reward, dict) else {"name": reward.name, "params": reward.params}
        rewards.build(reward)  # an unknown reward name fails here: a recipe that does not load fails its test
    is_gpu = path.parent.name == "gpu"
    if is_gpu or config.model.name.startswith("embedded:"):
        assert config.model.name.startswith("embedded:") != is_gpu
    else:  # a second stage starts from the run another recipe writes: configs/<stage 1>.yaml -> runs/<stage 1>/
        stage1 = Path(config.model.name).relative_to(config.run.output_dir).parts[0]
        assert (CONFIGS / f"{stage1}.yaml").is_file(), f"{path.name} starts from {config.model.name}: no recipe writes it"
    if config.task.name.startswith(OFFLINE) and not is_gpu:
        data = spec.load(config.task.params, seed=config.run.seed)
        assert data.train and data.eval
        assert render(template, data.train[0]["question"]).endswith(template.prefill)
    if is_gpu and config.task.name in ("gsm8k", "math", "math500", "mbpp"):
        assert not looks_local(params.path), "GPU recipes name the hub dataset users run"
